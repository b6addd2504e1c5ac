/** Starts and stops `sadpm serve` (web mode) for the end-to-end tests, on a fresh data folder. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

export interface Served {
  url: string;
  proc: ChildProcess;
  stop(): Promise<number | null>;
}

const BIN = resolve('bin/sadpm.mjs');

export function serve(home: string): Promise<Served> {
  const proc = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
    env: { ...process.env, SADPM_HOME: home, EGL_PLATFORM: 'surfaceless' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  // The server's own output goes with the report: it is where a crash would show.
  mkdirSync('test-report', { recursive: true });
  const log = createWriteStream(`test-report/serve-${Date.now()}.log`);
  proc.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
    log.write(b);
  });
  proc.stdout!.on('data', (b: Buffer) => log.write(b));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`sadpm serve did not start in 60 s: ${out}${err}`)), 60_000);
    proc.once('exit', (code) => fail(new Error(`sadpm serve exited with ${code}: ${out}${err}`)));
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /open: (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        ok({
          url: m[1]!,
          proc,
          stop: () =>
            new Promise((done) => {
              proc.once('exit', (code) => done(code));
              proc.kill('SIGINT');
            }),
        });
      }
    });
  });
}
