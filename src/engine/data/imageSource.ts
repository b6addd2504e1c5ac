/**
 * Training images as the estimators see them: a numbered pool read in batches of NHWC floats in [-1, 1].
 * Analytic-DPM's Γ and the covariance heads average over q(x0), i.e. over the images the network was
 * trained on; a run's pool is its dataset less the gap monitor's held-out images.
 */
import { Rng, Stream } from '../rng';
import type { PackedDataset } from './packed';
import { toFloatBatch } from './loader';

export interface ImageSource {
  /** Number of images in the pool (positions 0..count-1). */
  count: number;
  /** [H, W, C] of one image. */
  shape: readonly [number, number, number];
  /** The images at these pool positions, NHWC float32 in [-1, 1]. */
  read(positions: ArrayLike<number>): Float32Array;
}

/** The dataset's images less `exclude` (dataset indices), in index order. */
export function datasetImageSource(ds: PackedDataset, exclude: ArrayLike<number> = []): ImageSource {
  const total = ds.info.count;
  const skip = new Uint8Array(total);
  for (let k = 0; k < exclude.length; k++) {
    const i = exclude[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= total) {
      throw new Error(`image pool: excluded index ${i} is outside 0..${total - 1}`);
    }
    skip[i] = 1;
  }
  const pool: number[] = [];
  for (let i = 0; i < total; i++) if (!skip[i]) pool.push(i);
  if (pool.length === 0) throw new Error(`image pool: all ${total} images of the dataset are excluded`);
  return {
    count: pool.length,
    shape: [ds.info.height, ds.info.width, ds.info.channels],
    read: (positions) =>
      toFloatBatch(
        ds,
        Array.from(positions, (p) => pool[p]!),
      ),
  };
}

/**
 * n distinct pool positions drawn by `seed` (partial Fisher–Yates), sorted. Fixed by (count, n, seed), so
 * an estimate can be repeated; the draw for a smaller n is a subset of the draw for a larger one.
 */
export function pickPositions(count: number, n: number, seed: number): Int32Array {
  if (!Number.isInteger(n) || n < 1 || n > count) {
    throw new Error(`image pool: cannot pick ${n} images from a pool of ${count} (expected an integer in 1..${count})`);
  }
  const rng = Rng.keyed(seed, Stream.gammaImages);
  const swapped = new Map<number, number>();
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(count - i);
    const vj = swapped.get(j) ?? j;
    swapped.set(j, swapped.get(i) ?? i);
    out[i] = vj;
  }
  return out.sort();
}
