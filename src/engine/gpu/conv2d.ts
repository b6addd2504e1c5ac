/**
 * Forward k×k convolution (NHWC, explicit top/left padding, any stride) + bias as one
 * implicit-GEMM WGSL kernel, run through tfjs-webgpu's runWebGPUProgram:
 *
 *   y[m, co] = Σ_kk A[m, kk] · W[kk, co] + b[co],   m = (n, oy, ox),  kk = (i, j, c)
 *   A[m, kk] = x[n, oy·s + i − pt, ox·s + j − pl, c]   (0 outside the image)
 *
 * The patches are gathered into workgroup memory on the fly (no im2col matrix). The next slice is
 * fetched into registers while the current one is multiplied. Channels must be multiples of 4 (vec4
 * loads): every layer of the UNets except the 3-channel input and output convolutions, which stay on
 * tfjs. Used for the forward convolutions, their input gradients (a convolution with the flipped
 * filter) and the dense layers (1×1, h = 1). tfjs' own conv2d kernel was about half of a cifar10
 * SA-2 step's GPU time.
 */
import { tf } from '../tf';
import { runGpuKernel, workgroupMemoryLimit, type ConvGeometry } from './program';
import {
  TILE_THREADS,
  parseVariant,
  pickTile,
  tileKernel,
  tileKey,
  u,
  rowStaging,
  fitStages,
  variantText,
  type Tile,
} from './gemmTile';

const KERNEL = 'SadpmConv2d';

/** A convolution plus an optional tile override (rows, cols; 0 picks by size, see pickTile; variant '' the default). */
interface Conv2dGeometry extends ConvGeometry {
  bm: number;
  bn: number;
  variant: string;
}

class Conv2dProgram {
  readonly variableNames = ['x', 'w', 'bias'];
  readonly variableComponents = [4, 4, 4];
  readonly outputComponent = 4;
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0, 1, 2], y: [3] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [TILE_THREADS, 1, 1];
  private readonly tile: Tile;

  constructor(private readonly g: Conv2dGeometry) {
    const m = g.n * g.oh * g.ow;
    const picked = g.bm ? { bm: g.bm, bn: g.bn } : pickTile(m, g.cout);
    this.tile = fitStages({ ...picked, variant: parseVariant(g.variant) ?? undefined }, workgroupMemoryLimit());
    this.outputShape = [g.n, g.oh, g.ow, g.cout];
    this.dispatch = [Math.ceil(m / this.tile.bm), Math.ceil(g.cout / this.tile.bn), 1];
    const { variant: _, ...geometry } = g;
    this.shaderKey = `sadpmConv2d_${Object.values(geometry).join('_')}_${tileKey(this.tile)}`;
  }

  getUserCode(): string {
    const { n, h, w, cin, oh, ow, cout, k, s, pt, pl } = this.g;
    const tile = this.tile;
    const { bn } = tile;
    const m = n * oh * ow;
    const kdim = k * k * cin;
    const { bk, av, bv, rows, k4, store } = rowStaging(tile);
    const steps = Math.ceil(kdim / bk);
    const loadA = (kt: string) => {
      const body = [
        `let kk = ${kt} * ${u(bk)} + k4 * 4u;`,
        `let c = kk % ${u(cin)};`,
        `let ij = kk / ${u(cin)};`,
        `let fi = i32(ij / ${u(k)});`,
        `let fj = i32(ij % ${u(k)});`,
      ];
      for (let r = 0; r < av; r++) {
        body.push(`{
              let iy = iy0[${r}] + fi;
              let ix = ix0[${r}] + fj;
              ra[${r}] = vec4<f32>(0.0);
              if (rowOk[${r}] && kk < ${u(kdim)} && iy >= 0 && iy < ${h} && ix >= 0 && ix < ${w}) {
                ra[${r}] = x[(u32(pix[${r}] + iy * ${w} + ix) * ${u(cin)} + c) / 4u];
              }
            }`);
      }
      return `{ ${body.join('\n            ')} }`;
    };
    const loadB = (kt: string) => {
      const body: string[] = [];
      for (let r = 0; r < bv; r++) {
        body.push(`{
              let idx = tid + ${u(r * TILE_THREADS)};
              let kk = ${kt} * ${u(bk)} + idx / ${u(bn / 4)};
              let co = colBase + (idx % ${u(bn / 4)}) * 4u;
              rb[${r}] = vec4<f32>(0.0);
              if (kk < ${u(kdim)} && co < ${u(cout)}) { rb[${r}] = w[(kk * ${u(cout)} + co) / 4u]; }
            }`);
      }
      return body.join('\n            ');
    };
    const decode: string[] = [];
    for (let r = 0; r < av; r++) {
      decode.push(`{
          let mm = rowBase + ${rows(r)};
          rowOk[${r}] = mm < ${u(m)};
          let mc = min(mm, ${u(m - 1)});
          let rem = mc % ${u(oh * ow)};
          pix[${r}] = i32((mc / ${u(oh * ow)}) * ${u(h * w)});
          iy0[${r}] = i32(rem / ${u(ow)}) * ${s} - ${pt};
          ix0[${r}] = i32(rem % ${u(ow)}) * ${s} - ${pl};
        }`);
    }
    return tileKernel({
      tile,
      steps,
      setup: `
        let k4 = ${k4};
        var rowOk: array<bool, ${av}>;
        var pix: array<i32, ${av}>;
        var iy0: array<i32, ${av}>;
        var ix0: array<i32, ${av}>;
        ${decode.join('\n        ')}
        var ra: array<vec4<f32>, ${av}>;
        var rb: array<vec4<f32>, ${bv}>;`,
      load: (it) => `${loadA(it)}\n${loadB(it)}`,
      store,
      emit: (row, col, value) => `{
          let mm = rowBase + ${row};
          let co = colBase + ${col};
          if (mm < ${u(m)} && co < ${u(cout)}) { result[(mm * ${u(cout)} + co) / 4u] = ${value} + bias[co / 4u]; }
        }`,
    });
  }
}

interface Conv2dAttrs {
  stride: number;
  padTop: number;
  padLeft: number;
  oh: number;
  ow: number;
  bm: number;
  bn: number;
  variant: string;
}

const zeros = new Map<number, tf.Tensor1D>();

/**
 * A kept zero bias of `cout` channels. The shader without a bias binding ran 20–30% slower on the
 * H100/H200 than the same shader adding a bias (the driver's code generation, measured with
 * bench:kernels), so bias-free convolutions (input gradients) add zeros.
 */
export function zeroBias(cout: number): tf.Tensor1D {
  let z = zeros.get(cout);
  if (!z || z.isDisposed) {
    z = tf.keep(tf.zeros([cout]) as tf.Tensor1D);
    zeros.set(cout, z);
  }
  return z;
}

/** Whether conv2dGpu takes these channel counts (vec4 loads and stores). */
export function conv2dGpuApplies(cin: number, cout: number): boolean {
  return cin % 4 === 0 && cout % 4 === 0;
}

/**
 * x [n,h,w,cin] ⊛ filter [k,k,cin,cout] (+ bias) with stride s, padding pt/pl before and the output
 * size oh × ow (so any 'same' or 'valid' convolution); webgpu backend only, channels multiples of 4.
 * `tile` overrides the tile size (benchmarks).
 */
export function conv2dGpu(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D | null,
  stride: number,
  padTop: number,
  padLeft: number,
  oh: number,
  ow: number,
  tile?: Tile,
): tf.Tensor4D {
  const variant = variantText(tile?.variant);
  const attrs: Conv2dAttrs = { stride, padTop, padLeft, oh, ow, bm: tile?.bm ?? 0, bn: tile?.bn ?? 0, variant };
  const inputs = { x, w: filter, bias: bias ?? zeroBias(filter.shape[3]) };
  return runGpuKernel(KERNEL, inputs, attrs, ({ x: xi, w: wi }, a) => {
    const [n, h, wd, cin] = xi!.shape as [number, number, number, number];
    const [k, , , cout] = wi!.shape as [number, number, number, number];
    return new Conv2dProgram({
      n,
      h,
      w: wd,
      cin,
      oh: a.oh,
      ow: a.ow,
      cout,
      k,
      s: a.stride,
      pt: a.padTop,
      pl: a.padLeft,
      bm: a.bm,
      bn: a.bn,
      variant: a.variant,
    });
  }) as tf.Tensor4D;
}

/** x [m, cin] · w [cin, cout] (+ b) on the same kernel as a 1×1 convolution over a 1 × m image. */
export function matMulGpu(x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D | null): tf.Tensor2D {
  const [m, cin] = x.shape;
  const cout = w.shape[1];
  return tf.tidy(
    () =>
      tf.reshape(conv2dGpu(tf.reshape(x, [1, 1, m, cin]), tf.reshape(w, [1, 1, cin, cout]), bias, 1, 0, 0, 1, m), [
        m,
        cout,
      ]) as tf.Tensor2D,
  );
}
