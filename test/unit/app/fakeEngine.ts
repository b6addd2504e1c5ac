/**
 * A scripted stand-in for the engine process (the process boundary only): it answers commands with
 * engine messages the way src/engine/host.ts does, so queue, IPC and web-mode logic can be tested
 * without starting tfjs. The real engine process is covered by the CLI and e2e tests.
 */
import type { EngineCommand, HostMessage } from '../../../src/shared/engineMessages';
import type { EngineProcess, SpawnEngine } from '../../../src/app/engineProcess';
import { writeCheckpoint } from '../../../src/engine/train/checkpoint';
import { parseRunConfig } from '../../../src/shared/config';

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
          onMsg({ type: 'started', runDir: cmd.runDir, step, totalSteps: cfg.steps, backend: 'fake', adapter: 'fake adapter', params: 10, datasetCount: 4, resumed: step > 0 });
          timer = setInterval(() => {
            for (let i = 0; i < (opts.stepsPerTick ?? 1); i++) {
              step += 1;
              onMsg({ type: 'progress', step, totalSteps: cfg.steps, loss: 1 / step, simple: 0.5 / step, sa: 0.5 / step, gradNorm: 1, lr: 1e-3, imagesPerSec: 10, msPerStep: 5, etaSec: 0, memory: { numTensors: 1, numBytes: 1 } });
              const last = step >= cfg.steps;
              if (step % cfg.checkpointEvery === 0 || last || stopping) {
                // A real (one-weight) checkpoint file, so resume checks that read headers pass.
                const path = `${cmd.runDir}/checkpoints/ckpt-${String(step).padStart(7, '0')}.sadpm-ck`;
                const one = [new Float32Array([step])];
                const bytes = writeCheckpoint(path, { step, config: parseRunConfig(cmd.config), backend: 'fake', adamCount: step, names: ['w'], shapes: [[1]], params: one, ema: one, adamM: one, adamV: one, metrics: {} });
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
        }
      },
    };
    return proc;
  };
}
