/**
 * Convolution kernels for software WebGPU adapters (Mesa's llvmpipe): every invocation computes a
 * block of outputs in registers, with no workgroup memory and no barriers.
 *
 * llvmpipe runs 8 invocations per SIMD instruction, but in Mesa 22 each storage-buffer load is a
 * loop over those 8 lanes with a bounds check per lane, whether the address is the same for all of
 * them or not: a loaded float costs ~35 cycles, a fused multiply-add for 8 lanes one. The GPU
 * kernels (conv2d.ts, convFilterGrad.ts) load one value per 1-4 multiply-adds and synchronise
 * 256-invocation workgroups (coroutine switches on llvmpipe); on llvmpipe they ran at ~1 GFLOP/s of
 * CPU time. Here an invocation loads a row segment of x once per filter row and input channel and
 * reuses each value P·C/4 times (k taps × C output channels), and each weight P times: ~10 GFLOP/s
 * on the same cores (bench/kernels.ts --lanes).
 */
import { tf } from '../tf';
import { runGpuKernel, type ConvGeometry } from './program';
import { sumLeadingGpu } from './sumLeading';
import { u } from './gemmTile';

const CONV = 'SadpmLaneConv2d';
const FILTER_GRAD = 'SadpmLaneFilterGrad';
/** Invocations per workgroup: enough to fill llvmpipe's 8-wide SIMD, small enough to spread over threads. */
const WG = 32;

/** Output pixels per invocation (one row segment) and output channels per invocation. */
export interface LaneBlock {
  p: number;
  c: number;
}

/** The block an invocation computes: a whole row up to 16 pixels, 8 channels (4 when cout is not a multiple of 8). */
export function laneBlock(ow: number, cout: number): LaneBlock {
  return { p: Math.min(ow, 16), c: cout % 8 === 0 ? 8 : 4 };
}

interface LaneConvGeometry extends ConvGeometry {
  p: number;
  c: number;
}

class LaneConvProgram {
  readonly variableNames = ['x', 'w', 'bias'];
  readonly variableComponents = [4, 4, 4];
  readonly outputComponent = 4;
  readonly outputShape: number[];
  readonly shaderKey: string;
  // Flat: tfjs passes the global invocation index to main() however it splits a large dispatch.
  readonly dispatchLayout = { x: [0, 1, 2, 3] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [WG, 1, 1];
  private readonly lanes: number;

  constructor(private readonly g: LaneConvGeometry) {
    this.lanes = g.n * g.oh * Math.ceil(g.ow / g.p) * (g.cout / g.c);
    this.outputShape = [g.n, g.oh, g.ow, g.cout];
    this.dispatch = [Math.ceil(this.lanes / WG), 1, 1];
    this.shaderKey = `sadpmLaneConv_${Object.values(g).join('_')}`;
  }

  getUserCode(): string {
    const { h, w, cin, oh, ow, cout, k, s, pt, pl, p: P, c: C } = this.g;
    const c4 = C / 4;
    const cin4 = cin / 4;
    const cout4 = cout / 4;
    const span = (P - 1) * s + k;
    // One filter row i and input channel group c4 of this invocation's row segment: the span of x it
    // reads (zero outside the image), then for each tap j and input channel e the weights of its C
    // output channels against every output pixel.
    const body: string[] = [];
    for (let q = 0; q < span; q++) {
      const ix = `ix0 + ${q}`;
      const ok = `rowOk && ${ix} >= 0 && ${ix} < ${w}`;
      const at = `xrow + u32(clamp(${ix}, 0, ${w - 1})) * ${u(cin4)} + ci`;
      body.push(`let x${q} = select(vec4<f32>(0.0), x[${at}], ${ok});`);
    }
    for (let j = 0; j < k; j++) {
      for (let e = 0; e < 4; e++) {
        body.push('{');
        for (let b = 0; b < c4; b++) body.push(`let w${b} = w[wrow + ${u((j * cin + e) * cout4 + b)}];`);
        for (let px = 0; px < P; px++) {
          for (let b = 0; b < c4; b++) {
            const a = `acc[${px * c4 + b}]`;
            body.push(`${a} = fma(vec4<f32>(x${px * s + j}[${e}]), w${b}, ${a});`);
          }
        }
        body.push('}');
      }
    }
    const init: string[] = [];
    const store: string[] = [];
    for (let px = 0; px < P; px++) {
      for (let b = 0; b < c4; b++) {
        init.push(`acc[${px * c4 + b}] = bias[cb + ${u(b)}];`);
        store.push(`if (ox0 + ${u(px)} < ${u(ow)}) { result[out + ${u(px * cout4 + b)}] = acc[${px * c4 + b}]; }`);
      }
    }
    const segs = Math.ceil(ow / P);
    return `
      fn main(index: i32) {
        let lane = u32(index);
        if (lane >= ${u(this.lanes)}) { return; }
        _ = uniforms.NAN;
        let cb = (lane % ${u(cout / C)}) * ${u(c4)};
        let r1 = lane / ${u(cout / C)};
        let ox0 = (r1 % ${u(segs)}) * ${u(P)};
        let r2 = r1 / ${u(segs)};
        let oy = r2 % ${u(oh)};
        let nb = r2 / ${u(oh)};
        let ix0 = i32(ox0) * ${s} - ${pl};
        var acc: array<vec4<f32>, ${P * c4}>;
        ${init.join('\n        ')}
        for (var i = 0; i < ${k}; i = i + 1) {
          let iy = i32(oy) * ${s} - ${pt} + i;
          let rowOk = iy >= 0 && iy < ${h};
          let xrow = (nb * ${u(h)} + u32(clamp(iy, 0, ${h - 1}))) * ${u(w * cin4)};
          for (var ci = 0u; ci < ${u(cin4)}; ci = ci + 1u) {
            let wrow = (u32(i) * ${u(k * cin)} + ci * 4u) * ${u(cout4)} + cb;
            ${body.join('\n            ')}
          }
        }
        let out = ((nb * ${u(oh)} + oy) * ${u(ow)} + ox0) * ${u(cout4)} + cb;
        ${store.join('\n        ')}
      }`;
  }
}

const zeros = new Map<number, tf.Tensor1D>();

/** A kept zero bias of `cout` channels (the shader always adds one). */
function zeroBias(cout: number): tf.Tensor1D {
  let z = zeros.get(cout);
  if (!z || z.isDisposed) {
    z = tf.keep(tf.zeros([cout]) as tf.Tensor1D);
    zeros.set(cout, z);
  }
  return z;
}

interface LaneConvAttrs {
  stride: number;
  padTop: number;
  padLeft: number;
  oh: number;
  ow: number;
  p: number;
  c: number;
}

/**
 * x [n,h,w,cin] ⊛ filter [k,k,cin,cout] (+ bias) with stride s, padding pt/pl before and output
 * oh × ow, like conv2dGpu (the same signature); channels multiples of 4. `block` overrides the
 * register block (benchmarks).
 */
export function laneConv2d(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D | null,
  stride: number,
  padTop: number,
  padLeft: number,
  oh: number,
  ow: number,
  block?: LaneBlock,
): tf.Tensor4D {
  const { p, c } = block ?? laneBlock(ow, filter.shape[3]);
  const attrs: LaneConvAttrs = { stride, padTop, padLeft, oh, ow, p, c };
  const inputs = { x, w: filter, bias: bias ?? zeroBias(filter.shape[3]) };
  return runGpuKernel(CONV, inputs, attrs, ({ x: xi, w: wi }, a) => {
    const [n, h, wd, cin] = xi!.shape as [number, number, number, number];
    const [k, , , cout] = wi!.shape as [number, number, number, number];
    const pads = { pt: a.padTop, pl: a.padLeft };
    const g = { n, h, w: wd, cin, oh: a.oh, ow: a.ow, cout, k, s: a.stride, ...pads, p: a.p, c: a.c };
    return new LaneConvProgram(g);
  }) as tf.Tensor4D;
}

/** x [m, cin] · w [cin, cout] (+ b) as a 1×1 convolution over a 1 × m image. */
export function laneMatMul(x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D | null): tf.Tensor2D {
  const [m, cin] = x.shape;
  const cout = w.shape[1];
  return tf.tidy(() => {
    const y = laneConv2d(tf.reshape(x, [1, 1, m, cin]), tf.reshape(w, [1, 1, cin, cout]), bias, 1, 0, 0, 1, m);
    return tf.reshape(y, [m, cout]) as tf.Tensor2D;
  });
}

/** Input and output channels per filter-gradient invocation, and the split of the reduction. */
interface FilterGradGeometry extends ConvGeometry {
  ci: number;
  co: number;
  splits: number;
}

/**
 * dW[i, j, c, co] = Σ_m x[n, oy·s+i−pt, ox·s+j−pl, c] · dy[m, co] for one tap (i, j), a block of CI
 * input and CO output channels and one slice of the reduction over m = (n, oy, ox) per invocation:
 * per m, CI + CO loads feed CI·CO multiply-adds. Partial sums [splits, k·k·cin, cout].
 */
class LaneFilterGradProgram {
  readonly variableNames = ['x', 'dy'];
  readonly variableComponents = [4, 4];
  readonly outputComponent = 4;
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0, 1, 2] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [WG, 1, 1];
  private readonly lanes: number;

  constructor(private readonly g: FilterGradGeometry) {
    this.lanes = g.k * g.k * (g.cin / g.ci) * (g.cout / g.co) * g.splits;
    this.outputShape = [g.splits, g.k * g.k * g.cin, g.cout];
    this.dispatch = [Math.ceil(this.lanes / WG), 1, 1];
    this.shaderKey = `sadpmLaneFilterGrad_${Object.values(g).join('_')}`;
  }

  getUserCode(): string {
    const { n, h, w, cin, oh, ow, cout, k, s, pt, pl, ci: CI, co: CO, splits } = this.g;
    const m = n * oh * ow;
    const chunk = Math.ceil(m / splits);
    const ci4 = CI / 4;
    const co4 = CO / 4;
    const cout4 = cout / 4;
    const blocksIn = cin / CI;
    const blocksOut = cout / CO;
    const body: string[] = [];
    for (let a = 0; a < ci4; a++) body.push(`let xv${a} = select(vec4<f32>(0.0), x[xb + ${u(a)}], ok);`);
    for (let b = 0; b < co4; b++) body.push(`let d${b} = dy[db + ${u(b)}];`);
    for (let a = 0; a < ci4; a++) {
      for (let e = 0; e < 4; e++) {
        for (let b = 0; b < co4; b++) {
          const acc = `acc[${(a * 4 + e) * co4 + b}]`;
          body.push(`${acc} = fma(vec4<f32>(xv${a}[${e}]), d${b}, ${acc});`);
        }
      }
    }
    const store: string[] = [];
    for (let r = 0; r < CI; r++) {
      for (let b = 0; b < co4; b++) store.push(`result[out + ${u(r * cout4 + b)}] = acc[${r * co4 + b}];`);
    }
    return `
      fn main(index: i32) {
        let lane = u32(index);
        if (lane >= ${u(this.lanes)}) { return; }
        _ = uniforms.NAN;
        let cob = lane % ${u(blocksOut)};
        let r1 = lane / ${u(blocksOut)};
        let cib = r1 % ${u(blocksIn)};
        let r2 = r1 / ${u(blocksIn)};
        let tap = r2 % ${u(k * k)};
        let split = r2 / ${u(k * k)};
        let fi = i32(tap / ${u(k)}) - ${pt};
        let fj = i32(tap % ${u(k)}) - ${pl};
        var acc: array<vec4<f32>, ${CI * co4}>;
        let mEnd = min((split + 1u) * ${u(chunk)}, ${u(m)});
        for (var mm = split * ${u(chunk)}; mm < mEnd; mm = mm + 1u) {
          let nb = mm / ${u(oh * ow)};
          let rem = mm % ${u(oh * ow)};
          let iy = i32(rem / ${u(ow)}) * ${s} + fi;
          let ix = i32(rem % ${u(ow)}) * ${s} + fj;
          let ok = iy >= 0 && iy < ${h} && ix >= 0 && ix < ${w};
          let pix = (nb * ${u(h)} + u32(clamp(iy, 0, ${h - 1}))) * ${u(w)} + u32(clamp(ix, 0, ${w - 1}));
          let xb = pix * ${u(cin / 4)} + cib * ${u(ci4)};
          let db = mm * ${u(cout4)} + cob * ${u(co4)};
          ${body.join('\n          ')}
        }
        let out = ((split * ${u(k * k * cin)} + tap * ${u(cin)} + cib * ${u(CI)}) * ${u(cout4)}) + cob * ${u(co4)};
        ${store.join('\n        ')}
      }`;
  }
}

interface LaneFilterGradAttrs {
  k: number;
  stride: number;
  padTop: number;
  padLeft: number;
  ci: number;
  co: number;
  splits: number;
}

/** Splits of the reduction: ~256 invocations in all, each reducing at least 32 rows. */
export function laneFilterGradSplits(m: number, blocks: number): number {
  return Math.max(1, Math.min(Math.ceil(256 / blocks), Math.floor(m / 32)));
}

/**
 * dW [k,k,cin,cout] and db [cout] of a k×k convolution of x [n,h,w,cin] with stride s and padding
 * pt/pl before, for the output gradient dy [n,oh,ow,cout]; channels multiples of 4.
 */
export function laneFilterBiasGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  k: number,
  stride: number,
  padTop: number,
  padLeft: number,
): [tf.Tensor4D, tf.Tensor1D] {
  const [n, , , cin] = x.shape;
  const [, oh, ow, cout] = dy.shape;
  const ci = cin % 8 === 0 ? 8 : 4;
  const co = cout % 16 === 0 ? 16 : cout % 8 === 0 ? 8 : 4;
  const m = n * oh * ow;
  const splits = laneFilterGradSplits(m, k * k * (cin / ci) * (cout / co));
  const attrs: LaneFilterGradAttrs = { k, stride, padTop, padLeft, ci, co, splits };
  return tf.tidy(() => {
    const parts = runGpuKernel(FILTER_GRAD, { x, dy }, attrs, ({ x: xi, dy: dyi }, a) => {
      const [nn, h, w, cc] = xi!.shape as [number, number, number, number];
      const [, ohh, oww, cco] = dyi!.shape as [number, number, number, number];
      const g = { n: nn, h, w, cin: cc, oh: ohh, ow: oww, cout: cco, k: a.k, s: a.stride, pt: a.padTop, pl: a.padLeft };
      return new LaneFilterGradProgram({ ...g, ci: a.ci, co: a.co, splits: a.splits });
    });
    const dw = splits === 1 ? parts : sumLeadingGpu(parts, [k * k * cin, cout]);
    const db = sumLeadingGpu(tf.reshape(dy, [m, cout]), [cout]);
    return [tf.reshape(dw, [k, k, cin, cout]) as tf.Tensor4D, db as tf.Tensor1D];
  });
}
