/**
 * Sums over a leading or middle axis as one WGSL kernel (each thread adds one output's inputs).
 * tfjs reduces over a non-trailing axis by transposing the whole tensor first; for the split-K
 * partial products, the per-sample GroupNorm sums and the time-embedding gradient (Σ over H, W)
 * that was a tenth of a cifar10 step's GPU time.
 */
import { tf } from '../tf';
import { runGpuKernel } from './program';

const KERNEL = 'SadpmSumLeading';

/** [A, S, B] → [A, B]: Σ over the middle axis; a leading-axis sum is A = 1. */
class SumLeadingProgram {
  readonly variableNames = ['x'];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [256, 1, 1];
  readonly size = true;

  constructor(
    private readonly a: number,
    private readonly s: number,
    private readonly b: number,
  ) {
    this.outputShape = [a * b];
    this.dispatch = [Math.ceil((a * b) / 256), 1, 1];
    this.shaderKey = `sadpmSumAxis_${a}_${s}_${b}`;
  }

  getUserCode(): string {
    return `
      fn main(index: i32) {
        if (index < uniforms.size) {
          let o = u32(index);
          let base = (o / ${this.b}u) * ${this.s * this.b}u + o % ${this.b}u;
          var acc = 0.0;
          for (var i = 0u; i < ${this.s}u; i = i + 1u) { acc = acc + x[base + i * ${this.b}u]; }
          result[index] = acc;
        }
      }`;
  }
}

function sumAxis(x: tf.Tensor, a: number, sLen: number, b: number, shape: number[]): tf.Tensor {
  return tf.tidy(() =>
    tf.reshape(
      runGpuKernel(KERNEL, { x }, { a, s: sLen, b }, (_x, g) => new SumLeadingProgram(g.a, g.s, g.b)),
      shape,
    ),
  );
}

/** Σ over axis 0 of x, reshaped to `shape` (webgpu backend only). */
export function sumLeadingGpu(x: tf.Tensor, shape: number[]): tf.Tensor {
  const sLen = x.shape[0]!;
  return sumAxis(x, 1, sLen, x.size / sLen, shape);
}

/** Σ over H and W of NHWC x → [N, C] (webgpu backend only). */
export function sumSpatialGpu(x: tf.Tensor4D): tf.Tensor2D {
  const [n, h, w, c] = x.shape;
  return sumAxis(x, n, h * w, c, [n, c]) as tf.Tensor2D;
}

const SQUARES_KERNEL = 'SadpmSumSquaresPartial';
const SQ_THREADS = 256;

/**
 * Partial sums of x² over a flat tensor: G workgroups stride over it (coalesced), each reducing its
 * share in workgroup memory to one value. tfjs reduces a whole tensor on a single workgroup, which
 * took milliseconds for the 36M-element gradient norm of the cifar10 UNet.
 */
class SumSquaresProgram {
  readonly variableNames = ['x'];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [SQ_THREADS, 1, 1];

  constructor(
    private readonly size: number,
    private readonly groups: number,
  ) {
    this.outputShape = [groups];
    this.dispatch = [groups, 1, 1];
    this.shaderKey = `sadpmSumSquares_${size}_${groups}`;
  }

  getUserCode(): string {
    const stride = this.groups * SQ_THREADS;
    return `
      var<workgroup> part: array<f32, ${SQ_THREADS}>;
      // tfjs passes the flat output index for a 1-D layout; this kernel works per workgroup instead.
      fn main(index: i32) {
        _ = uniforms.NAN;
        var acc = 0.0;
        for (var i = workgroupId.x * ${SQ_THREADS}u + localIndex; i < ${this.size}u; i = i + ${stride}u) {
          let v = x[i];
          acc = fma(v, v, acc);
        }
        part[localIndex] = acc;
        workgroupBarrier();
        for (var s = ${SQ_THREADS / 2}u; s > 0u; s = s >> 1u) {
          if (localIndex < s) { part[localIndex] = part[localIndex] + part[localIndex + s]; }
          workgroupBarrier();
        }
        if (localIndex == 0u) { result[workgroupId.x] = part[0]; }
      }`;
  }
}

/** Σ x² over all elements as a scalar (webgpu backend only). */
export function sumOfSquaresGpu(x: tf.Tensor): tf.Scalar {
  const groups = Math.max(1, Math.min(1024, Math.ceil(x.size / (SQ_THREADS * 16))));
  const partial = (ins: Record<string, tf.TensorInfo>, a: { groups: number }) =>
    new SumSquaresProgram(tf.util.sizeFromShape(ins.x!.shape), a.groups);
  return tf.tidy(() => tf.sum(runGpuKernel(SQUARES_KERNEL, { x }, { groups }, partial)) as tf.Scalar);
}
