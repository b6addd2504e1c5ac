/**
 * Building blocks of the UNet with hand-written gradients (tf.customGrad), each run by the kernel set
 * the active backend uses (gpu/registry.ts). A forward op and its gradient always come from the same
 * set: the one active when the forward pass ran.
 */
import { tf } from '../tf';
import { kernels } from '../gpu/registry';
import { valueAndGradsWithin } from './grads';
import type { DropoutWords } from '../philox';

export { silu } from './tfjsKernels';

/**
 * act(GroupNorm(x)) with act = SiLU (`act` true) or identity, over NHWC x with `groups` contiguous
 * channel groups. `eps` is a scalar tensor owned by the caller and `epsValue` its value.
 */
export function groupNormAct(
  x: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  groups: number,
  eps: tf.Scalar,
  epsValue: number,
  act: boolean,
): tf.Tensor4D {
  return kernels().groupNormAct(x, gamma, beta, groups, { tensor: eps, value: epsValue }, act);
}

/** conv2d ('same' padding) + bias. */
export function conv2dSame(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, stride: 1 | 2): tf.Tensor4D {
  const k = filter.shape[0];
  const K = kernels();
  const op = tf.customGrad((xi, fi, bi, save) => {
    const xt = xi as tf.Tensor4D;
    const ft = fi as tf.Tensor4D;
    (save as tf.GradSaveFunc)([xt, ft]);
    return {
      value: K.conv2dSame(xt, ft, bi as tf.Tensor1D, stride),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, fs] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dy4 = dy as tf.Tensor4D;
        return [K.conv2dSameInputGrad(dy4, fs, xs.shape, stride), ...K.conv2dSameFilterBiasGrad(xs, dy4, k, stride)];
      },
    };
  });
  return op(x, filter, bias) as tf.Tensor4D;
}

/**
 * conv2dSame(pre(x, gamma, beta)) + bias, where `pre` is act(GroupNorm) (and dropout): keeps x for
 * backward and recomputes pre's output there, instead of keeping that output, as large as x, from
 * the forward pass to the backward one (cifar10 UNet: 11 of 35 MiB saved per image). The backward
 * pass runs the same kernels as conv2dSame's and pre's own gradients, on the recomputed value.
 */
export function conv2dSameOf(
  pre: (x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor4D,
  x: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D,
  stride: 1 | 2,
): tf.Tensor4D {
  const k = filter.shape[0];
  const K = kernels();
  const op = tf.customGrad((xi, gi, bi, fi, ci, save) => {
    const [xt, gt, bt, ft] = [xi as tf.Tensor4D, gi as tf.Tensor, bi as tf.Tensor, fi as tf.Tensor4D];
    (save as tf.GradSaveFunc)([xt, gt, bt, ft]);
    return {
      value: K.conv2dSame(pre(xt, gt, bt), ft, ci as tf.Tensor1D, stride),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, bs, fs] = saved as [tf.Tensor4D, tf.Tensor, tf.Tensor, tf.Tensor4D];
        const dy4 = dy as tf.Tensor4D;
        const da = K.conv2dSameInputGrad(dy4, fs, xs.shape, stride);
        const pre3 = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => pre(xx as tf.Tensor4D, gg, bb);
        const { value: a, grads } = valueAndGradsWithin(pre3 as (...t: tf.Tensor[]) => tf.Tensor, [xs, gs, bs], da);
        return [...grads, ...K.conv2dSameFilterBiasGrad(a as tf.Tensor4D, dy4, k, stride)];
      },
    };
  });
  return op(x, gamma, beta, filter, bias) as tf.Tensor4D;
}

/** x [M, cin] · w [cin, cout] + b (1×1 convolutions, attention projections). */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  const K = kernels();
  const op = tf.customGrad((xi, wi, bi, save) => {
    const xt = xi as tf.Tensor2D;
    const wt = wi as tf.Tensor2D;
    (save as tf.GradSaveFunc)([xt, wt]);
    return {
      value: K.dense(xt, wt, bi as tf.Tensor1D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        const dy2 = dy as tf.Tensor2D;
        return [K.denseInputGrad(dy2, ws), ...K.denseWeightBiasGrad(xs, dy2)];
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
  const K = kernels();
  const op = tf.customGrad((hi, ti) => ({
    value: tf.add(hi as tf.Tensor4D, tf.reshape(ti as tf.Tensor2D, [n, 1, 1, c])),
    gradFunc: (dy: tf.Tensor) => {
      const dy4 = dy as tf.Tensor4D;
      return [tf.clone(dy4), K.sumSpatial(dy4)];
    },
  }));
  return op(h, t) as tf.Tensor4D;
}

/**
 * Dropout with a Philox mask keyed by `words` (see philox.ts): y = x · keep / (1 − rate), and
 * dx = dy · keep / (1 − rate) with the same mask, drawn on the GPU by the WGSL set and on the host,
 * bit for bit the same, by the tfjs set.
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, words: DropoutWords): T {
  if (rate === 0) return x;
  return kernels().dropout(x, rate, words);
}

/*
 * Ops that keep for backward only what their gradient reads. tfjs' Add, Concat and Reshape gradients
 * keep their inputs alive until the backward pass reaches them, to read their shapes: a whole
 * activation per residual add, per skip concatenation and per 1×1-conv output (cifar10 UNet: ~9 of
 * 47 MiB saved per image). These save nothing and give the same gradient values.
 */

/** a + b of one shape. */
export function addSame<T extends tf.Tensor>(a: T, b: T): T {
  if (!tf.util.arraysEqual(a.shape, b.shape)) {
    throw new Error(`addSame: shapes [${a.shape}] and [${b.shape}] differ`);
  }
  const op = tf.customGrad((ai, bi) => ({
    value: tf.add(ai as tf.Tensor, bi as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => [tf.clone(dy), tf.clone(dy)],
  }));
  return op(a, b) as T;
}

/** [a, b] along the channel axis of NHWC tensors. */
export function concatChannels(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D {
  const sizes = [a.shape[3], b.shape[3]];
  const op = tf.customGrad((ai, bi) => ({
    value: tf.concat([ai as tf.Tensor4D, bi as tf.Tensor4D], 3),
    gradFunc: (dy: tf.Tensor) => tf.split(dy, sizes, 3),
  }));
  return op(a, b) as tf.Tensor4D;
}

/** x viewed as `shape`. */
export function reshapeFree<R extends tf.Rank>(x: tf.Tensor, shape: tf.ShapeMap[R]): tf.Tensor<R> {
  const xShape = x.shape;
  const op = tf.customGrad((xi) => ({
    value: tf.reshape(xi as tf.Tensor, shape),
    gradFunc: (dy: tf.Tensor) => tf.reshape(dy, xShape),
  }));
  return op(x) as tf.Tensor<R>;
}

/**
 * Single-head attention softmax(scale·q·kᵀ)·v over n sequences of `len` positions, on [n·len, c]
 * rows. Keeps scale·q, k, v and the softmax weights for backward, not the logits nor the unscaled
 * q, and differentiates with tfjs' own gradient ops for BatchMatMul, Softmax and Multiply.
 */
export function attention(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, n: number, scale: tf.Scalar): tf.Tensor2D {
  const [rows, c] = q.shape;
  const len = rows / n;
  const s3: [number, number, number] = [n, len, c];
  const op = tf.customGrad((qi, ki, vi, save) => {
    const qs = tf.reshape(tf.mul(qi as tf.Tensor2D, scale), s3) as tf.Tensor3D;
    const k3 = tf.reshape(ki as tf.Tensor2D, s3) as tf.Tensor3D;
    const v3 = tf.reshape(vi as tf.Tensor2D, s3) as tf.Tensor3D;
    const wts = tf.softmax(tf.matMul(qs, k3, false, true)); // [n, len (query), len (key)], over keys
    (save as tf.GradSaveFunc)([qs, k3, v3, wts]);
    return {
      value: tf.reshape(tf.matMul(wts, v3), [rows, c]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [qss, ks, vs, w] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
        const dO = tf.reshape(dy, s3) as tf.Tensor3D;
        const dW = tf.matMul(dO, vs, false, true);
        const dV = tf.matMul(w, dO, true, false);
        const dWw = tf.mul(dW, w);
        const dLogits = tf.sub(dWw, tf.mul(tf.sum(dWw, [-1], true), w)) as tf.Tensor3D;
        const dQs = tf.matMul(dLogits, ks, false, false);
        const dK = tf.matMul(dLogits, qss, true, false);
        return [tf.reshape(tf.mul(dQs, scale), [rows, c]), tf.reshape(dK, [rows, c]), tf.reshape(dV, [rows, c])];
      },
    };
  });
  return op(q, k, v) as tf.Tensor2D;
}
