/**
 * Starting an engine process. Outside Electron (CLI, web mode, tests) it is a child_process.fork of
 * the engine host; inside Electron the composition root passes a spawner built on utilityProcess.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HostMessageSchema, type EngineCommand, type HostMessage } from '../shared/engineMessages';

export interface EngineProcess {
  readonly pid: number | undefined;
  /** The last lines the process wrote to stderr (for a crash report). */
  stderrTail(): string;
  send(cmd: EngineCommand): void;
  onMessage(fn: (msg: HostMessage) => void): void;
  onExit(fn: (code: number | null, signal: string | null) => void): void;
  kill(): void;
}

export type SpawnEngine = () => EngineProcess;

/** The engine host entry: the TypeScript source when running from source, the bundle when built. */
export function hostEntry(): { path: string; execArgv: string[] } {
  const here = import.meta.dirname;
  const built = join(here, 'engineHost.js');
  if (existsSync(built)) return { path: built, execArgv: [] };
  return { path: join(here, '../engine/hostEntry.ts'), execArgv: ['--import', 'tsx'] };
}

/** Validates what comes back: a malformed message is reported, never forwarded. */
export function parseHostMessage(raw: unknown): HostMessage {
  const r = HostMessageSchema.safeParse(raw);
  if (r.success) return r.data;
  return { type: 'log', level: 'error', message: `engine sent a malformed message: ${r.error.message.slice(0, 300)}` };
}

export const forkEngine: SpawnEngine = () => {
  const entry = hostEntry();
  const child = fork(entry.path, [], {
    execArgv: entry.execArgv,
    env: { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless' },
    // Dawn prints adapter warnings on stderr; keep them out of a CLI user's progress bar and keep the
    // tail for a crash report.
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  let tail = '';
  // A send racing the child's exit fails asynchronously; the exit handler reports the end.
  child.on('error', (err) => {
    tail = (tail + `\n[engine process error: ${err.message}]`).slice(-4000);
  });
  child.stderr?.on('data', (b: Buffer) => {
    if (process.env.SADPM_DEBUG) process.stderr.write(b);
    tail = (tail + b.toString('utf8')).slice(-4000);
  });
  return {
    pid: child.pid,
    stderrTail: () => tail,
    send: (cmd) => {
      if (child.connected) child.send(cmd);
    },
    onMessage: (fn) => child.on('message', (m) => fn(parseHostMessage(m))),
    onExit: (fn) => child.on('exit', (code, signal) => fn(code, signal)),
    kill: () => child.kill('SIGKILL'),
  };
};
