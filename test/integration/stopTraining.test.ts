/**
 * A stop that arrives while training (the engine host's IPC 'stop', or the SIGTERM Slurm sends on requeue,
 * preemption or scancel) fires the abort from a later event-loop turn. On the cpu backend every read resolves as a
 * microtask, so the training loop must yield for it to land: the run then stops after the step under way with a
 * checkpoint of that step, instead of training to the end (a requeued task would restart from scratch).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveRunConfig } from '../../src/shared/config';
import { train } from '../../src/engine/train/trainer';
import { findCheckpoint } from '../../src/engine/train/checkpoint';
import type { EngineMessage } from '../../src/shared/engineMessages';

describe('stopping training on the cpu backend', () => {
  it('a stop from a later event-loop turn ends the run after the step under way, checkpointed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sadpm-stop-cpu-'));
    const cfg = resolveRunConfig({
      preset: 'tiny',
      dataset: 'builtin:shapes',
      batch: 2,
      T: 100,
      k: 2,
      lambda: 1,
      steps: 8,
      logEvery: 1,
      checkpointEvery: 1000,
      gapT0: 10,
      gapBatch: 2,
      sampleN: 2,
      sampleSteps: 5,
      backend: 'cpu',
    });
    const ctl = new AbortController();
    const msgs: EngineMessage[] = [];
    try {
      const res = await train(cfg, {
        runDir: dir,
        signal: ctl.signal,
        skipFinalArtifacts: true,
        sink: (m) => {
          msgs.push(m);
          // As the host's message handler or SIGTERM listener would: not within the loop's own turn.
          if (m.type === 'progress' && m.step === 2) setImmediate(() => ctl.abort());
        },
      });
      const started = msgs.find((m) => m.type === 'started');
      expect(started).toMatchObject({ backend: 'cpu' });
      expect(res.reason).toBe('stopped');
      expect(res.step).toBeLessThanOrEqual(3);
      expect(findCheckpoint(dir, 'latest').step).toBe(res.step);
      expect(msgs.at(-1)).toMatchObject({ type: 'finished', reason: 'stopped', step: res.step });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
