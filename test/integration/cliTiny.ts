/**
 * Running the real `sadpm` CLI from the CLI evaluation tests: a private SADPM_HOME under `dir`, no Inception
 * weights (pixel space), and the flags of a tiny training run (T = 20, two steps, JSON output).
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const BIN = resolve(__dirname, '../../bin/sadpm.mjs');

export const TINY_TRAIN_FLAGS = [
  '--preset',
  'tiny',
  '--T',
  '20',
  '--batch',
  '2',
  '--steps',
  '2',
  '--sample-n',
  '2',
  '--sample-steps',
  '2',
  '--gap-t0',
  '6',
  '--gap-batch',
  '2',
  '--json',
];

/** A runner of `sadpm ARGS` with its home in `dir`: exit code, stdout and stderr. */
export function cliIn(dir: string): (args: string[]) => { code: number | null; stdout: string; stderr: string } {
  const env = {
    ...process.env,
    EGL_PLATFORM: 'surfaceless',
    SADPM_HOME: join(dir, 'home'),
    SADPM_INCEPTION_WEIGHTS: '',
  };
  return (args) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 240_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
}
