/**
 * From batches of images to metrics: a FeatureCollector embeds each batch in a feature space and keeps
 * what the metrics need — the FID moments (on the device, flushed to float64), a uniform subsample of
 * at most `keep` feature vectors for KID and precision/recall, and the Inception Score's per-split sums
 * — so any number of images streams through in bounded memory. compareSummaries() turns a reference
 * summary (a dataset, cacheable: encodeSummary/decodeSummary) and a generated one into metrics.
 */
import { tf } from '../tf';
import { frechetDistance } from './frechet';
import { InceptionScoreAccumulator, type InceptionScoreResult } from './inceptionScore';
import { kernelInceptionDistance, type KidResult } from './kid';
import { precisionRecall } from './precisionRecall';
import { FeatureReservoir, GaussianAccumulator } from './stats';
import { TfMomentAccumulator, tfKernels } from './tfKernels';
import { cpuKernels, type MetricKernels } from './kernels';
import type { FeatureMatrix } from './features';
import type { FeatureSpace } from './featureSpace';

export interface SpaceInfo {
  id: FeatureSpace['id'];
  label: string;
  dim: number;
  weightsSha256: string | null;
}

export interface FeatureSummary {
  space: SpaceInfo;
  count: number;
  mean: Float64Array;
  cov: Float64Array;
  /** Uniform subsample of the features (all of them when count ≤ keep). */
  sample: FeatureMatrix;
  /** Present when the space has a classifier and the collector was told the total. */
  inceptionScore: InceptionScoreResult | null;
}

export interface CollectorOptions {
  /** Feature vectors kept for KID / precision-recall (default 10,000). */
  keep?: number;
  seed?: number;
  /** Images that will be added in all; needed for the Inception Score's splits (omit to skip IS). */
  total?: number;
  splits?: number;
  /** Accumulate the FID moments on the device (default: when the backend is not the JS cpu one). */
  deviceMoments?: boolean;
}

export class FeatureCollector {
  private readonly gaussian: GaussianAccumulator;
  private readonly moments: TfMomentAccumulator | null;
  private readonly reservoir: FeatureReservoir;
  private readonly is: InceptionScoreAccumulator | null;

  constructor(
    readonly space: FeatureSpace,
    opts: CollectorOptions = {},
  ) {
    this.gaussian = new GaussianAccumulator(space.dim);
    const device = opts.deviceMoments ?? tf.getBackend() !== 'cpu';
    this.moments = device ? new TfMomentAccumulator(this.gaussian) : null;
    this.reservoir = new FeatureReservoir(space.dim, opts.keep ?? 10_000, opts.seed ?? 0);
    this.is =
      space.classes && opts.total !== undefined
        ? new InceptionScoreAccumulator(opts.total, space.classes, opts.splits ?? 10)
        : null;
  }

  get count(): number {
    return this.reservoir.count;
  }

  /** Adds a batch of [0, 1] images (not disposed: the caller owns it). */
  async add(images: tf.Tensor4D): Promise<void> {
    const { features, logits } = this.space.embed(images);
    try {
      const [n] = features.shape;
      if (this.moments) await this.moments.add(features);
      const f = await features.data();
      if (!this.moments) this.gaussian.add(f, n);
      this.reservoir.add(f, n);
      if (this.is && logits) this.is.add(await logits.data(), n);
    } finally {
      tf.dispose([features, logits].filter((t): t is tf.Tensor2D => t !== null));
    }
  }

  async finish(): Promise<FeatureSummary> {
    if (this.moments) {
      await this.moments.flush();
      this.moments.dispose();
    }
    const { mean, cov, count } = this.gaussian.finish();
    const { id, label, dim, weightsSha256 } = this.space;
    return {
      space: { id, label, dim, weightsSha256 },
      count,
      mean,
      cov,
      sample: this.reservoir.matrix(),
      inceptionScore: this.is ? this.is.finish() : null,
    };
  }
}

export type MetricName = 'fid' | 'kid' | 'is' | 'pr';

export interface MetricResults {
  space: SpaceInfo;
  realCount: number;
  fakeCount: number;
  fid?: number;
  kid?: KidResult;
  is?: InceptionScoreResult;
  precision?: number;
  recall?: number;
}

/** The metrics of a generated summary against a reference one (same feature space). */
export async function compareSummaries(
  real: FeatureSummary,
  fake: FeatureSummary,
  metrics: MetricName[],
  opts: { kernels?: MetricKernels; kidSubsets?: number; kidSubsetSize?: number; seed?: number } = {},
): Promise<MetricResults> {
  if (
    real.space.id !== fake.space.id ||
    real.space.dim !== fake.space.dim ||
    real.space.weightsSha256 !== fake.space.weightsSha256
  ) {
    throw new Error(
      `the two feature summaries come from different feature spaces (${real.space.label} vs ${fake.space.label})`,
    );
  }
  const kernels = opts.kernels ?? (tf.getBackend() === 'cpu' ? cpuKernels : tfKernels);
  const out: MetricResults = { space: fake.space, realCount: real.count, fakeCount: fake.count };
  for (const m of new Set(metrics)) {
    if (m === 'fid') out.fid = frechetDistance(real, fake).value;
    else if (m === 'kid') {
      out.kid = await kernelInceptionDistance(real.sample, fake.sample, {
        kernels,
        subsets: opts.kidSubsets,
        subsetSize: opts.kidSubsetSize,
        seed: opts.seed,
      });
    } else if (m === 'pr') {
      const pr = await precisionRecall(real.sample, fake.sample, { kernels });
      out.precision = pr.precision;
      out.recall = pr.recall;
    } else if (m === 'is') {
      if (!fake.inceptionScore) {
        throw new Error(
          fake.space.id === 'pixel-8x8'
            ? 'the Inception Score is not defined in the pixel feature space (it needs the Inception classifier): provide the Inception weights'
            : 'the Inception Score was not collected (the collector needs the total number of images)',
        );
      }
      out.is = fake.inceptionScore;
    } else throw new Error(`unknown metric '${String(m)}' (expected fid, kid, is or pr)`);
  }
  return out;
}

const MAGIC = 'SADPMFS1';

/** A summary as bytes for a cache file: magic, JSON header length (u32 LE), JSON header, float64 mean and covariance, float32 sample. */
export function encodeSummary(s: FeatureSummary): Uint8Array {
  const header = new TextEncoder().encode(
    JSON.stringify({ space: s.space, count: s.count, sampleRows: s.sample.rows, inceptionScore: s.inceptionScore }),
  );
  const d = s.space.dim;
  const pad = (8 - ((MAGIC.length + 4 + header.length) % 8)) % 8;
  const head = MAGIC.length + 4 + header.length + pad;
  const out = new Uint8Array(head + 8 * (d + d * d) + 4 * s.sample.rows * d);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, header.length + pad, true);
  out.set(header, MAGIC.length + 4);
  out.fill(0x20, MAGIC.length + 4 + header.length, head);
  new Float64Array(out.buffer, head, d).set(s.mean);
  new Float64Array(out.buffer, head + 8 * d, d * d).set(s.cov);
  new Float32Array(out.buffer, head + 8 * (d + d * d), s.sample.rows * d).set(s.sample.data);
  return out;
}

export function decodeSummary(bytes: Uint8Array, label = 'feature summary'): FeatureSummary {
  const fail = (msg: string): never => {
    throw new Error(`${label}: ${msg}`);
  };
  if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC)
    fail('not a feature summary file');
  const copy = bytes.slice(); // aligned, owned
  const hlen = new DataView(copy.buffer).getUint32(MAGIC.length, true);
  const head = MAGIC.length + 4 + hlen;
  if (head > copy.length || head % 8) fail('bad header length');
  let h: { space: SpaceInfo; count: number; sampleRows: number; inceptionScore: InceptionScoreResult | null };
  try {
    h = JSON.parse(new TextDecoder().decode(copy.subarray(MAGIC.length + 4, head)));
  } catch (err) {
    return fail(`bad header (${(err as Error).message})`);
  }
  const d = h.space?.dim;
  if (!Number.isInteger(d) || d < 1 || !Number.isInteger(h.sampleRows) || h.sampleRows < 0) fail('bad header fields');
  const expected = head + 8 * (d + d * d) + 4 * h.sampleRows * d;
  if (copy.length !== expected)
    fail(`${copy.length} bytes, expected ${expected} for dimension ${d} and ${h.sampleRows} kept rows (truncated?)`);
  return {
    space: h.space,
    count: h.count,
    mean: new Float64Array(copy.buffer, head, d),
    cov: new Float64Array(copy.buffer, head + 8 * d, d * d),
    sample: {
      rows: h.sampleRows,
      dim: d,
      data: new Float32Array(copy.buffer, head + 8 * (d + d * d), h.sampleRows * d),
    },
    inceptionScore: h.inceptionScore,
  };
}
