/**
 * A tiny trained run in a store, for the evaluation tests: the tiny preset at T = 20, SA-2, two steps of batch 2,
 * one final checkpoint, trained in process and recorded as the app records a run.
 */
import { resolveRunConfig } from '../../src/shared/config';
import { train } from '../../src/engine/train/trainer';
import { RunRecorder } from '../../src/store/recorder';
import type { RunStore } from '../../src/store/runStore';
import type { RunRecord } from '../../src/shared/records';

export async function trainTinyRun(store: RunStore, name: string): Promise<RunRecord> {
  const cfg = resolveRunConfig({
    preset: 'tiny',
    dataset: 'builtin:shapes',
    T: 20,
    k: 2,
    lambda: 1,
    batch: 2,
    steps: 2,
    logEvery: 1,
    checkpointEvery: 1000,
    sampleEvery: 0,
    sampleN: 2,
    sampleSteps: 2,
    gapEvery: 0,
    gapT0: 4,
    gapBatch: 2,
  });
  const run = store.runs.create({ name, config: cfg, appVersion: 'test' });
  store.runs.markRunning(run.id, { pid: process.pid, start: '' });
  const rec = new RunRecorder(store, run.id, { flushMs: 10 });
  await train(cfg, { runDir: run.runDir, sink: (m) => rec.handle(m), signal: new AbortController().signal });
  await rec.idle();
  return store.runs.get(run.id)!;
}
