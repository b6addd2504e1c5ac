/** The engine in an Electron utilityProcess (a Node child that dies with the app). */
import { utilityProcess } from 'electron';
import { join } from 'node:path';
import { parseHostMessage, type SpawnEngine } from '../app/engineProcess';

export function utilityEngineSpawner(mainDir: string): SpawnEngine {
  return () => {
    const child = utilityProcess.fork(join(mainDir, 'engineHost.js'), [], {
      serviceName: 'SA-DPM engine',
      stdio: ['ignore', 'inherit', 'pipe'],
      env: { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless' },
    });
    let tail = '';
    child.stderr?.on('data', (b: Buffer) => {
      tail = (tail + b.toString('utf8')).slice(-4000);
    });
    const exitFns: ((code: number | null, signal: string | null) => void)[] = [];
    child.on('exit', (code) => {
      for (const fn of exitFns) fn(code, null);
    });
    return {
      get pid() {
        return child.pid;
      },
      stderrTail: () => tail,
      send: (cmd) => child.postMessage(cmd),
      onMessage: (fn) => child.on('message', (m: unknown) => fn(parseHostMessage(m))),
      onExit: (fn) => exitFns.push(fn),
      kill: () => child.kill(),
    };
  };
}
