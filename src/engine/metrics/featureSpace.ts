/**
 * Feature spaces the metrics are computed in, behind one interface:
 *  - 'inception-v3-fid': pool3 of pytorch-fid's FID Inception-v3 (2048-d) and its classifier logits
 *    (for the Inception Score) — the standard protocol, comparable with published numbers;
 *  - 'pixel-8x8': each image area-averaged to 8×8 per RGB channel (grey repeated), 192 values in [0, 1].
 *    For when the Inception weights are absent (useful on the tiny built-in datasets): FID/KID/precision/
 *    recall computed there measure low-frequency colour/layout statistics only, are NOT comparable with
 *    published FIDs, and every result carries this space's label. The Inception Score is undefined there
 *    (no classifier).
 */
import { tf } from '../tf';
import { InceptionV3Fid } from './inception/model';
import type { InceptionWeights } from './inception/weights';

export interface FeatureSpace {
  /** Stable id, part of cache keys. */
  readonly id: 'inception-v3-fid' | 'pixel-8x8';
  /** Shown with every result computed in this space. */
  readonly label: string;
  readonly dim: number;
  /** Classifier outputs for the Inception Score, or null where it is undefined. */
  readonly classes: number | null;
  /** SHA-256 of the weights file (null for spaces without weights). */
  readonly weightsSha256: string | null;
  /** [n, h, w, 1|3] images in [0, 1] → features [n, dim] (+ bias-free logits [n, classes]); the caller disposes them. */
  embed(images: tf.Tensor4D): { features: tf.Tensor2D; logits: tf.Tensor2D | null };
  dispose(): void;
}

import { INCEPTION_SPACE_LABEL, PIXEL_SPACE_LABEL } from './protocol';

export { FEATURE_PROTOCOL } from './protocol';

/** Samples in [−1, 1] → [0, 1] in 1/255 steps, as a PNG round trip would give. */
export function samplesToUnit(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.div(tf.round(tf.mul(tf.clipByValue(tf.add(tf.mul(x, 0.5), 0.5), 0, 1), 255)), 255));
}

export function inceptionSpace(weights: InceptionWeights): FeatureSpace {
  const model = new InceptionV3Fid(weights);
  const div = weights.plan.config.widthDivisor;
  return {
    id: 'inception-v3-fid',
    label: div === 1 ? INCEPTION_SPACE_LABEL : `Inception-v3 pool3, width ÷${div} (test network)`,
    dim: model.features,
    classes: model.classes,
    weightsSha256: weights.sha256,
    embed(images) {
      const { pool3, logits } = model.forward(images);
      return { features: pool3, logits };
    },
    dispose: () => model.dispose(),
  };
}

/** Area weights of adaptive average pooling from `size` to `out` bins (torch's bin edges ⌊i·n/out⌋, ⌈(i+1)·n/out⌉). */
function poolMatrix(size: number, out: number): Float32Array {
  const m = new Float32Array(size * out); // [size, out]
  for (let i = 0; i < out; i++) {
    const a = Math.floor((i * size) / out);
    const b = Math.ceil(((i + 1) * size) / out);
    for (let k = a; k < b; k++) m[k * out + i] = 1 / (b - a);
  }
  return m;
}

export const PIXEL_GRID = 8;

export function pixelSpace(): FeatureSpace {
  const g = PIXEL_GRID;
  return {
    id: 'pixel-8x8',
    label: PIXEL_SPACE_LABEL,
    dim: g * g * 3,
    classes: null,
    weightsSha256: null,
    embed(images) {
      const features = tf.tidy(() => {
        const [n, h, w, c] = images.shape;
        if (c !== 1 && c !== 3) throw new Error(`pixel features: images must have 1 or 3 channels, got ${c}`);
        const x = c === 1 ? tf.tile(images, [1, 1, 1, 3]) : images;
        // pool along W: [n, h, 3, w] · [w, g] → [n, h, 3, g]
        const xw = tf.matMul(
          tf.reshape(tf.transpose(x, [0, 1, 3, 2]), [n * h * 3, w]),
          tf.tensor2d(poolMatrix(w, g), [w, g]),
        );
        // [n, h, 3, g] → [n, 3, g, h] · [h, g] → [n, 3, g(w), g(h)]
        const xh = tf.matMul(
          tf.reshape(tf.transpose(tf.reshape(xw, [n, h, 3, g]), [0, 2, 3, 1]), [n * 3 * g, h]),
          tf.tensor2d(poolMatrix(h, g), [h, g]),
        );
        // → [n, g(h), g(w), 3] flattened: features in (row, column, channel) order
        return tf.reshape(tf.transpose(tf.reshape(xh, [n, 3, g, g]), [0, 3, 2, 1]), [n, g * g * 3]) as tf.Tensor2D;
      });
      return { features, logits: null };
    },
    dispose: () => undefined,
  };
}
