/**
 * `sadpm eval` and `sadpm study` as a user runs them, on two tiny runs (T = 20, n = 16, steps 2,4, pixel space):
 * the table on stdout, the results in the store, and the study's summary and report folder.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StudyReportSchema } from '../../src/shared/evaluation';
import { cliIn, TINY_TRAIN_FLAGS } from './cliTiny';

const dir = mkdtempSync(join(tmpdir(), 'sadpm-cli-eval-'));
const sadpm = cliIn(dir);
const tiny = TINY_TRAIN_FLAGS;

describe('sadpm eval / sadpm study', () => {
  it('evaluates a run, prints the table with the pixel space named, then studies it against an SA run', () => {
    const t0 = performance.now();
    expect(sadpm(['train', ...tiny, '--k', '1', '--name', 'base']).code).toBe(0);
    expect(sadpm(['train', ...tiny, '--k', '2', '--name', 'sa2']).code).toBe(0);
    const t1 = performance.now();

    const e = sadpm(['eval', 'base', '--n', '16', '--steps', '2,4', '--ref-n', '32', '--ema']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toMatch(/note: pixel feature space \(not Inception\)\. .*pt_inception-2015-12-05-6726825d\.pth/);
    expect(e.stdout).toMatch(/run #1 base, checkpoint step 2 \(EMA weights\), ddim \(uniform\), n = 16 per step count/);
    expect(e.stdout).toMatch(
      /feature space: pixel space 8×8×3 \(not Inception: not comparable with published FID\/KID\)/,
    );
    expect(e.stdout).toMatch(/reference: 32 dataset images \(computed now and cached\)/);
    expect(e.stdout).toMatch(/^steps\s+FID\[pixel\]\s+KID\[pixel\]\s+precision\[pixel\]\s+recall\[pixel\]\s+seconds$/m);
    expect(e.stdout).toMatch(/^2\s+\d/m);
    expect(e.stdout).toMatch(/^4\s+\d/m);
    const t2 = performance.now();

    const bad = sadpm(['eval', 'base', '--n', '16', '--steps', '2,40', '--ref-n', '32']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^sadpm eval: --steps 40: this run has T = 20 diffusion steps/m);
    expect(sadpm(['eval', 'base', '--metrics', 'fid,lpips']).stderr).toMatch(
      /--metrics: expected a comma-separated list of fid, kid, is, pr/,
    );

    const out = join(dir, 'report');
    const s = sadpm([
      'study',
      'base',
      'sa2',
      '--steps',
      '2,4',
      '--n',
      '16',
      '--ref-n',
      '32',
      '--ema',
      '--out',
      out,
      '--json',
    ]);
    expect(s.code, s.stderr).toBe(0);
    const report = StudyReportSchema.parse(JSON.parse(s.stdout));
    expect(report.dir).toBe(out);
    expect(report.study.runs.map((r) => r.loss)).toEqual(['DDPM', 'SA-2 λ=1']);
    expect(report.study.differences.filter((d) => d.kind !== 'ignore').map((d) => d.field)).toEqual(['k']);
    expect(report.study.gap).toMatchObject({ step: 2, t0: 6, missing: [] });
    expect(report.study.gap.ratios[0]!.final).toBeGreaterThan(0);
    // The baseline's results were there; only the SA run was evaluated, against the cached reference.
    expect(report.study.metrics.find((m) => m.metric === 'fid')!.curves.map((c) => [c.runId, c.weights])).toEqual([
      [1, 'ema'],
      [2, 'ema'],
    ]);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/## Estimation gap/);
    expect(existsSync(join(out, 'gap-ratio.png'))).toBe(true);
    const t3 = performance.now();

    const text = sadpm(['study', '1', '2', '--measure-gap', 'none', '--out', join(dir, 'report2')]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^study: baseline #1 base \(DDPM\) vs #2 sa2 \(SA-2 λ=1\)$/m);
    expect(text.stdout).toMatch(/^differs: k \(#1 1, #2 2\) \[the SA loss\]$/m);
    expect(text.stdout).toMatch(/^SA run\s+final gap ratio \(t=1\)\s+mean ratio over t$/m);
    expect(text.stdout).toMatch(/^fid\[pixel\] steps/m);
    console.log(
      `cli eval: train x2 ${((t1 - t0) / 1000).toFixed(1)} s, eval ${((t2 - t1) / 1000).toFixed(1)} s, ` +
        `study (evaluating one run) ${((t3 - t2) / 1000).toFixed(1)} s`,
    );
  }, 300_000);
});
