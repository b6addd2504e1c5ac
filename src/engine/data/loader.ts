/**
 * Training-side access to a dataset: load it, pick batch indices deterministically, turn them into floats.
 */
import { Rng, Stream } from '../rng';
import { generateBuiltin } from './builtin';
import type { PackedDataset } from './packed';
import { readPackedDataset } from './packed';

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
 * Epoch-style sampling without replacement. The stream of examples is the concatenation of per-epoch
 * permutations (epoch e shuffled by Rng.keyed(seed, Stream.batchIndex, e)); step s with batch B takes
 * positions s*B .. s*B+B-1 of that stream. A function of (seed, step, batch) only, so a resumed run
 * sees exactly the batches it would have seen without the restart.
 */
export class BatchSampler {
  private readonly count: number;
  private readonly cache = new Map<number, Int32Array>();

  constructor(
    ds: PackedDataset,
    private readonly seed: number,
  ) {
    this.count = ds.info.count;
    if (this.count < 1) throw new Error('BatchSampler: the dataset is empty');
  }

  private epochOrder(epoch: number): Int32Array {
    let p = this.cache.get(epoch);
    if (!p) {
      p = permutation(this.count, Rng.keyed(this.seed, Stream.batchIndex, epoch));
      // A batch spans at most a few epochs; keep the cache tiny.
      if (this.cache.size >= 4) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(epoch, p);
    }
    return p;
  }

  batchIndices(step: number, batch: number): Int32Array {
    if (!Number.isInteger(step) || step < 0) throw new Error(`batchIndices: step must be a non-negative integer, got ${step}`);
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`batchIndices: batch must be a positive integer, got ${batch}`);
    const out = new Int32Array(batch);
    const start = step * batch;
    for (let j = 0; j < batch; j++) {
      const pos = start + j;
      out[j] = this.epochOrder(Math.floor(pos / this.count))[pos % this.count]!;
    }
    return out;
  }
}

/** Images at `indices` as NHWC floats in [-1, 1] (x / 127.5 - 1), the range the diffusion model works in. */
export function toFloatBatch(ds: PackedDataset, indices: ArrayLike<number>): Float32Array {
  const { count, height, width, channels } = ds.info;
  const per = height * width * channels;
  const out = new Float32Array(indices.length * per);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b]!;
    if (!Number.isInteger(i) || i < 0 || i >= count) throw new Error(`toFloatBatch: index ${i} is outside 0..${count - 1}`);
    const src = i * per;
    const dst = b * per;
    for (let k = 0; k < per; k++) out[dst + k] = ds.pixels[src + k]! / 127.5 - 1;
  }
  return out;
}

/**
 * A fixed set of n distinct indices (sorted), the same for every call with the same seed: used as the
 * held-out batch for gap curves so successive measurements compare like with like.
 */
export function holdOutIndices(ds: PackedDataset, n: number, seed: number): Int32Array {
  const count = ds.info.count;
  if (!Number.isInteger(n) || n < 0 || n > count) throw new Error(`holdOutIndices: n must be an integer in 0..${count}, got ${n}`);
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
