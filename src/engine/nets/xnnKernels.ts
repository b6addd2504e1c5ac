/**
 * The tfjs kernel set with both convolution gradients written as forward convolutions, for tfjs' WebAssembly
 * backend: there XNNPACK runs Conv2D at ~25-30 GFLOP/s on one core, while Conv2DBackpropInput and the im2col
 * filter gradient's transposed product are ~8-12× slower (measured on this project's 2-core CI machine; other
 * transposed and batched products go fast through engine/wasmKernels.ts). Same arithmetic as tfjsKernels up to
 * summation order; checked against it in test/unit/nets/xnnKernels.test.ts.
 */
import { tf } from '../tf';
import type { KernelSet } from '../gpu/kernelSet';
import { samePad, tfjsKernels } from './tfjsKernels';

/**
 * dx of a stride-1 'same' convolution with an odd k×k filter: the convolution of dy with the filter turned
 * 180° and its in/out channels swapped, 'same' again. Other strides keep tfjs' transposed convolution.
 */
function inputGrad(dy: tf.Tensor4D, filter: tf.Tensor4D, xShape: [number, number, number, number], stride: number) {
  const k = filter.shape[0];
  if (stride !== 1 || k % 2 === 0 || filter.shape[1] !== k) {
    return tf.conv2dTranspose(dy, filter, xShape, stride, 'same');
  }
  return tf.tidy(() => {
    const turned = k === 1 ? filter : tf.reverse(filter, [0, 1]);
    return tf.conv2d(dy, tf.transpose(turned, [0, 1, 3, 2]) as tf.Tensor4D, 1, 'same');
  });
}

/**
 * dW of a 'same' k×k convolution as one forward convolution: channels become the batch and the batch becomes
 * channels, dW[i,j,c,o] = Σ_{n,y,x} xpad[n,s·y+i,s·x+j,c]·dy[n,y,x,o] = conv(xpadᵀ [c,Hp,Wp,n], dyᵀ [oh,ow,n,o],
 * 'valid', dilation s) [c,i,j,o] (the dilation walks dy's positions at the stride's spacing over xpad).
 */
function filterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, stride: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  return tf.tidy(() => {
    const [pt, pb] = samePad(h, k, stride);
    const [pl, pr] = samePad(w, k, stride);
    const xp = tf.pad(x, [
      [0, 0],
      [pt, pb],
      [pl, pr],
      [0, 0],
    ]);
    const dw = tf.conv2d(
      tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D,
      tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D,
      1,
      'valid',
      'NHWC',
      stride,
    );
    // 'same' padding can leave a row or column beyond the last window: those outputs are not filter taps.
    const taps = dw.shape[1] === k && dw.shape[2] === k ? dw : tf.slice(dw, [0, 0, 0, 0], [-1, k, k, -1]);
    return tf.transpose(taps, [1, 2, 0, 3]);
  });
}

/** What copyFlatInto needs of tfjs-backend-wasm: a tensor's bytes on the WebAssembly heap. */
interface WasmHeapBackend {
  typedArrayFromHeap(t: { shape: number[]; dtype: string; dataId: object }): Float32Array;
}

/**
 * Gives each variable its part of the flat master weights as a new tensor copied from the WebAssembly heap:
 * tfjs-wasm's Slice reads its whole input per call (~0.23 ms per slice of the tiny model's 177k weights, 144 a
 * step). Not in place: XNNPACK keeps each convolution's filter packed in a cache keyed by the tensor, so bytes
 * written behind tfjs' back would leave it convolving with the old weights.
 */
function copyFlatIntoHeap(flat: tf.Tensor1D, targets: tf.Tensor[], offsets: number[]): boolean {
  if (tf.getBackend() !== 'wasm' || !targets.every((t) => t instanceof tf.Variable && t.dtype === 'float32')) {
    return false;
  }
  const src = (tf.backend() as unknown as WasmHeapBackend).typedArrayFromHeap(flat);
  const parts = targets.map((t, i) => src.slice(offsets[i]!, offsets[i]! + t.size));
  targets.forEach((t, i) => {
    const fresh = tf.tensor(parts[i]!, t.shape, 'float32');
    (t as tf.Variable).assign(fresh);
    fresh.dispose();
  });
  return true;
}

export const xnnKernels: KernelSet = {
  ...tfjsKernels,
  name: 'tfjs-xnn',
  conv2dSameInputGrad: inputGrad,
  conv2dSameFilterBiasGrad: (x, dy, k, stride) => [filterGrad(x, dy, k, stride), tf.sum(dy, [0, 1, 2])],
  copyFlatInto: copyFlatIntoHeap,
};
