/**
 * A stop (or pause) that arrives while a run samples its grid or measures the gap takes effect within
 * a few denoising steps: the artifact is abandoned without a file, a checkpoint of the current step is
 * written and the run ends 'stopped'. The abort is fired from a later event-loop turn, as the engine
 * host's IPC handler would, so the loops must yield to let it in. The recorder takes the activity
 * messages in its stride.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend';
import { resolveRunConfig } from '../../src/shared/config';
import { train } from '../../src/engine/train/trainer';
import { readCheckpoint } from '../../src/engine/train/checkpoint';
import { RunStore } from '../../src/store/runStore';
import { RunRecorder } from '../../src/store/recorder';
import type { ActivityMessage, EngineMessage } from '../../src/shared/engineMessages';

beforeAll(async () => {
  await initBackend('auto');
});

const micro = (over: Record<string, unknown>) =>
  resolveRunConfig({
    preset: 'tiny',
    dataset: 'builtin:shapes',
    imageSize: 16,
    channels: 3,
    batch: 2,
    T: 100,
    k: 2,
    lambda: 1,
    steps: 6,
    logEvery: 1,
    checkpointEvery: 1000,
    sampleEvery: 0,
    gapEvery: 0,
    gapT0: 80,
    gapBatch: 2,
    sampleN: 2,
    sampleSteps: 50,
    ...over,
  });

async function stopDuring(kind: 'sampling' | 'gap', over: Record<string, unknown>) {
  const store = RunStore.open(mkdtempSync(join(tmpdir(), 'sadpm-interrupt-')));
  const cfg = micro(over);
  const run = store.runs.create({ name: `stop-in-${kind}`, config: cfg, appVersion: 'test' });
  store.runs.markRunning(run.id, { pid: process.pid, start: '' });
  const rec = new RunRecorder(store, run.id, { flushMs: 50 });
  const ctl = new AbortController();
  const msgs: EngineMessage[] = [];
  let abortedAt: number | null = null;
  const t0 = performance.now();
  let abortMs = 0;
  const res = await train(cfg, {
    runDir: run.runDir,
    signal: ctl.signal,
    sink: (m) => {
      msgs.push(m);
      rec.handle(m);
      if (m.type === 'activity' && m.activity === kind && (m.done ?? 0) >= 3 && abortedAt === null) {
        abortedAt = m.done!;
        abortMs = performance.now();
        setImmediate(() => ctl.abort());
      }
    },
  });
  const stopMs = performance.now() - abortMs;
  const steps = msgs.filter((m): m is ActivityMessage => m.type === 'activity' && m.activity === kind);
  return {
    store,
    run,
    res,
    msgs,
    steps,
    abortedAt: abortedAt as number | null,
    stopMs,
    totalMs: performance.now() - t0,
  };
}

describe('stop during sampling or the gap monitor', () => {
  const sampling =
    'sampling: stops within a few denoising steps, writes no grid, ' + 'checkpoints the step and ends stopped';
  it(sampling, async () => {
    const r = await stopDuring('sampling', { sampleEvery: 2 });
    expect(r.abortedAt).not.toBeNull();
    const last = r.steps.at(-1)!;
    // Progress is thinned in time, so the last reported step bounds how far sampling went on.
    expect(last.done! - r.abortedAt!).toBeLessThanOrEqual(2);
    expect(last.total).toBeGreaterThanOrEqual(50);
    expect(r.res).toMatchObject({ step: 2, reason: 'stopped' });
    const ck = r.msgs.find((m) => m.type === 'checkpoint');
    expect(ck).toMatchObject({ step: 2 });
    expect(readCheckpoint((ck as { path: string }).path).step).toBe(2);
    expect(r.msgs.some((m) => m.type === 'samples')).toBe(false);
    const dir = join(r.run.runDir, 'samples');
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
    expect(r.msgs.at(-1)).toMatchObject({ type: 'finished', reason: 'stopped', step: 2 });
    // What the monitor showed: training, then sampling k/total.
    expect(r.msgs.find((m) => m.type === 'activity')).toMatchObject({ activity: 'training', step: 0 });
    const got = r.store.runs.get(r.run.id)!;
    expect([got.status, got.step]).toEqual(['stopped', 2]);
    expect(r.store.checkpoints.latest(r.run.id)?.step).toBe(2);
    expect(r.store.samples.list(r.run.id)).toEqual([]);
    console.log(
      `stop during sampling: ${r.stopMs.toFixed(0)} ms from the abort to the end of the run (checkpoint included)`,
    );
  });

  it('gap monitor: stops within a few steps, writes no curve, checkpoints the step and ends stopped', async () => {
    const r = await stopDuring('gap', { gapEvery: 2 });
    expect(r.abortedAt).not.toBeNull();
    const last = r.steps.at(-1)!;
    expect(last.done! - r.abortedAt!).toBeLessThanOrEqual(2);
    expect(last.total).toBe(80);
    expect(r.res).toMatchObject({ step: 2, reason: 'stopped' });
    expect(r.msgs.filter((m) => m.type === 'checkpoint').map((m) => (m as { step: number }).step)).toEqual([2]);
    expect(r.msgs.some((m) => m.type === 'gap')).toBe(false);
    const dir = join(r.run.runDir, 'gap');
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
    const got = r.store.runs.get(r.run.id)!;
    expect([got.status, got.step]).toEqual(['stopped', 2]);
    expect(r.store.gaps.list(r.run.id)).toEqual([]);
    console.log(`stop during the gap monitor: ${r.stopMs.toFixed(0)} ms from the abort to the end of the run`);
  });
});

describe('stop between training steps', () => {
  // The engine host delivers 'stop' from an IPC message, a later event-loop turn. On a backend whose reads resolve
  // at once (cpu) a loop that only awaits those reads never lets the message in: `sadpm train --backend cpu`
  // ignored Ctrl-C and SIGTERM until its last step.
  for (const [backend, logEvery] of [
    ['cpu', 1],
    ['cpu', 1000],
    ['auto', 1000],
  ] as const) {
    it(`takes effect after the step in progress (${backend}, logEvery ${logEvery}), with its checkpoint`, async () => {
      const cfg = micro({ steps: 10, logEvery, backend });
      const dir = mkdtempSync(join(tmpdir(), 'sadpm-stop-step-'));
      const ctl = new AbortController();
      let started = false;
      const res = await train(cfg, {
        runDir: dir,
        signal: ctl.signal,
        skipFinalArtifacts: true,
        sink: (m) => {
          if (m.type === 'started' && !started) {
            started = true;
            setImmediate(() => ctl.abort());
          }
        },
      });
      expect(res.reason).toBe('stopped');
      expect(res.step).toBeLessThan(5);
      const ckpts = readdirSync(join(dir, 'checkpoints'));
      expect(ckpts).toEqual([`ckpt-${String(res.step).padStart(7, '0')}.sadpm-ck`]);
    }, 120_000);
  }
  afterAll(async () => {
    await initBackend('auto');
  });
});
