import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeSchedule } from '../../../src/engine/diffusion/schedule';

interface Row {
  t: number;
  code_index_0based: number;
  beta: number;
  alpha: number;
  alpha_bar: number;
  alpha_bar_prev: number;
  sqrt_alpha_bar: number;
  sqrt_one_minus_alpha_bar: number;
  gamma1: number;
  gamma2: number;
  beta_tilde: number;
  eps_to_mean_coef_c: number;
  tau: number;
}

const specDir = process.env.SADPM_SPEC_DIR ?? join(__dirname, '../../../../shared/spec');
const vectorsPath = join(specDir, 'tau_linear_T1000.json');
const fixturePath = join(__dirname, '../../fixtures/tau_linear_T1000.json');

function loadVectors(): { rows: Row[]; summary: Record<string, number> } {
  for (const p of [vectorsPath, fixturePath]) {
    try {
      return JSON.parse(readFileSync(p, 'utf8'));
    } catch {
      /* try the next location */
    }
  }
  throw new Error(`test vectors not found at ${vectorsPath} or ${fixturePath}`);
}

function rel(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
}

describe('linear schedule, T = 1000, against the spec vectors', () => {
  const v = loadVectors();
  const s = makeSchedule({ kind: 'linear', T: 1000 });
  it.each(v.rows.map((r) => [r.t, r] as const))('coefficients at paper t = %i', (_t, r) => {
    const j = r.code_index_0based;
    expect(rel(s.betas[j]!, r.beta)).toBeLessThan(1e-12);
    expect(rel(s.alphas[j]!, r.alpha)).toBeLessThan(1e-12);
    expect(rel(s.alphaBar[j]!, r.alpha_bar)).toBeLessThan(1e-12);
    expect(rel(s.alphaBarPrev[j]!, r.alpha_bar_prev)).toBeLessThan(1e-12);
    expect(rel(s.sqrtAlphaBar[j]!, r.sqrt_alpha_bar)).toBeLessThan(1e-12);
    expect(rel(s.sqrtOneMinusAlphaBar[j]!, r.sqrt_one_minus_alpha_bar)).toBeLessThan(1e-10);
    expect(rel(s.gamma1[j]!, r.gamma1)).toBeLessThan(1e-10);
    expect(Math.abs(s.gamma2[j]! - r.gamma2)).toBeLessThan(1e-12);
    expect(Math.abs(s.betaTilde[j]! - r.beta_tilde)).toBeLessThan(1e-15);
    expect(rel(s.c[j]!, r.eps_to_mean_coef_c)).toBeLessThan(1e-10);
    if (r.tau === 0) expect(s.tau[j]).toBe(0);
    else expect(rel(s.tau[j]!, r.tau)).toBeLessThan(1e-9);
  });

  it('matches the summary figures', () => {
    let max = 0;
    let argmax = 0;
    let sum = 0;
    let monotone = true;
    for (let j = 1; j < 1000; j++) {
      sum += s.tau[j]!;
      if (s.tau[j]! > max) ((max = s.tau[j]!), (argmax = j + 1));
      if (j > 1 && s.tau[j]! > s.tau[j - 1]!) monotone = false;
    }
    expect(rel(max, v.summary.tau_max!)).toBeLessThan(1e-10);
    expect(argmax).toBe(v.summary.tau_argmax_t);
    expect(rel(sum, v.summary['tau_sum_2..T']!)).toBeLessThan(1e-9);
    expect(rel(s.alphaBar[999]!, v.summary.alpha_bar_T!)).toBeLessThan(1e-9);
    expect(rel(s.tau[999]!, v.summary['tau_min_over_2..T']!)).toBeLessThan(1e-8);
    expect(monotone).toBe(true);
  });

  it('tau telescopes: tau_t = prod_{s=2}^{t-1} gamma2_s * c_t', () => {
    let prod = 1;
    for (let j = 1; j < 1000; j++) {
      expect(rel(s.tau[j]!, prod * s.c[j]!)).toBeLessThan(1e-12);
      prod *= s.gamma2[j]!;
    }
  });
});

describe('schedules', () => {
  it('cosine schedule is increasing in beta and bounded', () => {
    const s = makeSchedule({ kind: 'cosine', T: 100 });
    for (let j = 1; j < 100; j++) expect(s.alphaBar[j]!).toBeLessThan(s.alphaBar[j - 1]!);
    expect(Math.max(...s.betas)).toBeLessThanOrEqual(0.999);
  });
  it('rejects bad parameters with a message naming them', () => {
    expect(() => makeSchedule({ kind: 'linear', T: 1 })).toThrow(/T must be/);
    expect(() => makeSchedule({ kind: 'linear', T: 10, betaStart: 0.5, betaEnd: 0.1 })).toThrow(/betaStart/);
  });
});
