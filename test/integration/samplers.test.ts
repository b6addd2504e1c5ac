/**
 * Issue 13 end to end through the CLI on a tiny run: every sampler writes a grid whose sidecar names it and the
 * Γ estimate or head it used; a Γ estimate is made once and then read from the cache (its key printed); a
 * covariance head trains as a child run, and one killed after a later checkpoint resumes to the same losses
 * per step as an uninterrupted one.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SAMPLER_NAMES } from '../../src/shared/config';
import type { RunRecord } from '../../src/shared/records';

const BIN = resolve(__dirname, '../../bin/sadpm.mjs');
const dir = mkdtempSync(join(tmpdir(), 'sadpm-samplers-'));
const env = { ...process.env, EGL_PLATFORM: 'surfaceless', SADPM_HOME: join(dir, 'home') };
const tiny = [
  '--preset',
  'tiny',
  '--T',
  '20',
  '--batch',
  '2',
  '--steps',
  '2',
  '--checkpoint-every',
  '2',
  '--sample-n',
  '2',
  '--sample-steps',
  '2',
  '--gap-t0',
  '4',
  '--gap-batch',
  '2',
  '--log-every',
  '1',
];
const head = ['--batch', '2', '--checkpoint-every', '2', '--log-every', '1'];

function sadpm(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[]): string {
  const r = sadpm(args);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

const runs = (): RunRecord[] => JSON.parse(ok(['runs', '--json']));
const lossOf = (id: number): { steps: number[]; values: number[] } => {
  const out = join(dir, `m${id}.json`);
  ok(['export', String(id), '--format', 'json', '--out', out]);
  return JSON.parse(readFileSync(out, 'utf8')).metrics.loss;
};
const latestCk = (id: number): string => JSON.parse(ok(['show', String(id), '--json'])).checkpoints.at(-1).path;

/** `sadpm train-cov ... --json`, with the engine killed once a checkpoint past the first has been recorded. */
function trainCovKilled(args: string[]): Promise<{ code: number | null; killedAfter: number }> {
  const child = spawn(process.execPath, [BIN, 'train-cov', ...args, '--json'], { env });
  let buf = '';
  let killedAfter = -1;
  child.stdout.on('data', (b: Buffer) => {
    buf += b.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const msg = JSON.parse(buf.slice(0, nl)) as { type: string; step: number };
      buf = buf.slice(nl + 1);
      if (msg.type !== 'checkpoint' || msg.step < 4 || killedAfter >= 0) continue;
      killedAfter = msg.step;
      const kids = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.split('\n');
      const engine = kids
        .filter(Boolean)
        .map(Number)
        .find((p) => {
          try {
            return /hostEntry|engineHost/.test(readFileSync(`/proc/${p}/cmdline`, 'utf8'));
          } catch {
            return false;
          }
        });
      if (engine) process.kill(engine, 'SIGKILL');
    }
  });
  return new Promise((res) => child.on('close', (code) => res({ code, killedAfter })));
}

describe('the companion samplers through the CLI', () => {
  let npr = 0;
  let sn = 0;

  it('train-cov trains a head as a child run of the base run', () => {
    ok(['train', ...tiny]);
    ok(['train-cov', '1', '--kind', 'npr', '--steps', '2', ...head]);
    const [cov] = runs();
    expect(cov).toMatchObject({ id: 2, kind: 'cov', parentId: 1, status: 'completed', step: 2 });
    expect(cov!.cov).toMatchObject({ kind: 'npr', batch: 2, base: { step: 2, ema: false } });
    npr = cov!.id;
  });

  it(
    'a covariance run killed after a later checkpoint resumes to the losses of an uninterrupted one',
    { timeout: 240_000 },
    async () => {
      const killed = await trainCovKilled(['1', '--kind', 'sn', '--steps', '8', ...head]);
      expect(killed.killedAfter).toBeGreaterThanOrEqual(4);
      expect(killed.code).not.toBe(0);
      const cut = runs().find((r) => r.id === 3)!;
      expect(cut).toMatchObject({ kind: 'cov', status: 'interrupted' });
      const resumed = sadpm(['resume', '3', '--json']);
      expect(resumed.code, resumed.stderr).toBe(0);
      // Recovery leaves a covariance run's head checkpoints alone (they are not training checkpoints).
      expect(resumed.stderr).not.toMatch(/ignored .*cov-/);
      const started = JSON.parse(resumed.stdout.split('\n')[0]!);
      expect(started).toMatchObject({ type: 'started', resumed: true });
      expect(started.step).toBeGreaterThanOrEqual(4);
      expect(started.step).toBeLessThan(8);
      ok(['train-cov', '1', '--kind', 'sn', '--steps', '8', ...head]);
      const [a, b] = [lossOf(3), lossOf(4)];
      expect(a.steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(a).toEqual(b);
      sn = 4;
    },
  );

  // Twelve CLI calls, each starting an engine process (about 5 s on a 2-core machine without a GPU).
  it(
    'every sampler: a grid whose sidecar names it and the estimate or head it used; Γ is cached',
    { timeout: 300_000 },
    () => {
      const keys: string[] = [];
      const heads = { npr: { id: npr, path: latestCk(npr) }, sn: { id: sn, path: latestCk(sn) } };
      for (const sampler of SAMPLER_NAMES) {
        const extra = sampler.startsWith('analytic') ? ['--gamma-images', '8'] : [];
        const out = ok(['sample', '1', '--n', '4', '--steps', '5', '--sampler', sampler, ...extra]);
        const grid = /^grid: (.+)$/m.exec(out)![1]!;
        const side = JSON.parse(readFileSync(grid.replace(/\.png$/, '.json'), 'utf8'));
        expect(side).toMatchObject({ kind: 'sadpm-samples', sampler, steps: 5, n: 4, checkpointStep: 2 });
        if (sampler === 'ddpm' || sampler === 'ddim') expect(side.variance).toEqual({ kind: 'none' });
        else if (sampler.startsWith('analytic')) {
          const line = /^Γ estimate (\S+) \((.+)\)$/m.exec(out)!;
          keys.push(line[1]!);
          expect(line[2]).toBe(keys.length === 1 ? 'estimated now, cached' : 'from the cache');
          expect(side.variance).toMatchObject({ kind: 'gamma', key: line[1], nImages: 8, seed: 0, ema: false });
          expect(side.variance.sigma2).toHaveLength(5);
        } else {
          const kind = sampler.startsWith('npr') ? 'npr' : 'sn';
          expect(side.variance).toMatchObject({ kind: 'head', head: kind, checkpoint: heads[kind].path });
          expect(out).toContain(`covariance run #${heads[kind].id}`);
        }
      }
      expect(keys[1]).toBe(keys[0]);
      expect(ok(['gamma', '1', '--steps', '5', '--n', '8'])).toContain(`Γ estimate ${keys[0]} (from the cache)`);
      const missing = sadpm(['sample', '1', '--n', '4', '--steps', '5', '--sampler', 'npr-ddim', '--ema']);
      expect(missing.stderr).toMatch(/no completed NPR covariance head .*EMA weights.*train one first/);
    },
  );
});
