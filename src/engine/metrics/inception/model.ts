/**
 * The FID Inception-v3 forward pass in tfjs (NHWC; any backend). BatchNorm is folded into the
 * convolutions (weights.ts), so every BasicConv2d is one fused conv2d + bias + ReLU.
 * Input: images in [0, 1], NHWC, 1 or 3 channels (grey is repeated, as pytorch-fid's RGB
 * conversion does), any size: resized bilinearly to 299×299 with half-pixel centres (= torch's
 * F.interpolate(mode='bilinear', align_corners=False)), then scaled to [−1, 1].
 * Output: pool3 (the 2048-d average-pooled features FID uses) and the classifier logits without bias
 * (what the Inception Score uses; see inceptionScore.ts).
 */
import { tf } from '../../tf';
import type { BlockSpec, ConvSpec } from './architecture';
import type { InceptionWeights } from './weights';

export const INCEPTION_SIZE = 299;

interface ConvVars {
  spec: ConvSpec;
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
}

export class InceptionV3Fid {
  private readonly convs = new Map<string, ConvVars>();
  private readonly fcT: tf.Tensor2D;
  readonly features: number;
  readonly classes: number;
  readonly fcBias: Float32Array;

  constructor(readonly weights: InceptionWeights) {
    const { plan } = weights;
    for (const spec of plan.convs.values()) {
      const w = weights.convs.get(spec.name)!;
      this.convs.set(spec.name, {
        spec,
        filter: tf.tensor4d(w.filter, [spec.kh, spec.kw, spec.cin, spec.cout]),
        bias: tf.tensor1d(w.bias),
      });
    }
    this.features = plan.features;
    this.classes = plan.config.classes;
    this.fcT = tf.tensor2d(weights.fcT, [plan.features, plan.config.classes]);
    this.fcBias = weights.fcBias;
  }

  private conv(x: tf.Tensor4D, name: string): tf.Tensor4D {
    const c = this.convs.get(name);
    if (!c) throw new Error(`Inception: no convolution ${name}`);
    return tf.fused.conv2d({
      x,
      filter: c.filter,
      strides: c.spec.stride,
      pad: c.spec.pad,
      bias: c.bias,
      activation: 'relu',
    });
  }

  private chain(x: tf.Tensor4D, ...names: string[]): tf.Tensor4D {
    return names.reduce((h, n) => this.conv(h, n), x);
  }

  private block(x: tf.Tensor4D, b: BlockSpec): tf.Tensor4D {
    const p = (s: string) => `${b.name}.${s}`;
    // TensorFlow's 'same' pooling ignores the padding, i.e. count_include_pad=False (and −∞ padding for max)
    const avg = () => tf.avgPool(x, 3, 1, 'same');
    switch (b.kind) {
      case 'A':
        return tf.concat(
          [
            this.conv(x, p('branch1x1')),
            this.chain(x, p('branch5x5_1'), p('branch5x5_2')),
            this.chain(x, p('branch3x3dbl_1'), p('branch3x3dbl_2'), p('branch3x3dbl_3')),
            this.conv(avg(), p('branch_pool')),
          ],
          3,
        );
      case 'B':
        return tf.concat(
          [
            this.conv(x, p('branch3x3')),
            this.chain(x, p('branch3x3dbl_1'), p('branch3x3dbl_2'), p('branch3x3dbl_3')),
            tf.maxPool(x, 3, 2, 'valid'),
          ],
          3,
        );
      case 'C':
        return tf.concat(
          [
            this.conv(x, p('branch1x1')),
            this.chain(x, p('branch7x7_1'), p('branch7x7_2'), p('branch7x7_3')),
            this.chain(
              x,
              p('branch7x7dbl_1'),
              p('branch7x7dbl_2'),
              p('branch7x7dbl_3'),
              p('branch7x7dbl_4'),
              p('branch7x7dbl_5'),
            ),
            this.conv(avg(), p('branch_pool')),
          ],
          3,
        );
      case 'D':
        return tf.concat(
          [
            this.chain(x, p('branch3x3_1'), p('branch3x3_2')),
            this.chain(x, p('branch7x7x3_1'), p('branch7x7x3_2'), p('branch7x7x3_3'), p('branch7x7x3_4')),
            tf.maxPool(x, 3, 2, 'valid'),
          ],
          3,
        );
      case 'E1':
      case 'E2': {
        const b3 = this.conv(x, p('branch3x3_1'));
        const bd = this.chain(x, p('branch3x3dbl_1'), p('branch3x3dbl_2'));
        // pytorch-fid's FIDInceptionE_2 max-pools here (as the TF graph does); E_1 average-pools
        const pooled = b.kind === 'E1' ? avg() : tf.maxPool(x, 3, 1, 'same');
        return tf.concat(
          [
            this.conv(x, p('branch1x1')),
            this.conv(b3, p('branch3x3_2a')),
            this.conv(b3, p('branch3x3_2b')),
            this.conv(bd, p('branch3x3dbl_3a')),
            this.conv(bd, p('branch3x3dbl_3b')),
            this.conv(pooled, p('branch_pool')),
          ],
          3,
        );
      }
    }
  }

  /** [0, 1] images of any size and 1 or 3 channels → the network's 299×299×3 input in [−1, 1]. */
  static preprocess(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [, h, w, c] = images.shape;
      if (c !== 1 && c !== 3) throw new Error(`Inception: images must have 1 or 3 channels, got ${c}`);
      let x: tf.Tensor4D = c === 1 ? tf.tile(images, [1, 1, 1, 3]) : images;
      if (h !== INCEPTION_SIZE || w !== INCEPTION_SIZE)
        x = tf.image.resizeBilinear(x, [INCEPTION_SIZE, INCEPTION_SIZE], false, true);
      return tf.sub(tf.mul(x, 2), 1);
    });
  }

  /** pool3 [n, features] and bias-free logits [n, classes] of a batch of [0, 1] images. */
  forward(images: tf.Tensor4D): { pool3: tf.Tensor2D; logits: tf.Tensor2D } {
    return tf.tidy(() => {
      let x = InceptionV3Fid.preprocess(images);
      x = this.chain(x, 'Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3');
      x = tf.maxPool(x, 3, 2, 'valid');
      x = this.chain(x, 'Conv2d_3b_1x1', 'Conv2d_4a_3x3');
      x = tf.maxPool(x, 3, 2, 'valid');
      for (const b of this.weights.plan.blocks) x = this.block(x, b);
      const pool3 = tf.mean(x, [1, 2]) as tf.Tensor2D;
      return { pool3, logits: tf.matMul(pool3, this.fcT) };
    });
  }

  dispose(): void {
    for (const c of this.convs.values()) tf.dispose([c.filter, c.bias]);
    this.fcT.dispose();
  }
}
