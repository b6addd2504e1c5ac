/**
 * Building blocks of the UNet with hand-written gradients (tf.customGrad), to cut the number of
 * kernels of the backward pass: autodiff of GroupNorm costs ~23 kernels, the analytic gradient 12;
 * autodiff of x*sigmoid(x) costs 6, the analytic one 4. The forward passes are plain tfjs ops.
 */
import { tf } from '../tf';
import { convFilterBiasGrad } from '../gpu/convFilterGrad';
import { conv2dGpu, conv2dGpuApplies, matMulGpu } from '../gpu/conv2d';
import { groupNormActGpu } from '../gpu/groupNorm';
import { sumSpatialGpu } from '../gpu/sumLeading';
import { dropoutGpu, dropoutGpuApplies } from '../gpu/dropout';
import { dropoutMask, type DropoutWords } from '../philox';

let fastKernelsWanted = process.env.SADPM_FAST_KERNELS !== '0';

/** Turns the hand-written WebGPU kernels on or off (tests compare both paths; SADPM_FAST_KERNELS=0 starts off). */
export function setFastKernels(on: boolean): void {
  fastKernelsWanted = on;
}

/** Whether the hand-written WebGPU kernels run: wanted, and the active backend is webgpu. */
export function fastKernels(): boolean {
  return fastKernelsWanted && tf.getBackend() === 'webgpu';
}

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
export function groupNorm(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, groups: number, eps: tf.Scalar): tf.Tensor4D {
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
        const dgamma = tf.sum(tf.mul(dy5, xhat), [0, 1, 2]);
        const dbeta = tf.sum(dy5, [0, 1, 2]);
        return [tf.reshape(dx, [n, h, w, c]), tf.reshape(dgamma, [c]), tf.reshape(dbeta, [c])];
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}

/**
 * act(GroupNorm(x)) with act = SiLU (`silu` true) or identity: fused WebGPU kernels when the fast
 * path is on (`epsValue` must equal `eps`), else groupNorm and silu above.
 */
export function groupNormAct(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, groups: number, eps: tf.Scalar, epsValue: number, act: boolean): tf.Tensor4D {
  if (fastKernels()) return groupNormActGpu(x, gamma, beta, groups, epsValue, act);
  const y = groupNorm(x, gamma, beta, groups, eps);
  return act ? silu(y) : y;
}

/** GroupNorm written with plain ops (autodiff gradient); the reference for tests. */
export function groupNormPlain(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, groups: number, eps: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const cg = c / groups;
  const x5 = tf.reshape(x, [n, h, w, groups, cg]);
  const { mean, variance } = tf.moments(x5, [1, 2, 4], true);
  const y = tf.add(tf.mul(tf.div(tf.sub(x5, mean), tf.sqrt(tf.add(variance, eps))), tf.reshape(gamma, [groups, cg])), tf.reshape(beta, [groups, cg]));
  return tf.reshape(y, [n, h, w, c]);
}

/** Explicit 'same' padding of a k×k, stride-s convolution, as TensorFlow computes it. */
function samePad(size: number, k: number, s: number): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + k - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * The filter gradient of a k×k 'same' convolution as one matrix product: the k² shifted (strided)
 * views of the padded input side by side (im2col), transposed, times dy. tfjs-webgpu's own
 * Conv2DBackpropFilter is a naive kernel, ~4× slower than this on llvmpipe and the bulk of GPU time
 * on a real GPU.
 */
export function convFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, stride: number): tf.Tensor4D {
  const [n, h, w, cin] = x.shape;
  const [, oh, ow, cout] = dy.shape;
  // WebGPU binds at most 2 GiB per storage buffer (and big temporaries cost memory): build the
  // patch matrix for a slice of the batch at a time and add the partial products.
  const bytesPerImage = oh * ow * k * k * cin * 4;
  const per = Math.max(1, Math.min(n, Math.floor(PATCH_BYTES_LIMIT / bytesPerImage)));
  if (per < n) {
    const parts: tf.Tensor4D[] = [];
    for (let b = 0; b < n; b += per) {
      const m = Math.min(per, n - b);
      parts.push(
        tf.tidy(() => convFilterGrad(tf.slice(x, [b, 0, 0, 0], [m, h, w, cin]), tf.slice(dy, [b, 0, 0, 0], [m, oh, ow, cout]), k, stride)),
      );
    }
    let acc = parts[0]!;
    for (let i = 1; i < parts.length; i++) acc = tf.add(acc, parts[i]!);
    return acc;
  }
  const [pt, pb] = samePad(h, k, stride);
  const [pl, pr] = samePad(w, k, stride);
  const xp = pt + pb + pl + pr > 0 ? tf.pad(x, [[0, 0], [pt, pb], [pl, pr], [0, 0]]) : x;
  const cols: tf.Tensor4D[] = [];
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      cols.push(
        stride === 1
          ? tf.slice(xp, [0, i, j, 0], [n, oh, ow, cin])
          : (tf.stridedSlice(xp, [0, i, j, 0], [n, i + (oh - 1) * stride + 1, j + (ow - 1) * stride + 1, cin], [1, stride, stride, 1]) as tf.Tensor4D),
      );
    }
  }
  const patches = tf.reshape(cols.length === 1 ? cols[0]! : tf.concat(cols, 3), [n * oh * ow, k * k * cin]);
  const dw = tf.matMul(patches, tf.reshape(dy, [n * oh * ow, cout]), true, false);
  return tf.reshape(dw, [k, k, cin, cout]);
}

/**
 * Input gradient of a k×k 'same' stride-s convolution as a stride-1 convolution of dy with the
 * spatially flipped, in/out-transposed filter, which tfjs' forward conv kernel runs 3-5x faster on
 * the H100 than either of its transposed-convolution kernels. For stride 2, dy is first spread onto
 * the input grid with zeros between (4x the multiplies, still faster than the transposed kernel).
 */
function convInputGrad(dy: tf.Tensor4D, filter: tf.Tensor4D, xShape: [number, number, number, number], stride: number): tf.Tensor4D {
  const k = filter.shape[0];
  const [n, h, w, cin] = xShape;
  const [, oh, ow, cout] = dy.shape;
  const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
  if (stride === 1 && k % 2 === 1) {
    const p = (k - 1) / 2;
    if (conv2dGpuApplies(cout, cin)) return conv2dGpu(dy, flipped, null, 1, p, p, h, w);
    return tf.fused.conv2d({ x: dy, filter: flipped, strides: 1, pad: 'same' });
  }
  if (stride !== 2) return tf.conv2dTranspose(dy, filter, xShape, stride as 1 | 2, 'same');
  // up[s·o] = dy[o], zero elsewhere; dx[y] = Σ_i up[y + pt − i]·W[i] = a valid conv of up padded
  // by k−1−pt before and (h + pt − s·oh) after (negative: crop).
  // Two 4-D pads (tfjs-webgpu's pad shader does not compile for rank 5).
  const cols = tf.reshape(tf.pad(tf.reshape(dy, [n * oh, ow, 1, cout]), [[0, 0], [0, 0], [0, 1], [0, 0]]), [n * oh, 1, 2 * ow, cout]);
  const up = tf.reshape(tf.pad(cols, [[0, 0], [0, 1], [0, 0], [0, 0]]), [n, 2 * oh, 2 * ow, cout]) as tf.Tensor4D;
  const [pt] = samePad(h, k, 2);
  const [pl] = samePad(w, k, 2);
  const after = (size: number, p: number, o: number) => size + p - 2 * o;
  const ab = after(h, pt, oh);
  const ar = after(w, pl, ow);
  const cropped = ab < 0 || ar < 0 ? tf.slice(up, [0, 0, 0, 0], [n, 2 * oh + Math.min(ab, 0), 2 * ow + Math.min(ar, 0), cout]) : up;
  const padded = tf.pad(cropped, [[0, 0], [k - 1 - pt, Math.max(ab, 0)], [k - 1 - pl, Math.max(ar, 0)], [0, 0]]) as tf.Tensor4D;
  const dx = conv2dGpuApplies(cout, cin) ? conv2dGpu(padded, flipped, null, 1, 0, 0, h, w) : tf.conv2d(padded, flipped, 1, 'valid');
  if (dx.shape[1] !== h || dx.shape[2] !== w || dx.shape[3] !== cin) throw new Error('convInputGrad: internal shape error');
  return dx;
}

/** Largest im2col patch matrix built at once (bytes); see convFilterGrad. */
export let PATCH_BYTES_LIMIT = 512 * 2 ** 20;

/** For tests: a small limit exercises the batch-sliced path on tiny shapes. */
export function setPatchBytesLimit(bytes: number): void {
  PATCH_BYTES_LIMIT = bytes;
}

/**
 * conv2d ('same' padding) + bias with a hand-written gradient. On webgpu the convolution and its
 * input gradient run on the implicit-GEMM kernel (gpu/conv2d.ts) and the filter and bias gradients
 * on the split-K kernel; elsewhere tfjs' conv2d, transposed convolution, convFilterGrad and a sum.
 */
export function conv2dSame(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, stride: 1 | 2): tf.Tensor4D {
  const k = filter.shape[0];
  const op = tf.customGrad((xi, fi, bi, save) => {
    const xt = xi as tf.Tensor4D;
    const ft = fi as tf.Tensor4D;
    (save as tf.GradSaveFunc)([xt, ft]);
    const [, h, w, cin] = xt.shape;
    const cout = ft.shape[3];
    const gpu = fastKernels() && conv2dGpuApplies(cin, cout);
    return {
      value: gpu
        ? conv2dGpu(xt, ft, bi as tf.Tensor1D, stride, samePad(h, k, stride)[0], samePad(w, k, stride)[0], Math.ceil(h / stride), Math.ceil(w / stride))
        : tf.fused.conv2d({ x: xt, filter: ft, strides: stride, pad: 'same', bias: bi as tf.Tensor1D }),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, fs] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dy4 = dy as tf.Tensor4D;
        if (fastKernels()) {
          const dx = convInputGrad(dy4, fs, xs.shape, stride);
          const [dw, db] = convFilterBiasGrad(xs, dy4, k, stride, samePad(xs.shape[1], k, stride)[0], samePad(xs.shape[2], k, stride)[0]);
          return [dx, dw, db];
        }
        const dx = tf.conv2dTranspose(dy4, fs, xs.shape, stride, 'same');
        return [dx, convFilterGrad(xs, dy4, k, stride), tf.sum(dy4, [0, 1, 2])];
      },
    };
  });
  return op(x, filter, bias) as tf.Tensor4D;
}

/**
 * x [M, cin] · w [cin, cout] + b (1×1 convolutions, attention projections) with a hand-written
 * gradient: on webgpu the weight and bias gradients come from the split-K kernel (tfjs' transposed
 * matMul over M = N·H·W rows ran on a handful of workgroups), elsewhere from tfjs ops.
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  const op = tf.customGrad((xi, wi, bi, save) => {
    const xt = xi as tf.Tensor2D;
    const wt = wi as tf.Tensor2D;
    (save as tf.GradSaveFunc)([xt, wt]);
    const gpu = fastKernels() && conv2dGpuApplies(wt.shape[0], wt.shape[1]);
    return {
      value: gpu ? matMulGpu(xt, wt, bi as tf.Tensor1D) : tf.fused.matMul({ a: xt, b: wt, bias: bi as tf.Tensor1D }),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        const dy2 = dy as tf.Tensor2D;
        const dx = gpu ? matMulGpu(dy2, tf.transpose(ws), null) : tf.matMul(dy2, ws, false, true);
        const [m, cin] = xs.shape;
        const cout = ws.shape[1];
        if (fastKernels()) {
          const [dw, db] = convFilterBiasGrad(tf.reshape(xs, [1, 1, m, cin]), tf.reshape(dy2, [1, 1, m, cout]), 1, 1, 0, 0);
          return [dx, tf.reshape(dw, [cin, cout]), db];
        }
        return [dx, tf.matMul(xs, dy2, true, false), tf.sum(dy2, 0)];
      },
    };
  });
  return op(x, w, b) as tf.Tensor2D;
}

/**
 * h [N,H,W,C] + t [N,C] broadcast over H and W (the time embedding in each residual block). The
 * gradient of t is Σ over H, W: one kernel on webgpu, where tfjs' broadcast-add gradient transposes.
 */
export function addPerChannel(h: tf.Tensor4D, t: tf.Tensor2D): tf.Tensor4D {
  const [n, , , c] = h.shape;
  const op = tf.customGrad((hi, ti) => ({
    value: tf.add(hi as tf.Tensor4D, tf.reshape(ti as tf.Tensor2D, [n, 1, 1, c])),
    gradFunc: (dy: tf.Tensor) => {
      const dy4 = dy as tf.Tensor4D;
      return [tf.clone(dy4), fastKernels() ? sumSpatialGpu(dy4) : tf.reshape(tf.sum(dy4, [1, 2]), [n, c])];
    },
  }));
  return op(h, t) as tf.Tensor4D;
}

/**
 * Dropout with a Philox mask keyed by `words` (see philox.ts): y = x · keep / (1 − rate), and
 * dx = dy · keep / (1 − rate) with the same mask. On webgpu with the fast kernels the mask is drawn
 * on the GPU in the same pass; elsewhere it is drawn on the host, bit for bit the same.
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, words: DropoutWords): T {
  if (rate === 0) return x;
  if (fastKernels() && dropoutGpuApplies(x.size)) {
    const op = tf.customGrad((xi) => ({
      value: dropoutGpu(xi as tf.Tensor, rate, words),
      gradFunc: (dy: tf.Tensor) => dropoutGpu(dy, rate, words),
    }));
    return op(x) as T;
  }
  return tf.mul(x, tf.tensor(dropoutMask(x.size, rate, words), x.shape, 'float32')) as T;
}
