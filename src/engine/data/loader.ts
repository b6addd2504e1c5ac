/**
 * Training-side access to a dataset: load it, pick batch indices deterministically, turn them into floats.
 */
import { Rng, Stream } from '../rng';
import { findBuiltin, generateBuiltin } from './builtin';
import { readPackedDataset, readPackedHeader, type PackedDataset } from './packed';

/** The number of images of a dataset spec, from its header (no pixels are read). */
export function datasetCount(spec: string): number {
  return spec.startsWith('builtin:') ? findBuiltin(spec).defaultCount : readPackedHeader(spec).count;
}

/** 'builtin:<name>' generates the embedded dataset in memory; anything else is a .sadpm-ds path. */
export function loadDataset(spec: string): PackedDataset {
  if (spec.startsWith('builtin:')) return generateBuiltin(spec);
  return readPackedDataset(spec);
}

/** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
function permutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/**
 * Epoch-style sampling without replacement from the training images (the dataset less `exclude`, the
 * gap monitor's held-out images). The stream of examples is the concatenation of per-epoch
 * permutations of the training images (epoch e shuffled by Rng.keyed(seed, Stream.batchIndex, e));
 * step s with batch B takes positions s*B .. s*B+B-1 of that stream. A function of (seed, exclude,
 * step, batch) only, so a resumed run sees exactly the batches it would have seen without the restart.
 */
export class BatchSampler {
  private readonly count: number;
  /** Dataset index of each training position; null when nothing is excluded (position = index). */
  private readonly pool: Int32Array | null;
  private readonly cache = new Map<number, Int32Array>();

  constructor(
    ds: PackedDataset,
    private readonly seed: number,
    exclude: ArrayLike<number> = [],
  ) {
    const total = ds.info.count;
    if (total < 1) throw new Error('BatchSampler: the dataset is empty');
    const out = new Uint8Array(total);
    for (let k = 0; k < exclude.length; k++) {
      const i = exclude[k]!;
      if (!Number.isInteger(i) || i < 0 || i >= total) {
        throw new Error(`BatchSampler: excluded index ${i} is outside 0..${total - 1}`);
      }
      out[i] = 1;
    }
    const kept: number[] = [];
    for (let i = 0; i < total; i++) if (!out[i]) kept.push(i);
    if (kept.length === 0) throw new Error(`BatchSampler: all ${total} images are held out; none are left to train on`);
    this.pool = kept.length === total ? null : Int32Array.from(kept);
    this.count = kept.length;
  }

  private epochOrder(epoch: number): Int32Array {
    let p = this.cache.get(epoch);
    if (!p) {
      p = permutation(this.count, Rng.keyed(this.seed, Stream.batchIndex, epoch));
      const pool = this.pool;
      if (pool) for (let i = 0; i < p.length; i++) p[i] = pool[p[i]!]!;
      // A batch spans at most a few epochs; keep the cache tiny.
      if (this.cache.size >= 4) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(epoch, p);
    }
    return p;
  }

  batchIndices(step: number, batch: number): Int32Array {
    if (!Number.isInteger(step) || step < 0)
      throw new Error(`batchIndices: step must be a non-negative integer, got ${step}`);
    if (!Number.isInteger(batch) || batch < 1)
      throw new Error(`batchIndices: batch must be a positive integer, got ${batch}`);
    const out = new Int32Array(batch);
    const start = step * batch;
    for (let j = 0; j < batch; j++) {
      const pos = start + j;
      out[j] = this.epochOrder(Math.floor(pos / this.count))[pos % this.count]!;
    }
    return out;
  }
}

/**
 * Images at `indices` as NHWC floats in [-1, 1] (x / 127.5 - 1), the range the diffusion model works in;
 * image b mirrored left-right where flips[b] is non-zero.
 */
export function toFloatBatch(ds: PackedDataset, indices: ArrayLike<number>, flips?: ArrayLike<number>): Float32Array {
  const { count, height, width, channels } = ds.info;
  const per = height * width * channels;
  const out = new Float32Array(indices.length * per);
  if (flips && flips.length !== indices.length) {
    throw new Error(`toFloatBatch: ${flips.length} flip flags for ${indices.length} images`);
  }
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b]!;
    if (!Number.isInteger(i) || i < 0 || i >= count)
      throw new Error(`toFloatBatch: index ${i} is outside 0..${count - 1}`);
    unitImage(ds.pixels, i * per, flips?.[b] ? 1 : 0, height, width, channels, out, b * per);
  }
  return out;
}

/** The bytes of the images at `indices`, one after another (the training-inputs worker converts them). */
export function gatherImages(ds: PackedDataset, indices: ArrayLike<number>): Uint8Array {
  const { count, height, width, channels } = ds.info;
  const per = height * width * channels;
  const out = new Uint8Array(indices.length * per);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b]!;
    if (!Number.isInteger(i) || i < 0 || i >= count)
      throw new Error(`gatherImages: index ${i} is outside 0..${count - 1}`);
    out.set(ds.pixels.subarray(i * per, (i + 1) * per), b * per);
  }
  return out;
}

/**
 * One image of `bytes` from `from` as floats x / 127.5 - 1 into out[to..], mirrored left-right when `flip`
 * is 1. It references nothing outside itself, so the training-inputs worker (train/lossInputs.ts) runs
 * its source and computes exactly what toFloatBatch does here.
 */
export function unitImage(
  bytes: Uint8Array,
  from: number,
  flip: number,
  height: number,
  width: number,
  channels: number,
  out: Float32Array,
  to: number,
): void {
  const row = width * channels;
  if (flip) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const src = from + y * row + (width - 1 - x) * channels;
        const dst = to + y * row + x * channels;
        for (let c = 0; c < channels; c++) out[dst + c] = bytes[src + c]! / 127.5 - 1;
      }
    }
  } else {
    const per = height * row;
    for (let k = 0; k < per; k++) out[to + k] = bytes[from + k]! / 127.5 - 1;
  }
}

/**
 * The random horizontal flips of step `step` (the official recipes' RandomHorizontalFlip, p = 1/2): one
 * flag per image, from a stream keyed by (seed, step), so a resumed run flips exactly as it would have.
 */
export function flipDraws(seed: number, step: number, batch: number): Uint8Array {
  const rng = Rng.keyed(seed, Stream.flip, step);
  const out = new Uint8Array(batch);
  for (let b = 0; b < batch; b++) out[b] = rng.uniform() < 0.5 ? 1 : 0;
  return out;
}

/**
 * A fixed set of n distinct indices (sorted), the same for every call with the same seed: used as the
 * held-out batch for gap curves so successive measurements compare like with like. The set for a
 * smaller n is a subset of the set for a larger one (the first draws of the same stream).
 */
export function holdOutIndices(ds: PackedDataset, n: number, seed: number): Int32Array {
  const count = ds.info.count;
  if (!Number.isInteger(n) || n < 0 || n > count)
    throw new Error(`holdOutIndices: n must be an integer in 0..${count}, got ${n}`);
  const rng = Rng.keyed(seed, Stream.gapBatch);
  // Partial Fisher–Yates over a sparse map: O(n) memory even for a large dataset.
  const swapped = new Map<number, number>();
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(count - i);
    const vj = swapped.get(j) ?? j;
    const vi = swapped.get(i) ?? i;
    swapped.set(j, vi);
    out[i] = vj;
  }
  return out.sort();
}

/** The images the gap monitor measures on, and whether training leaves them out. */
export interface GapImages {
  indices: Int32Array;
  /** False only for a one-image dataset, where the gap has to be measured on the training image. */
  heldOut: boolean;
}

/**
 * The gap monitor's held-out images: gapBatch of them, but at most a tenth of the dataset (at least one),
 * so that a small dataset keeps nine tenths of its images for training. Fixed by (dataset size, gapBatch,
 * seed); training never draws them (BatchSampler's exclude).
 */
/** How many of a dataset's `count` images the gap monitor holds out: min(gapBatch, a tenth of them), at least 1. */
export function gapImageCount(count: number, gapBatch: number): number {
  return count < 2 ? count : Math.min(gapBatch, Math.max(1, Math.floor(count / 10)));
}

export function gapImages(ds: PackedDataset, gapBatch: number, seed: number): GapImages {
  const count = ds.info.count;
  if (!Number.isInteger(gapBatch) || gapBatch < 1) {
    throw new Error(`gapImages: gapBatch must be a positive integer, got ${gapBatch}`);
  }
  if (count < 2) return { indices: holdOutIndices(ds, count, seed), heldOut: false };
  return { indices: holdOutIndices(ds, gapImageCount(count, gapBatch), seed), heldOut: true };
}

/** The training sampler of a run: every image except the gap monitor's held-out ones. */
export function trainingSampler(ds: PackedDataset, seed: number, gap: GapImages): BatchSampler {
  return new BatchSampler(ds, seed, gap.heldOut ? gap.indices : []);
}
