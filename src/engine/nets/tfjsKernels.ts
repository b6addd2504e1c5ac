/**
 * The kernel set written with TensorFlow.js ops only: it runs on every backend (cpu, tensorflow,
 * webgpu) and is the reference the WGSL sets are tested against. Hand-written gradients
 * (tf.customGrad) cut the number of kernels of the backward pass: autodiff of GroupNorm costs ~23
 * kernels, the analytic gradient 12; autodiff of x*sigmoid(x) costs 6, the analytic one 4.
 */
import { tf } from '../tf';
import { dropoutMask, type DropoutWords } from '../philox';
import type { KernelSet } from '../gpu/kernelSet';

/** SiLU (swish): x * sigmoid(x); gradient dz * (s + z - z*s) with s = sigmoid(x), z = x*s. */
export function silu<T extends tf.Tensor>(x: T): T {
  const op = tf.customGrad((xi, save) => {
    const xt = xi as tf.Tensor;
    const s = tf.sigmoid(xt);
    const z = tf.mul(xt, s);
    (save as tf.GradSaveFunc)([s, z]);
    return {
      value: z,
      gradFunc: (dz: tf.Tensor, saved: tf.Tensor[]) => {
        const [ss, zz] = saved as [tf.Tensor, tf.Tensor];
        return tf.mul(dz, tf.add(ss, tf.sub(zz, tf.mul(zz, ss))));
      },
    };
  });
  return op(x) as T;
}

/**
 * GroupNorm over NHWC x with `groups` contiguous channel groups (as torch.nn.GroupNorm):
 * per (sample, group) mean and biased variance over H, W and the group's channels;
 * y = (x - mean) / sqrt(var + eps) * gamma + beta.
 * `eps` is a scalar tensor owned by the caller (kept across calls to avoid re-uploading it).
 */
export function groupNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  groups: number,
  eps: tf.Scalar,
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (c % groups !== 0) throw new Error(`groupNorm: ${c} channels are not divisible by ${groups} groups`);
  const cg = c / groups;
  const shape5: [number, number, number, number, number] = [n, h, w, groups, cg];
  const axes = [1, 2, 4];
  const op = tf.customGrad((xi, gi, bi, save) => {
    const x5 = tf.reshape(xi as tf.Tensor, shape5);
    const mean = tf.mean(x5, axes, true);
    const d = tf.sub(x5, mean);
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(d), axes, true), eps)); // [n,1,1,G,1]
    const gamma2 = tf.reshape(gi as tf.Tensor, [groups, cg]);
    const y = tf.add(tf.mul(d, tf.mul(r, gamma2)), tf.reshape(bi as tf.Tensor, [groups, cg]));
    (save as tf.GradSaveFunc)([d, r]);
    return {
      value: tf.reshape(y, [n, h, w, c]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [ds, rs] = saved as [tf.Tensor, tf.Tensor];
        const dy5 = tf.reshape(dy, shape5);
        const xhat = tf.mul(ds, rs);
        const g = tf.mul(dy5, tf.reshape(gamma, [groups, cg]));
        const m1 = tf.mean(g, axes, true);
        const m2 = tf.mean(tf.mul(g, xhat), axes, true);
        const dx = tf.mul(tf.sub(tf.sub(g, m1), tf.mul(xhat, m2)), rs);
        // Summed as [n·h·w, c] rows: the same sums, and tfjs-wasm reduces a 5-D tensor's leading axes ~20× slower.
        const rows = [n * h * w, c];
        const dgamma = tf.sum(tf.reshape(tf.mul(dy5, xhat), rows), 0);
        const dbeta = tf.sum(tf.reshape(dy5, rows), 0);
        return [tf.reshape(dx, [n, h, w, c]), tf.reshape(dgamma, [c]), tf.reshape(dbeta, [c])];
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}

/** GroupNorm written with plain ops (autodiff gradient); the reference for tests. */
export function groupNormPlain(
  x: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  groups: number,
  eps: number,
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const cg = c / groups;
  const x5 = tf.reshape(x, [n, h, w, groups, cg]);
  const { mean, variance } = tf.moments(x5, [1, 2, 4], true);
  const y = tf.add(
    tf.mul(tf.div(tf.sub(x5, mean), tf.sqrt(tf.add(variance, eps))), tf.reshape(gamma, [groups, cg])),
    tf.reshape(beta, [groups, cg]),
  );
  return tf.reshape(y, [n, h, w, c]);
}

/** Explicit 'same' padding [before, after] of a k×k, stride-s convolution, as TensorFlow computes it. */
export function samePad(size: number, k: number, s: number): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + k - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Largest im2col patch matrix built at once (bytes); see convFilterGrad. */
let patchBytesLimit = 512 * 2 ** 20;

/** For tests: a small limit exercises the batch-sliced path on tiny shapes. */
export function setPatchBytesLimit(bytes: number): void {
  patchBytesLimit = bytes;
}

/**
 * The filter gradient of a k×k 'same' convolution as one matrix product: the k² shifted (strided)
 * views of the padded input side by side (im2col), transposed, times dy. tfjs' own
 * Conv2DBackpropFilter is a naive kernel, ~4× slower than this on llvmpipe and the bulk of GPU time
 * on a real GPU.
 */
export function convFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, stride: number): tf.Tensor4D {
  const [n, h, w, cin] = x.shape;
  const [, oh, ow, cout] = dy.shape;
  // WebGPU binds at most 2 GiB per storage buffer (and big temporaries cost memory): build the
  // patch matrix for a slice of the batch at a time and add the partial products.
  const bytesPerImage = oh * ow * k * k * cin * 4;
  const per = Math.max(1, Math.min(n, Math.floor(patchBytesLimit / bytesPerImage)));
  if (per < n) {
    const parts: tf.Tensor4D[] = [];
    for (let b = 0; b < n; b += per) {
      const m = Math.min(per, n - b);
      parts.push(
        tf.tidy(() =>
          convFilterGrad(
            tf.slice(x, [b, 0, 0, 0], [m, h, w, cin]),
            tf.slice(dy, [b, 0, 0, 0], [m, oh, ow, cout]),
            k,
            stride,
          ),
        ),
      );
    }
    let acc = parts[0]!;
    for (let i = 1; i < parts.length; i++) acc = tf.add(acc, parts[i]!);
    return acc;
  }
  const [pt, pb] = samePad(h, k, stride);
  const [pl, pr] = samePad(w, k, stride);
  const xp =
    pt + pb + pl + pr > 0
      ? tf.pad(x, [
          [0, 0],
          [pt, pb],
          [pl, pr],
          [0, 0],
        ])
      : x;
  const cols: tf.Tensor4D[] = [];
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const end = [n, i + (oh - 1) * stride + 1, j + (ow - 1) * stride + 1, cin];
      cols.push(
        stride === 1
          ? tf.slice(xp, [0, i, j, 0], [n, oh, ow, cin])
          : (tf.stridedSlice(xp, [0, i, j, 0], end, [1, stride, stride, 1]) as tf.Tensor4D),
      );
    }
  }
  const patches = tf.reshape(cols.length === 1 ? cols[0]! : tf.concat(cols, 3), [n * oh * ow, k * k * cin]);
  const dw = tf.matMul(patches, tf.reshape(dy, [n * oh * ow, cout]), true, false);
  return tf.reshape(dw, [k, k, cin, cout]);
}

export const tfjsKernels: KernelSet = {
  name: 'tfjs',
  groupNormAct(x, gamma, beta, groups, eps, act) {
    const y = groupNorm(x, gamma, beta, groups, eps.tensor);
    return act ? silu(y) : y;
  },
  conv2dSame: (x, filter, bias, stride) => tf.fused.conv2d({ x, filter, strides: stride, pad: 'same', bias }),
  conv2dSameInputGrad: (dy, filter, xShape, stride) => tf.conv2dTranspose(dy, filter, xShape, stride, 'same'),
  conv2dSameFilterBiasGrad: (x, dy, k, stride) => [convFilterGrad(x, dy, k, stride), tf.sum(dy, [0, 1, 2])],
  dense: (x, w, b) => tf.fused.matMul({ a: x, b: w, bias: b }) as tf.Tensor2D,
  denseInputGrad: (dy, w) => tf.matMul(dy, w, false, true),
  denseWeightBiasGrad: (x, dy) => [tf.matMul(x, dy, true, false), tf.sum(dy, 0)],
  sumSpatial: (x) => tf.reshape(tf.sum(x, [1, 2]), [x.shape[0], x.shape[3]]) as tf.Tensor2D,
  dropout: <T extends tf.Tensor>(x: T, rate: number, words: DropoutWords) =>
    tf.mul(x, tf.tensor(dropoutMask(x.size, rate, words), x.shape, 'float32')) as T,
  sumOfSquares: (x) => tf.sum(tf.square(x)),
  concatFlat: (parts) => tf.tidy(() => tf.concat(parts.map((t) => tf.reshape(t, [-1]))) as tf.Tensor1D),
  copyFlatInto: () => false,
  adamInPlace: () => false,
  addInto: () => false,
  submitPending: () => {},
};
