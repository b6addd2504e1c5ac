/**
 * A scripted engine process for the evaluation jobs (refStats, eval, gap), at the process boundary only: it answers
 * as src/engine/host.ts does, with numbers a test chooses, so use cases and contract handlers run without tfjs. The
 * real jobs are covered by test/integration/evaluate.test.ts and the CLI test.
 */
import { writeFileSync } from 'node:fs';
import type { EngineCommand, EvalJob, EvalJobResult, HostMessage } from '../../../src/shared/engineMessages';
import type { SpawnEngine } from '../../../src/app/engineProcess';

export interface FakeEvalOptions {
  /** The value of every metric at a step count, per checkpoint file. */
  value?: (checkpointPath: string, sampleSteps: number) => number;
  /** Mean |D_t| of a gap job at t, per checkpoint file. */
  gap?: (checkpointPath: string, t: number) => number;
  /** Eval jobs wait for a cancel instead of answering. */
  hold?: boolean;
}

const PIXEL = { id: 'pixel-8x8' as const, label: 'pixel space 8×8×3 (not Inception)', dim: 192, weightsSha256: null };

/** What the engine reports it used, as artifacts.ts varianceChoice records it (a made estimate: n and seed sent). */
function usedOf(j: EvalJob): Record<string, unknown> {
  if (j.covHead) return { kind: 'head', head: j.sampler.split('-')[0], checkpoint: j.covHead, step: 2 };
  const g = j.gamma as { key: string; nImages: number; seed: number } | undefined;
  if (g) return { kind: 'gamma', key: g.key, nImages: g.nImages, seed: g.seed };
  const e = j.gammaEstimate;
  return e ? { kind: 'gamma', key: `made-n${e.nImages}`, nImages: e.nImages, seed: e.seed } : { kind: 'none' };
}

export function fakeEvalSpawner(commands: EngineCommand[], o: FakeEvalOptions = {}): SpawnEngine {
  const value = o.value ?? ((_p, s) => 100 / s);
  return () => {
    let onMsg: (m: HostMessage) => void = () => {};
    let onExit: (code: number | null, signal: string | null) => void = () => {};
    const send = (m: HostMessage) => setImmediate(() => onMsg(m));
    return {
      pid: 4242,
      stderrTail: () => '',
      onMessage: (fn) => (onMsg = fn),
      onExit: (fn) => (onExit = fn),
      kill: () => setImmediate(() => onExit(null, 'SIGKILL')),
      send: (cmd) => {
        commands.push(cmd);
        if (cmd.cmd === 'exit') setImmediate(() => onExit(0, null));
        else if (cmd.cmd === 'cancel') send({ type: 'jobDone', jobId: cmd.jobId, ok: false, error: 'cancelled' });
        else if (cmd.cmd === 'refStats') {
          writeFileSync(cmd.job.out, 'reference statistics');
          const count = cmd.job.n ?? 100;
          send({ type: 'jobProgress', jobId: cmd.jobId, done: count, total: count });
          send({
            type: 'jobDone',
            jobId: cmd.jobId,
            ok: true,
            result: { out: cmd.job.out, bytes: 20, count, space: PIXEL },
          });
        } else if (cmd.cmd === 'eval') {
          const j = cmd.job;
          send({ type: 'jobProgress', jobId: cmd.jobId, done: j.n, total: j.n * j.steps.length });
          if (o.hold) return;
          const step = Number(/(\d+)\.sadpm-ck$/.exec(j.checkpointPath)?.[1] ?? 0);
          const rows = j.steps.map((s) => {
            const v = value(j.checkpointPath, s);
            return {
              sampleSteps: s,
              ...(j.metrics.includes('fid') ? { fid: v } : {}),
              ...(j.metrics.includes('kid')
                ? { kid: { mean: v / 1000, std: 0.001, subsets: 100, subsetSize: j.n } }
                : {}),
              ...(j.metrics.includes('pr') ? { precision: 0.5, recall: 0.25 } : {}),
              seconds: 0.5,
              previewPath: `${j.previewDir}/preview-${s}.png`,
            };
          });
          const variance = usedOf(j);
          const result: EvalJobResult = { space: PIXEL, checkpointStep: step, realCount: 100, rows, variance };
          send({ type: 'jobDone', jobId: cmd.jobId, ok: true, result });
        } else if (cmd.cmd === 'gap') {
          const t0 = cmd.job.t0 ?? 4;
          const step = Number(/(\d+)\.sadpm-ck$/.exec(cmd.job.checkpointPath)?.[1] ?? 0);
          const t = Array.from({ length: t0 }, (_, i) => t0 - i);
          const meanAbs = t.map((x) => (o.gap ?? (() => 1))(cmd.job.checkpointPath, x));
          const result = {
            type: 'gap',
            step,
            t0,
            t,
            meanAbs,
            l2: meanAbs,
            signedMean: meanAbs,
            ema: cmd.job.ema,
            n: 2,
          };
          send({ type: 'jobDone', jobId: cmd.jobId, ok: true, result });
        }
      },
    };
  };
}
