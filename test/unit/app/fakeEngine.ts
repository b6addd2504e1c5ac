/**
 * A scripted stand-in for the engine process (the process boundary only): it answers commands with
 * engine messages the way src/engine/host.ts does, so queue, IPC and web-mode logic can be tested
 * without starting tfjs. The real engine process is covered by the CLI and e2e tests.
 */
import type { EngineCommand, HostMessage } from '../../../src/shared/engineMessages';
import type { EngineProcess, SpawnEngine } from '../../../src/app/engineProcess';
import { writeCheckpoint } from '../../../src/engine/train/checkpoint';
import { parseRunConfig } from '../../../src/shared/config';
import { readCheckpointHeader } from '../../../src/engine/train/checkpoint';
import { writeCovCheckpoint } from '../../../src/engine/train/covCheckpoint';
import { timestepSequence } from '../../../src/engine/diffusion/spacing';
import { parseCovConfig } from '../../../src/shared/covConfig';
import { gammaKey } from '../../../src/shared/gammaEstimate';

export interface FakeEngineLog {
  spawned: number;
  commands: EngineCommand[];
}

export function fakeSpawner(log: FakeEngineLog, opts: { stepsPerTick?: number } = {}): SpawnEngine {
  return () => {
    log.spawned += 1;
    let onMsg: (m: HostMessage) => void = () => {};
    let onExit: (code: number | null, signal: string | null) => void = () => {};
    let timer: NodeJS.Timeout | undefined;
    let stopping = false;
    const exit = (code: number | null, signal: string | null = null) => {
      if (timer) clearInterval(timer);
      setImmediate(() => onExit(code, signal));
    };
    const proc: EngineProcess = {
      pid: 100000 + log.spawned,
      stderrTail: () => '',
      onMessage: (fn) => (onMsg = fn),
      onExit: (fn) => (onExit = fn),
      kill: () => exit(null, 'SIGKILL'),
      send: (cmd) => {
        log.commands.push(cmd);
        if (cmd.cmd === 'train') {
          const cfg = cmd.config as { steps: number; checkpointEvery: number };
          let step = cmd.resumeFrom ? Number(/(\d+)\.sadpm-ck$/.exec(cmd.resumeFrom)?.[1] ?? 0) : 0;
          onMsg({
            type: 'started',
            runDir: cmd.runDir,
            step,
            totalSteps: cfg.steps,
            backend: 'fake',
            adapter: 'fake adapter',
            params: 10,
            datasetCount: 4,
            resumed: step > 0,
          });
          timer = setInterval(() => {
            for (let i = 0; i < (opts.stepsPerTick ?? 1); i++) {
              step += 1;
              onMsg({
                type: 'progress',
                step,
                totalSteps: cfg.steps,
                loss: 1 / step,
                simple: 0.5 / step,
                sa: 0.5 / step,
                gradNorm: 1,
                lr: 1e-3,
                imagesPerSec: 10,
                msPerStep: 5,
                etaSec: 0,
                memory: { numTensors: 1, numBytes: 1 },
              });
              const last = step >= cfg.steps;
              if (step % cfg.checkpointEvery === 0 || last || stopping) {
                // A real (one-weight) checkpoint file, so resume checks that read headers pass.
                const path = `${cmd.runDir}/checkpoints/ckpt-${String(step).padStart(7, '0')}.sadpm-ck`;
                const one = [new Float32Array([step])];
                const bytes = writeCheckpoint(path, {
                  step,
                  config: parseRunConfig(cmd.config),
                  backend: 'fake',
                  adamCount: step,
                  names: ['w'],
                  shapes: [[1]],
                  params: one,
                  ema: one,
                  adamM: one,
                  adamV: one,
                  metrics: {},
                });
                onMsg({ type: 'checkpoint', step, path, bytes });
              }
              if (last || stopping) {
                onMsg({ type: 'finished', step, reason: last ? 'completed' : 'stopped', runDir: cmd.runDir });
                exit(0);
                return;
              }
            }
          }, 5);
        } else if (cmd.cmd === 'stop') {
          stopping = true;
        } else if (cmd.cmd === 'exit') {
          exit(0);
        } else if (cmd.cmd === 'trainCov' || cmd.cmd === 'gamma' || cmd.cmd === 'sample') {
          // Issue 13: covariance-head runs, Γ estimates and the sample job.
          const stop = fakeVarianceCommand(
            cmd,
            (m) => onMsg(m),
            exit,
            () => stopping,
          );
          if (stop) timer = stop;
        }
      },
    };
    return proc;
  };
}

/**
 * Issue 13's commands: 'trainCov' steps like 'train' and writes real (one-weight) covariance checkpoints; 'gamma'
 * and 'sample' answer as jobs. The Γ values are placeholders (0.5): these tests are about the process boundary,
 * the cache and the store, not the estimate (test/unit/diffusion/analytic.test.ts checks that).
 */
function fakeVarianceCommand(
  cmd: Extract<EngineCommand, { cmd: 'trainCov' | 'gamma' | 'sample' }>,
  send: (m: HostMessage) => void,
  exit: (code: number | null) => void,
  stopping: () => boolean,
): NodeJS.Timeout | undefined {
  const estimate = (checkpointPath: string, ema: boolean, nImages: number, seed: number, traj?: number[]) => {
    const h = readCheckpointHeader(checkpointPath);
    const T = parseRunConfig(h.config).T;
    const trajectory = traj ?? [];
    const parts = { checkpointStep: h.step, ema, T, trajectory, nImages, seed };
    return { kind: 'sadpm-gamma', version: 1, key: gammaKey(parts), ...parts, gamma: trajectory.map(() => 0.5) };
  };
  if (cmd.cmd === 'gamma') {
    const { checkpointPath, ema, nImages, seed, trajectory } = cmd.job;
    const result = estimate(checkpointPath, ema, nImages, seed, trajectory);
    setImmediate(() => send({ type: 'jobDone', jobId: cmd.jobId, ok: true, result }));
    return undefined;
  }
  if (cmd.cmd === 'sample') {
    const j = cmd.job;
    const step = readCheckpointHeader(j.checkpointPath).step;
    const T = parseRunConfig(readCheckpointHeader(j.checkpointPath).config).T;
    const path = j.out ?? `${j.runDir}/samples/fake-${j.sampler}.png`;
    const msg = { type: 'samples', step, path, n: j.n, sampler: j.sampler, sampleSteps: j.steps, ema: j.ema };
    const g = j.gammaEstimate;
    const traj = timestepSequence(T, j.steps, j.spacing);
    const made = g ? { gamma: estimate(j.checkpointPath, j.ema, g.nImages, g.seed, traj) } : {};
    setImmediate(() => send({ type: 'jobDone', jobId: cmd.jobId, ok: true, result: { ...msg, ...made } }));
    return undefined;
  }
  const cfg = parseCovConfig(cmd.config);
  let step = cmd.resumeFrom ? Number(/(\d+)\.sadpm-cov$/.exec(cmd.resumeFrom)?.[1] ?? 0) : 0;
  const started = { type: 'started', runDir: cmd.runDir, step, totalSteps: cfg.steps, backend: 'fake' } as const;
  send({ ...started, adapter: 'fake adapter', params: 4, datasetCount: 4, resumed: step > 0 });
  const timer = setInterval(() => {
    step += 1;
    const memory = { numTensors: 1, numBytes: 1 };
    const m = { loss: 1 / step, simple: 2 / step, sa: 0, gradNorm: 1, lr: cfg.lr, imagesPerSec: 10, msPerStep: 5 };
    send({ type: 'progress', step, totalSteps: cfg.steps, ...m, etaSec: 0, memory });
    const last = step >= cfg.steps;
    if (step % cfg.checkpointEvery === 0 || last || stopping()) {
      const path = `${cmd.runDir}/checkpoints/cov-${String(step).padStart(7, '0')}.sadpm-cov`;
      const one = [new Float32Array([step])];
      const head = { kind: cfg.kind, mode: 'simple', inChannels: 1, outChannels: 1, groups: 1 } as const;
      const ck = { step, config: cfg, head, backend: 'fake', adamCount: step, names: ['w'], shapes: [[1]] };
      const bytes = writeCovCheckpoint(path, { ...ck, params: one, ema: one, adamM: one, adamV: one, metrics: {} });
      send({ type: 'checkpoint', step, path, bytes });
    }
    if (last || stopping()) {
      send({ type: 'finished', step, reason: last ? 'completed' : 'stopped', runDir: cmd.runDir });
      exit(0);
    }
  }, 5);
  return timer;
}
