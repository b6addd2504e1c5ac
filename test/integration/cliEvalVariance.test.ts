/**
 * `sadpm eval` with the variance samplers (issue 13) as a user runs them on a tiny run (T = 20, pixel space): the
 * Γ estimate's line and the stored results' source; a covariance run's head by --cov-run; the refusals of flags
 * the sampler does not read, of a missing head (naming --cov-run and how to train one) and of --cov-run in a study.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvalOutcomeSchema } from '../../src/shared/evaluation';
import { cliIn, TINY_TRAIN_FLAGS } from './cliTiny';

const dir = mkdtempSync(join(tmpdir(), 'sadpm-cli-evalvar-'));
const sadpm = cliIn(dir);
const tiny = TINY_TRAIN_FLAGS;
const small = ['--n', '8', '--ref-n', '32', '--metrics', 'fid'];

describe('sadpm eval with the variance samplers', () => {
  it('analytic-ddim and npr-ddim: the source printed and stored; bad flags and a missing head refused', () => {
    expect(sadpm(['train', ...tiny, '--name', 'base']).code).toBe(0);
    const a = sadpm(['eval', 'base', '--sampler', 'analytic-ddim', '--steps', '2,4', '--gamma-images', '8', ...small]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/, analytic-ddim \(uniform\), n = 8 per step count/);
    expect(a.stdout).toMatch(/^variance: Γ estimate gamma-v1:step2:raw:T20:n8:seed0:\S+ \(estimated now, cached\)$/m);
    expect(a.stdout).toMatch(/^4\s+\d/m);

    const noHead = sadpm(['eval', 'base', '--sampler', 'npr-ddim', '--steps', '2', ...small]);
    expect(noHead.code).toBe(1);
    expect(noHead.stderr).toMatch(
      /^sadpm eval: --cov-run: no completed NPR covariance head on checkpoint 2 \(raw weights\)/m,
    );
    expect(noHead.stderr).toMatch(/train one first \(sadpm train-cov 1 --checkpoint 2 --kind npr --steps N/);
    const stray = sadpm(['eval', 'base', '--sampler', 'analytic-ddim', '--cov-run', '2', '--steps', '2', ...small]);
    expect(stray.stderr).toMatch(
      /--cov-run: only the npr-\* and sn-\* samplers read it \(the sampler is analytic-ddim\)/,
    );
    const study = sadpm(['study', 'base', 'base', '--sampler', 'npr-ddim', '--cov-run', '2', '--steps', '2']);
    expect(study.stderr).toMatch(/--cov-run: a study evaluates several runs, each with its own newest completed head/);

    expect(sadpm(['train-cov', 'base', '--kind', 'npr', '--steps', '2', '--batch', '2', '--json']).code).toBe(0);
    const n = sadpm(['eval', 'base', '--sampler', 'npr-ddim', '--steps', '2', '--cov-run', '2', ...small, '--json']);
    expect(n.code, n.stderr).toBe(0);
    const o = EvalOutcomeSchema.parse(JSON.parse(n.stdout));
    expect(o).toMatchObject({ sampler: 'npr-ddim', variance: 'npr run #2 step 2' });
    const named = o.results.filter((r) => r.variance === 'npr run #2 step 2' && r.varianceRef!.endsWith('.sadpm-cov'));
    expect(named).toHaveLength(o.results.length);
  }, 300_000);
});
