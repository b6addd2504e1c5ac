/**
 * Filter and bias gradient of a k×k 'same' convolution (NHWC) as one tiled WGSL matrix product
 * that gathers the input patches on the fly, run through tfjs-webgpu's runWebGPUProgram.
 *
 *   dW[(i,j,c), co] = Σ_m x[n, oy·s+i−pt, ox·s+j−pl, c] · dy[m, co]   (m = (n, oy, ox))
 *   db[co]          = Σ_m dy[m, co]                                   (an extra row of ones)
 *
 * The reduction over m (N·OH·OW, up to 262,144 rows at cifar10 batch 256) is split across
 * workgroups (split-K) so the few output tiles still fill the GPU; the partial products are summed
 * by one more kernel (sumLeading.ts). Compared with im2col + tfjs matMul this builds no patch matrix (the
 * slices and concat were a quarter of a step's GPU time) and needs no separate bias reduction.
 */
import { tf } from '../tf';
import { sumLeadingGpu } from './sumLeading';
import { splitFlat } from './flatCopy';
import { runGpuKernel, workgroupMemoryLimit, type ConvGeometry } from './program';
import {
  FILTER_GRAD_MAX_TILE,
  FILTER_GRAD_VARIANT,
  TILE_THREADS,
  bkOf,
  parseVariant,
  tileKernel,
  tileKey,
  u,
  fitStages,
  variantText,
  type GemmVariant,
  type Tile,
} from './gemmTile';

const KERNEL = 'SadpmConvFilterGrad';

interface ConvFilterGradAttrs {
  k: number;
  stride: number;
  padTop: number;
  padLeft: number;
  /** Number of partial products along the reduction (chosen by the caller, >= 1). */
  splits: number;
  /** The core's code variant ('' for the defaults). */
  variant: string;
}

function tileFor(rows: number, cout: number): Tile {
  const max = FILTER_GRAD_MAX_TILE;
  return { bm: rows <= 64 ? 64 : max.bm, bn: cout <= 64 ? 64 : max.bn };
}

/** The convolution and how many partial products the reduction is split into. */
interface Geometry extends ConvGeometry {
  splits: number;
  variant: string;
}

class FilterGradProgram {
  readonly variableNames = ['x', 'dy'];
  readonly variableComponents: number[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [1], y: [2], z: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [TILE_THREADS, 1, 1];
  private readonly tile: Tile;
  private readonly chunk: number;

  constructor(private readonly g: Geometry) {
    const rows = g.k * g.k * g.cin + 1;
    const tile: Tile = { ...tileFor(rows, g.cout), variant: parseVariant(g.variant) ?? FILTER_GRAD_VARIANT };
    // The bias-alone flag needs 16 bytes beside the stages (past 32 KiB with 32-deep 128×128 stages).
    this.tile = fitStages(tile, workgroupMemoryLimit(), 16);
    this.variableComponents = this.vec4 ? [4, 4] : [1, 1];
    const m = g.n * g.oh * g.ow;
    // Each split reduces a whole number of bk-row blocks.
    const bk = bkOf(this.tile);
    this.chunk = Math.ceil(Math.ceil(m / g.splits) / bk) * bk;
    this.outputShape = [g.splits, rows, g.cout];
    this.dispatch = [Math.ceil(rows / this.tile.bm), Math.ceil(g.cout / this.tile.bn), g.splits];
    const { variant: _, ...geometry } = g;
    this.shaderKey = `sadpmFilterGrad_${Object.values(geometry).join('_')}_${tileKey(this.tile)}`;
  }

  /** Staging with vec4 loads (4 channels of one pixel; 4 output channels of dy): channels multiples of 4. */
  private get vec4(): boolean {
    return this.g.cin % 4 === 0 && this.g.cout % 4 === 0;
  }

  /** Per-thread setup, the register fetch of slice `it`, and the store into workgroup memory. */
  private staging(): { setup: string; load: (it: string) => string; store: string } {
    const { h, w, cin, oh, ow, cout, k, s, pt, pl } = this.g;
    const { bm, bn } = this.tile;
    const kdim = k * k * cin;
    const BK = bkOf(this.tile);
    // x at pixel (mm, fi, fj) of this thread's patch column, or `zero` outside the image.
    const gather = (index: string, zero: string) => `
                let nb = mm / ${u(oh * ow)};
                let rem = mm % ${u(oh * ow)};
                let iy = i32(rem / ${u(ow)}) * ${s} + fi;
                let ix = i32(rem % ${u(ow)}) * ${s} + fj;
                v = ${zero};
                if (iy >= 0 && iy < ${h} && ix >= 0 && ix < ${w}) {
                  v = x[${index.replace('PIXEL', `((nb * ${u(h)} + u32(iy)) * ${u(w)} + u32(ix)) * ${u(cin)}`)}];
                }`;
    const colSetup = (lanes: number) => `
        let kk = rowBase + aCol * ${u(lanes)};
        let isBias = kk == ${u(kdim)};
        let inRange = kk < ${u(kdim)};
        let kc = min(kk, ${u(kdim - 1)});
        let ci = kc % ${u(cin)};
        let ij = kc / ${u(cin)};
        let fi = i32(ij / ${u(k)}) - ${pt};
        let fj = i32(ij % ${u(k)}) - ${pl};`;
    if (this.vec4) {
      // A: 4 consecutive patch columns (one pixel, 4 channels) per load; B: 4 output channels.
      const aCols = bm / 4;
      const aStep = TILE_THREADS / aCols;
      const bCols = bn / 4;
      const bStep = TILE_THREADS / bCols;
      const aPer = BK / aStep;
      const bPer = BK / bStep;
      const setup = `
        let aCol = tid % ${u(aCols)};
        let aRow0 = tid / ${u(aCols)};${colSetup(4)}
        let bCol = tid % ${u(bCols)};
        let bRow0 = tid / ${u(bCols)};
        let co = colBase + bCol * 4u;
        var ra: array<vec4<f32>, ${aPer}>;
        var rb: array<vec4<f32>, ${bPer}>;`;
      const load = (it: string) => {
        const body: string[] = [`let m0 = mStart + ${it} * ${u(BK)};`];
        for (let r = 0; r < aPer; r++) {
          body.push(`{
              let mm = m0 + aRow0 + ${u(r * aStep)};
              var v = vec4<f32>(0.0);
              if (mm < mEnd) {
                if (isBias) {
                  v = vec4<f32>(1.0, 0.0, 0.0, 0.0);
                } else if (inRange) {${gather('(PIXEL + ci) / 4u', 'vec4<f32>(0.0)')}
                }
              }
              ra[${r}] = v;
            }`);
        }
        for (let r = 0; r < bPer; r++) {
          body.push(`{
              let mm = m0 + bRow0 + ${u(r * bStep)};
              rb[${r}] = vec4<f32>(0.0);
              if (mm < mEnd && co < ${u(cout)}) { rb[${r}] = dy[(mm * ${u(cout)} + co) / 4u]; }
            }`);
        }
        return `{ ${body.join('\n            ')} }`;
      };
      const stores: string[] = [];
      for (let r = 0; r < aPer; r++) stores.push(`As[aW + (aRow0 + ${u(r * aStep)}) * ${u(aCols)} + aCol] = ra[${r}];`);
      for (let r = 0; r < bPer; r++) stores.push(`Bs[bW + (bRow0 + ${u(r * bStep)}) * ${u(bCols)} + bCol] = rb[${r}];`);
      return { setup, load, store: stores.join('\n          ') };
    }
    // Scalar staging (any channel count): one patch column per thread, consecutive threads on
    // consecutive columns.
    const aPer = (BK * bm) / TILE_THREADS;
    const bPer = (BK * bn) / TILE_THREADS;
    const aRowStep = TILE_THREADS / bm;
    const bRowStep = TILE_THREADS / bn;
    const setup = `
        let aCol = tid % ${u(bm)};
        let aRow0 = tid / ${u(bm)};${colSetup(1)}
        let bCol = tid % ${u(bn)};
        let bRow0 = tid / ${u(bn)};
        let co = colBase + bCol;
        var ra: array<f32, ${aPer}>;
        var rb: array<f32, ${bPer}>;`;
    const load = (it: string) => `{
          let m0 = mStart + ${it} * ${u(BK)};
          for (var r = 0u; r < ${u(aPer)}; r = r + 1u) {
            let mm = m0 + aRow0 + r * ${u(aRowStep)};
            var v = 0.0;
            if (mm < mEnd) {
              if (isBias) {
                v = 1.0;
              } else if (inRange) {${gather('PIXEL + ci', '0.0')}
              }
            }
            ra[r] = v;
          }
          for (var r = 0u; r < ${u(bPer)}; r = r + 1u) {
            let mm = m0 + bRow0 + r * ${u(bRowStep)};
            var v = 0.0;
            if (mm < mEnd && co < ${u(cout)}) {
              v = dy[mm * ${u(cout)} + co];
            }
            rb[r] = v;
          }
        }`;
    const store = `
          for (var r = 0u; r < ${u(aPer)}; r = r + 1u) {
            let i = (aRow0 + r * ${u(aRowStep)}) * ${u(bm)} + aCol;
            As[aW + i / 4u][i % 4u] = ra[r];
          }
          for (var r = 0u; r < ${u(bPer)}; r = r + 1u) {
            let i = (bRow0 + r * ${u(bRowStep)}) * ${u(bn)} + bCol;
            Bs[bW + i / 4u][i % 4u] = rb[r];
          }`;
    return { setup, load, store };
  }

  /**
   * When k·k·cin is a multiple of the row tile, the last row tile holds the bias row alone (e.g. 1,153
   * rows in 10 tiles of 128 for 3×3×128): its workgroups sum dy over their rows instead of running the
   * whole product for one useful row, which was a tenth of those convolutions' filter-gradient time
   * (a third for 1×1 convolutions of 256 channels).
   */
  private biasAloneCode(): string {
    const { cout, k, cin } = this.g;
    const kdim = k * k * cin;
    if (!this.vec4 || kdim % this.tile.bm !== 0) return '';
    const cols = this.tile.bn / 4;
    const parts = TILE_THREADS / cols;
    return `
        if (tid == 0u) { biasAlone = select(0u, 1u, rowBase >= ${u(kdim)}); }
        if (workgroupUniformLoad(&biasAlone) == 1u) {
          let c4 = tid % ${u(cols)};
          let part = tid / ${u(cols)};
          let cb = colBase + c4 * 4u;
          var sum = vec4<f32>(0.0);
          if (cb < ${u(cout)}) {
            for (var mm = mStart + part; mm < mEnd; mm = mm + ${u(parts)}) {
              sum = sum + dy[(mm * ${u(cout)} + cb) / 4u];
            }
          }
          Bs[tid] = sum;
          workgroupBarrier();
          if (part == 0u && cb < ${u(cout)}) {
            var total = vec4<f32>(0.0);
            for (var p = 0u; p < ${u(parts)}; p = p + 1u) { total = total + Bs[p * ${u(cols)} + c4]; }
            let base = (split * ${u(kdim + 1)} + ${u(kdim)}) * ${u(cout)} + cb;
            for (var e = 0u; e < 4u; e = e + 1u) { result[base + e] = total[e]; }
          }
          return;
        }`;
  }

  getUserCode(): string {
    const { n, oh, ow, cout, k, cin } = this.g;
    const tile = this.tile;
    const rows = k * k * cin + 1;
    const m = n * oh * ow;
    const { setup, load, store } = this.staging();
    // Reduction rows past mEnd stage zeros, so every split runs the same constant number of slices.
    const early = this.biasAloneCode();
    return tileKernel({
      early,
      declarations: early ? 'var<workgroup> biasAlone: u32;' : undefined,
      tile,
      steps: this.chunk / bkOf(tile),
      setup: `
        let split = workgroupId.z;
        let mStart = split * ${u(this.chunk)};
        let mEnd = min(mStart + ${u(this.chunk)}, ${u(m)});
        // This thread stages patch column(s) from aCol for reduction rows aRow0 + r·step.${setup}`,
      load,
      store,
      emit: (row, col, value) => `{
          let orow = rowBase + ${row};
          let ocol = colBase + ${col};
          if (orow < ${u(rows)}) {
            let base = (split * ${u(rows)} + orow) * ${u(cout)} + ocol;
            for (var e = 0u; e < 4u; e = e + 1u) {
              if (ocol + e < ${u(cout)}) { result[base + e] = ${value}[e]; }
            }
          }
        }`,
    });
  }
}

/**
 * How many partial products: ~1024 workgroups (an H100 has 132 SMs; 1x1 convs have only 1-2 output
 * tiles), each reducing >= 256 rows, at most 128 (the partials are summed afterwards).
 */
export function filterGradSplits(m: number, rows: number, cout: number): number {
  const { bm, bn } = tileFor(rows, cout);
  const tiles = Math.ceil(rows / bm) * Math.ceil(cout / bn);
  return Math.max(1, Math.min(Math.ceil(1024 / tiles), Math.floor(m / 256), 128));
}

/**
 * dW [k,k,cin,cout] and db [cout] of a 'same' k×k stride-s convolution of x [n,h,w,cin] whose output
 * gradient is dy [n,oh,ow,cout]; webgpu backend only.
 */
export function convFilterBiasGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  k: number,
  stride: number,
  padTop: number,
  padLeft: number,
  variant?: GemmVariant,
): [tf.Tensor4D, tf.Tensor1D] {
  const [n, , , cin] = x.shape;
  const [, oh, ow, cout] = dy.shape;
  const rows = k * k * cin + 1;
  const splits = filterGradSplits(n * oh * ow, rows, cout);
  const attrs: ConvFilterGradAttrs = { k, stride, padTop, padLeft, splits, variant: variantText(variant) };
  return tf.tidy(() => {
    const parts = runGpuKernel(KERNEL, { x, dy }, attrs, ({ x: xi, dy: dyi }, a) => {
      const [nn, h, w, ci] = xi!.shape as [number, number, number, number];
      const [, ohh, oww, co] = dyi!.shape as [number, number, number, number];
      return new FilterGradProgram({
        n: nn,
        h,
        w,
        cin: ci,
        oh: ohh,
        ow: oww,
        cout: co,
        k: a.k,
        s: a.stride,
        pt: a.padTop,
        pl: a.padLeft,
        splits: a.splits,
        variant: a.variant,
      });
    }) as tf.Tensor3D;
    const full = splits === 1 ? tf.reshape(parts, [rows, cout]) : (sumLeadingGpu(parts, [rows, cout]) as tf.Tensor2D);
    // dW is the first rows − 1 rows, db the last: two buffer copies, or two slice kernels.
    const [dwFlat, dbFlat] = splitFlat(full, [(rows - 1) * cout, cout]) ?? [
      tf.slice(full, [0, 0], [rows - 1, cout]),
      tf.slice(full, [rows - 1, 0], [1, cout]),
    ];
    return [tf.reshape(dwFlat!, [k, k, cin, cout]) as tf.Tensor4D, tf.reshape(dbFlat!, [cout]) as tf.Tensor1D];
  });
}
