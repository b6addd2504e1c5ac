/**
 * Improved precision and recall (Kynkäänniemi et al. 2019). Each set's manifold is the union of
 * balls around its samples, each ball's radius the distance to the sample's k-th nearest neighbour
 * within its own set (k = 3). Precision = fraction of generated samples inside the real manifold;
 * recall = fraction of real samples inside the generated manifold. Distances are computed in row
 * blocks by the kernels (CPU or GPU), never as a whole n×n matrix.
 */
import { cpuKernels, type MetricKernels } from './kernels';
import type { FeatureMatrix } from './features';

export interface PrecisionRecallResult {
  precision: number;
  recall: number;
  k: number;
  realCount: number;
  fakeCount: number;
}

export async function precisionRecall(
  real: FeatureMatrix,
  fake: FeatureMatrix,
  opts: { k?: number; kernels?: MetricKernels } = {},
): Promise<PrecisionRecallResult> {
  const k = opts.k ?? 3;
  const kernels = opts.kernels ?? cpuKernels;
  if (real.dim !== fake.dim)
    throw new Error(`precision/recall: feature dimensions differ (${real.dim} vs ${fake.dim})`);
  if (!Number.isInteger(k) || k < 1) throw new Error(`precision/recall: k must be a positive integer, got ${k}`);
  for (const [name, m] of [
    ['real', real],
    ['generated', fake],
  ] as const) {
    if (m.rows <= k)
      throw new Error(`precision/recall: the ${name} set needs more than k = ${k} samples, got ${m.rows}`);
  }
  const realRadii = await kernels.kthNeighbourSq(real, k);
  const fakeRadii = await kernels.kthNeighbourSq(fake, k);
  const inReal = await kernels.covered(fake, real, realRadii);
  const inFake = await kernels.covered(real, fake, fakeRadii);
  const mean = (a: Uint8Array) => a.reduce((s, v) => s + v, 0) / a.length;
  return { precision: mean(inReal), recall: mean(inFake), k, realCount: real.rows, fakeCount: fake.rows };
}
