/**
 * The operations of the engine that have more than one implementation: the TensorFlow.js-op set
 * (every backend), the hand-written WGSL set (webgpu on a GPU) and its variant for software adapters
 * (webgpu on llvmpipe). The network (nets/ops.ts) and the optimiser
 * ask registry.ts for the active set instead of branching on the backend themselves.
 *
 * The forward ops (groupNormAct, dropout) are differentiable on their own. conv2dSame and dense
 * return values only: nets/ops.ts wraps them in tf.customGrad and calls the *Grad members, from the
 * same set, in the backward pass. Every method returns new tensors owned by the caller.
 */
import type { tf } from '../tf';
import type { DropoutWords } from '../philox';
import type { AdamStepState, AdamStepValues } from './inPlace';

export const KERNEL_SET_NAMES = ['tfjs', 'wgsl', 'wgsl-cpu', 'tfjs-xnn'] as const;
export type KernelSetName = (typeof KERNEL_SET_NAMES)[number];

/** GroupNorm's epsilon as a kept scalar tensor (tfjs ops) and as its value (baked into WGSL). */
export interface NormEps {
  tensor: tf.Scalar;
  value: number;
}

export interface KernelSet {
  readonly name: KernelSetName;
  /** act(GroupNorm(x)) over NHWC x, act = SiLU (`act` true) or identity; differentiable. */
  groupNormAct(
    x: tf.Tensor4D,
    gamma: tf.Tensor,
    beta: tf.Tensor,
    groups: number,
    eps: NormEps,
    act: boolean,
  ): tf.Tensor4D;
  /** k×k 'same' convolution (TensorFlow's padding) of NHWC x, plus bias. */
  conv2dSame(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, stride: 1 | 2): tf.Tensor4D;
  /** dx of conv2dSame for the output gradient dy. */
  conv2dSameInputGrad(
    dy: tf.Tensor4D,
    filter: tf.Tensor4D,
    xShape: [number, number, number, number],
    stride: 1 | 2,
  ): tf.Tensor4D;
  /** [dfilter, dbias] of conv2dSame. */
  conv2dSameFilterBiasGrad(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, stride: 1 | 2): [tf.Tensor4D, tf.Tensor1D];
  /** x [M, cin] · w [cin, cout] + b: 1×1 convolutions and attention projections. */
  dense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D;
  /** dy · wᵀ: dx of dense. */
  denseInputGrad(dy: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D;
  /** [xᵀ · dy, Σ over rows of dy]: dw and db of dense. */
  denseWeightBiasGrad(x: tf.Tensor2D, dy: tf.Tensor2D): [tf.Tensor2D, tf.Tensor1D];
  /** Σ over H and W of NHWC x → [N, C]. */
  sumSpatial(x: tf.Tensor4D): tf.Tensor2D;
  /** x · keep / (1 − rate) with the Philox mask of `words` (the same bits in every set); differentiable. */
  dropout<T extends tf.Tensor>(x: T, rate: number, words: DropoutWords): T;
  /** Σ x² over all elements. */
  sumOfSquares(x: tf.Tensor): tf.Scalar;
  /** The tensors flattened back to back into one new 1-D tensor. */
  concatFlat(parts: tf.Tensor[]): tf.Tensor1D;
  /**
   * Writes flat[offsets[i] .. + size] into targets[i] in place; false when this set cannot (nothing
   * was written), and the caller assigns slices instead.
   */
  copyFlatInto(flat: tf.Tensor1D, targets: tf.Tensor[], offsets: number[]): boolean;
  /**
   * One Adam update (and EMA update) of the flat state in place, from `grad` scaled by `coef`; false
   * when this set cannot (nothing was written), and the caller runs the update as ops.
   */
  adamInPlace(state: AdamStepState, grad: tf.Tensor1D, coef: tf.Scalar, values: AdamStepValues): boolean;
  /** acc += x in place; false when this set cannot (nothing was written), and the caller adds. */
  addInto(acc: tf.Tensor, x: tf.Tensor): boolean;
  /** Makes the buffers of tensors disposed so far reusable now (webgpu: submits what was recorded). */
  submitPending(): void;
}
