/**
 * Kernel Inception Distance (Bińkowski et al. 2018) as torch-fidelity and clean-fid compute it: the
 * unbiased MMD² estimate with the cubic polynomial kernel k(x, y) = (x·y/d + 1)³, averaged over random
 * subsets of equal size drawn without replacement from each set; reported as mean ± std (population
 * std, numpy's default) over the subsets.
 */
import { Rng } from '../rng';
import type { FeatureMatrix } from './features';
import { cpuKernels, type MetricKernels, type PolyKernel } from './kernels';

export interface KidOptions {
  subsets?: number;
  /** Capped at the smaller set's size (clean-fid's choice; torch-fidelity refuses instead). */
  subsetSize?: number;
  degree?: number;
  /** Defaults to 1/d. */
  gamma?: number;
  coef0?: number;
  seed?: number;
  kernels?: MetricKernels;
}

export interface KidResult {
  mean: number;
  std: number;
  subsets: number;
  subsetSize: number;
  /** MMD² of each subset. */
  values: number[];
}

/** Unbiased MMD² between two sets of the same size m ≥ 2. */
export async function mmd2Unbiased(
  x: FeatureMatrix,
  y: FeatureMatrix,
  kernel: PolyKernel,
  kernels: MetricKernels = cpuKernels,
): Promise<number> {
  if (y.rows !== x.rows || x.rows < 2)
    throw new Error(`MMD²: needs two sets of the same size ≥ 2, got ${x.rows} and ${y.rows}`);
  const all = Int32Array.from({ length: x.rows }, (_, i) => i);
  return (await kernels.mmd2Subsets(x, y, [{ xi: all, yi: all }], kernel))[0]!;
}

/** m distinct indices from [0, n), uniformly (a partial Fisher–Yates shuffle). */
export function sampleWithoutReplacement(n: number, m: number, rng: Rng): Int32Array {
  const pool = new Int32Array(n);
  for (let i = 0; i < n; i++) pool[i] = i;
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(n - i);
    const t = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = t;
  }
  return pool.slice(0, m);
}

export async function kernelInceptionDistance(
  real: FeatureMatrix,
  fake: FeatureMatrix,
  opts: KidOptions = {},
): Promise<KidResult> {
  if (real.dim !== fake.dim) throw new Error(`KID: feature dimensions differ (${real.dim} vs ${fake.dim})`);
  const subsets = opts.subsets ?? 100;
  const m = Math.min(opts.subsetSize ?? 1000, real.rows, fake.rows);
  if (!Number.isInteger(subsets) || subsets < 1)
    throw new Error(`KID: subsets must be a positive integer, got ${subsets}`);
  if (m < 2)
    throw new Error(`KID: needs at least 2 samples in each set, got ${real.rows} real and ${fake.rows} generated`);
  const kernel: PolyKernel = { gamma: opts.gamma ?? 1 / real.dim, coef0: opts.coef0 ?? 1, degree: opts.degree ?? 3 };
  const kernels = opts.kernels ?? cpuKernels;
  const rng = Rng.keyed(opts.seed ?? 0, 0x4b1d);
  const pairs = Array.from({ length: subsets }, () => ({
    xi: sampleWithoutReplacement(real.rows, m, rng),
    yi: sampleWithoutReplacement(fake.rows, m, rng),
  }));
  const values = await kernels.mmd2Subsets(real, fake, pairs, kernel);
  const mean = values.reduce((a, b) => a + b, 0) / subsets;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / subsets);
  return { mean, std, subsets, subsetSize: m, values };
}
