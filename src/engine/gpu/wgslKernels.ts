/**
 * The hand-written WGSL kernel set for tfjs-webgpu: implicit-GEMM convolutions, a split-K filter
 * gradient, fused GroupNorm(+SiLU), dropout with its mask drawn on the GPU, one-kernel reductions and
 * buffer copies for the optimiser's flat buffers. Where a kernel does not take a shape (channels not
 * a multiple of 4, a tensor of odd size), the tfjs op of nets/tfjsKernels.ts runs instead.
 */
import { tf } from '../tf';
import { samePad, tfjsKernels } from '../nets/tfjsKernels';
import type { KernelSet } from './kernelSet';
import { conv2dGpu, conv2dGpuApplies, matMulGpu } from './conv2d';
import { convFilterBiasGrad } from './convFilterGrad';
import { groupNormActGpu } from './groupNorm';
import { sumOfSquaresGpu, sumSpatialGpu } from './sumLeading';
import { dropoutGpu, dropoutGpuApplies } from './dropout';
import { concatFlat, copyFlatInto } from './flatCopy';
import { adamStepInPlace, addInto, submitPending } from './inPlace';
import { conv2dWinograd, winogradPays } from './winograd';
import { convFilterBiasGradWinograd } from './winogradFilterGrad';

/** x ⊛ filter (+ bias) with stride s, padding pt/pl before, output oh × ow: conv2dGpu's signature. */
export type ExplicitConv = (
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D | null,
  stride: number,
  padTop: number,
  padLeft: number,
  oh: number,
  ow: number,
) => tf.Tensor4D;

/**
 * Input gradient of a k×k 'same' stride-s convolution as a stride-1 convolution (`conv`) of dy with
 * the spatially flipped, in/out-transposed filter, which ran 3-5x faster on the H100 than either of
 * tfjs' transposed-convolution kernels. For stride 2, dy is first spread onto the input grid with
 * zeros between (4x the multiplies, still faster than the transposed kernel). Channels that `conv`
 * does not take (`applies`) go to tfjs' convolutions.
 */
export function convInputGradVia(conv: ExplicitConv, applies: (cin: number, cout: number) => boolean) {
  return (
    dy: tf.Tensor4D,
    filter: tf.Tensor4D,
    xShape: [number, number, number, number],
    stride: 1 | 2,
  ): tf.Tensor4D => {
    const k = filter.shape[0];
    const [n, h, w, cin] = xShape;
    const [, oh, ow, cout] = dy.shape;
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    if (stride === 1 && k % 2 === 1) {
      const p = (k - 1) / 2;
      if (applies(cout, cin)) return conv(dy, flipped, null, 1, p, p, h, w);
      return tf.fused.conv2d({ x: dy, filter: flipped, strides: 1, pad: 'same' });
    }
    if (stride !== 2) return tf.conv2dTranspose(dy, filter, xShape, stride, 'same');
    // up[s·o] = dy[o], zero elsewhere; dx[y] = Σ_i up[y + pt − i]·W[i] = a valid conv of up padded
    // by k−1−pt before and (h + pt − s·oh) after (negative: crop).
    // Two 4-D pads (tfjs-webgpu's pad shader does not compile for rank 5).
    const cols = tf.reshape(
      tf.pad(tf.reshape(dy, [n * oh, ow, 1, cout]), [
        [0, 0],
        [0, 0],
        [0, 1],
        [0, 0],
      ]),
      [n * oh, 1, 2 * ow, cout],
    );
    const up = tf.reshape(
      tf.pad(cols, [
        [0, 0],
        [0, 1],
        [0, 0],
        [0, 0],
      ]),
      [n, 2 * oh, 2 * ow, cout],
    ) as tf.Tensor4D;
    const [pt] = samePad(h, k, 2);
    const [pl] = samePad(w, k, 2);
    const after = (size: number, p: number, o: number) => size + p - 2 * o;
    const ab = after(h, pt, oh);
    const ar = after(w, pl, ow);
    const cropped =
      ab < 0 || ar < 0 ? tf.slice(up, [0, 0, 0, 0], [n, 2 * oh + Math.min(ab, 0), 2 * ow + Math.min(ar, 0), cout]) : up;
    const padded = tf.pad(cropped, [
      [0, 0],
      [k - 1 - pt, Math.max(ab, 0)],
      [k - 1 - pl, Math.max(ar, 0)],
      [0, 0],
    ]) as tf.Tensor4D;
    const dx = applies(cout, cin) ? conv(padded, flipped, null, 1, 0, 0, h, w) : tf.conv2d(padded, flipped, 1, 'valid');
    if (dx.shape[1] !== h || dx.shape[2] !== w || dx.shape[3] !== cin)
      throw new Error('convInputGrad: internal shape error');
    return dx;
  };
}

const directInputGrad = convInputGradVia(conv2dGpu, conv2dGpuApplies);

/** A dense input gradient with at most this many rows goes to tfjs' matMul (see denseInputGrad). */
const SMALL_DENSE_ROWS = 1024;

export const wgslKernels: KernelSet = {
  name: 'wgsl',
  groupNormAct: (x, gamma, beta, groups, eps, act) => groupNormActGpu(x, gamma, beta, groups, eps.value, act),
  conv2dSame(x, filter, bias, stride) {
    const [, h, w, cin] = x.shape;
    const k = filter.shape[0];
    if (!conv2dGpuApplies(cin, filter.shape[3])) return tfjsKernels.conv2dSame(x, filter, bias, stride);
    if (stride === 1 && k === 3 && winogradPays(x.shape[0], h, w, cin, filter.shape[3])) {
      const y = conv2dWinograd(x, filter, bias);
      if (y) return y;
    }
    return conv2dGpu(
      x,
      filter,
      bias,
      stride,
      samePad(h, k, stride)[0],
      samePad(w, k, stride)[0],
      Math.ceil(h / stride),
      Math.ceil(w / stride),
    );
  },
  conv2dSameInputGrad(dy, filter, xShape, stride) {
    if (
      stride === 1 &&
      filter.shape[0] === 3 &&
      winogradPays(xShape[0], xShape[1], xShape[2], dy.shape[3], xShape[3])
    ) {
      const dx = conv2dWinograd(dy, filter, null, true);
      if (dx) return dx;
    }
    return directInputGrad(dy, filter, xShape, stride);
  },
  conv2dSameFilterBiasGrad(x, dy, k, stride) {
    const [n, h, w, cin] = x.shape;
    if (stride === 1 && k === 3 && winogradPays(n, h, w, cin, dy.shape[3], true)) {
      const grads = convFilterBiasGradWinograd(x, dy);
      if (grads) return grads;
    }
    return convFilterBiasGrad(x, dy, k, stride, samePad(x.shape[1], k, stride)[0], samePad(x.shape[2], k, stride)[0]);
  },
  dense: (x, w, b) => (conv2dGpuApplies(w.shape[0], w.shape[1]) ? matMulGpu(x, w, b) : tfjsKernels.dense(x, w, b)),
  // Few rows (the time embedding's, one per image): tfjs' matMul reads w transposed in place, one dispatch where a
  // transpose and our product took two. Many rows (1x1 convolutions and attention's projections run as dense
  // layers over every pixel): our product, ~3.5x faster than tfjs' on [65536, 256] x [256, 256] on the H200.
  denseInputGrad: (dy, w) =>
    dy.shape[0] <= SMALL_DENSE_ROWS || !conv2dGpuApplies(w.shape[0], w.shape[1])
      ? tfjsKernels.denseInputGrad(dy, w)
      : tf.tidy(() => matMulGpu(dy, tf.transpose(w), null)),
  denseWeightBiasGrad(x, dy) {
    const [m, cin] = x.shape;
    const cout = dy.shape[1];
    return tf.tidy(() => {
      const [dw, db] = convFilterBiasGrad(tf.reshape(x, [1, 1, m, cin]), tf.reshape(dy, [1, 1, m, cout]), 1, 1, 0, 0);
      return [tf.reshape(dw, [cin, cout]), db];
    });
  },
  sumSpatial: sumSpatialGpu,
  dropout: (x, rate, words) => {
    if (!dropoutGpuApplies(x.size)) return tfjsKernels.dropout(x, rate, words);
    const op = tf.customGrad((xi) => ({
      value: dropoutGpu(xi as tf.Tensor, rate, words),
      gradFunc: (dy: tf.Tensor) => dropoutGpu(dy, rate, words),
    }));
    return op(x) as typeof x;
  },
  sumOfSquares: sumOfSquaresGpu,
  concatFlat: (parts) => concatFlat(parts) ?? tfjsKernels.concatFlat(parts),
  copyFlatInto,
  adamInPlace: adamStepInPlace,
  addInto,
  submitPending,
};
