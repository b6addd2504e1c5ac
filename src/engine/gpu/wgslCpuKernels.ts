/**
 * The WGSL kernel set for software WebGPU adapters (Mesa's llvmpipe: the GPU-less machine's default):
 * the WGSL set with its convolutions, dense layers and GroupNorm reductions replaced by kernels that
 * keep a block of outputs per invocation in registers and use no workgroup memory (laneConv.ts,
 * groupNorm.ts 'lane'), several times faster there and slower on a real GPU.
 */
import { tf } from '../tf';
import { samePad } from '../nets/tfjsKernels';
import type { KernelSet } from './kernelSet';
import { conv2dGpuApplies } from './conv2d';
import { convInputGradVia, wgslKernels } from './wgslKernels';
import { groupNormActGpu } from './groupNorm';
import { laneConv2d, laneFilterBiasGrad, laneMatMul } from './laneConv';

/** The lane kernels load 4 channels at a time, as the WGSL set's. */
const applies = conv2dGpuApplies;

export const wgslCpuKernels: KernelSet = {
  ...wgslKernels,
  name: 'wgsl-cpu',
  groupNormAct: (x, gamma, beta, groups, eps, act) => groupNormActGpu(x, gamma, beta, groups, eps.value, act, 'lane'),
  conv2dSame(x, filter, bias, stride) {
    const [, h, w, cin] = x.shape;
    const k = filter.shape[0];
    if (!applies(cin, filter.shape[3])) return wgslKernels.conv2dSame(x, filter, bias, stride);
    const [oh, ow] = [Math.ceil(h / stride), Math.ceil(w / stride)];
    return laneConv2d(x, filter, bias, stride, samePad(h, k, stride)[0], samePad(w, k, stride)[0], oh, ow);
  },
  conv2dSameInputGrad: convInputGradVia(laneConv2d, applies),
  conv2dSameFilterBiasGrad(x, dy, k, stride) {
    if (!applies(x.shape[3], dy.shape[3])) return wgslKernels.conv2dSameFilterBiasGrad(x, dy, k, stride);
    return laneFilterBiasGrad(x, dy, k, stride, samePad(x.shape[1], k, stride)[0], samePad(x.shape[2], k, stride)[0]);
  },
  dense: (x, w, b) => (applies(w.shape[0], w.shape[1]) ? laneMatMul(x, w, b) : wgslKernels.dense(x, w, b)),
  denseInputGrad: (dy, w) =>
    applies(w.shape[0], w.shape[1])
      ? tf.tidy(() => laneMatMul(dy, tf.transpose(w), null))
      : wgslKernels.denseInputGrad(dy, w),
  denseWeightBiasGrad(x, dy) {
    const [m, cin] = x.shape;
    const cout = dy.shape[1];
    if (!applies(cin, cout)) return wgslKernels.denseWeightBiasGrad(x, dy);
    return tf.tidy(() => {
      const [dw, db] = laneFilterBiasGrad(tf.reshape(x, [1, 1, m, cin]), tf.reshape(dy, [1, 1, m, cout]), 1, 1, 0, 0);
      return [tf.reshape(dw, [cin, cout]), db];
    });
  },
};
