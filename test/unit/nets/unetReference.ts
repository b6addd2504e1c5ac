/**
 * A plain-JS (float64, loops) transcription of the DDIM `models/diffusion.py` Model forward, used to
 * check the tfjs UNet on tiny configs. Written independently of unetPlan.ts: it walks the PyTorch
 * code's loops itself and looks weights up by name, so it also checks names, shapes and skip wiring.
 * Layout NHWC; weights in the tfjs layouts ([kh,kw,in,out], [in,out]).
 */
import type { ModelConfig } from '../../../src/shared/config';

/** Weights: float32 as the model holds them, or float64 for finite differences. */
export type Vec = Float32Array | Float64Array;

export interface Arr4 {
  n: number;
  h: number;
  w: number;
  c: number;
  d: Float64Array;
}

const at = (a: Arr4, n: number, y: number, x: number, c: number) => a.d[((n * a.h + y) * a.w + x) * a.c + c]!;
const make = (n: number, h: number, w: number, c: number): Arr4 => ({ n, h, w, c, d: new Float64Array(n * h * w * c) });

export function fromNHWC(data: ArrayLike<number>, n: number, h: number, w: number, c: number): Arr4 {
  return { n, h, w, c, d: Float64Array.from(data) };
}

export class Weights {
  constructor(private readonly m: Map<string, Vec>) {}
  get(name: string, size: number): Vec {
    const v = this.m.get(name);
    if (!v) throw new Error(`reference: missing weight ${name}`);
    if (v.length !== size) throw new Error(`reference: weight ${name} has ${v.length} values, expected ${size}`);
    return v;
  }
}

/** PyTorch-style conv: explicit zero padding (top/left; output size given), stride s. */
export function conv2d(
  x: Arr4,
  w: Vec,
  b: Vec,
  k: number,
  cout: number,
  stride: number,
  padTL: number,
  outH: number,
  outW: number,
): Arr4 {
  const out = make(x.n, outH, outW, cout);
  const cin = x.c;
  for (let n = 0; n < x.n; n++)
    for (let oy = 0; oy < outH; oy++)
      for (let ox = 0; ox < outW; ox++)
        for (let co = 0; co < cout; co++) {
          let s = b[co]!;
          for (let ky = 0; ky < k; ky++) {
            const iy = oy * stride + ky - padTL;
            if (iy < 0 || iy >= x.h) continue;
            for (let kx = 0; kx < k; kx++) {
              const ix = ox * stride + kx - padTL;
              if (ix < 0 || ix >= x.w) continue;
              for (let ci = 0; ci < cin; ci++) s += at(x, n, iy, ix, ci) * w[((ky * k + kx) * cin + ci) * cout + co]!;
            }
          }
          out.d[((n * outH + oy) * outW + ox) * cout + co] = s;
        }
  return out;
}

export function groupNorm(x: Arr4, gamma: Vec, beta: Vec, groups: number, eps = 1e-6): Arr4 {
  const out = make(x.n, x.h, x.w, x.c);
  const cg = x.c / groups;
  for (let n = 0; n < x.n; n++)
    for (let g = 0; g < groups; g++) {
      let s = 0;
      let cnt = 0;
      for (let y = 0; y < x.h; y++)
        for (let xx = 0; xx < x.w; xx++) for (let c = g * cg; c < (g + 1) * cg; c++) ((s += at(x, n, y, xx, c)), cnt++);
      const mean = s / cnt;
      let v = 0;
      for (let y = 0; y < x.h; y++)
        for (let xx = 0; xx < x.w; xx++)
          for (let c = g * cg; c < (g + 1) * cg; c++) v += (at(x, n, y, xx, c) - mean) ** 2;
      const r = 1 / Math.sqrt(v / cnt + eps);
      for (let y = 0; y < x.h; y++)
        for (let xx = 0; xx < x.w; xx++)
          for (let c = g * cg; c < (g + 1) * cg; c++) {
            const i = ((n * x.h + y) * x.w + xx) * x.c + c;
            out.d[i] = (x.d[i]! - mean) * r * gamma[c]! + beta[c]!;
          }
    }
  return out;
}

const map = (x: Arr4, f: (v: number) => number): Arr4 => ({ ...x, d: x.d.map(f) });
const silu = (x: Arr4) => map(x, (v) => v / (1 + Math.exp(-v)));
const addArr = (a: Arr4, b: Arr4): Arr4 => ({ ...a, d: a.d.map((v, i) => v + b.d[i]!) });

function concatC(a: Arr4, b: Arr4): Arr4 {
  const out = make(a.n, a.h, a.w, a.c + b.c);
  for (let p = 0; p < a.n * a.h * a.w; p++) {
    for (let c = 0; c < a.c; c++) out.d[p * out.c + c] = a.d[p * a.c + c]!;
    for (let c = 0; c < b.c; c++) out.d[p * out.c + a.c + c] = b.d[p * b.c + c]!;
  }
  return out;
}

function linear(x: number[][], w: Vec, b: Vec, cout: number): number[][] {
  return x.map((row) => {
    const o: number[] = [];
    for (let j = 0; j < cout; j++) {
      let s = b[j]!;
      for (let i = 0; i < row.length; i++) s += row[i]! * w[i * cout + j]!;
      o.push(s);
    }
    return o;
  });
}

export function timestepEmbedding(t: number[], ch: number): number[][] {
  const half = ch / 2;
  const e = Math.log(10000) / (half - 1);
  return t.map((tv) => {
    const a = Array.from({ length: half }, (_, i) => tv * Math.exp(-e * i));
    return [...a.map(Math.sin), ...a.map(Math.cos)];
  });
}

export function referenceForward(cfg: ModelConfig, W: Weights, x: Arr4, t: number[]): Arr4 {
  const { ch, chMult, numResBlocks, normGroups: G } = cfg;
  const T = ch * 4;
  const conv3 = (name: string, h: Arr4, cout: number) =>
    conv2d(h, W.get(`${name}.w`, 9 * h.c * cout), W.get(`${name}.b`, cout), 3, cout, 1, 1, h.h, h.w);
  const conv1 = (name: string, h: Arr4, cout: number) =>
    conv2d(h, W.get(`${name}.w`, h.c * cout), W.get(`${name}.b`, cout), 1, cout, 1, 0, h.h, h.w);
  const norm = (name: string, h: Arr4) => groupNorm(h, W.get(`${name}.gamma`, h.c), W.get(`${name}.beta`, h.c), G);

  let temb = timestepEmbedding(t, ch);
  temb = linear(temb, W.get('temb.dense.0.w', ch * T), W.get('temb.dense.0.b', T), T);
  temb = temb.map((r) => r.map((v) => v / (1 + Math.exp(-v))));
  temb = linear(temb, W.get('temb.dense.1.w', T * T), W.get('temb.dense.1.b', T), T);

  const resnet = (name: string, xin: Arr4, cout: number): Arr4 => {
    let h = conv3(`${name}.conv1`, silu(norm(`${name}.norm1`, xin)), cout);
    const tt = linear(
      temb.map((r) => r.map((v) => v / (1 + Math.exp(-v)))),
      W.get(`${name}.temb_proj.w`, T * cout),
      W.get(`${name}.temb_proj.b`, cout),
      cout,
    );
    h = { ...h, d: h.d.map((v, i) => v + tt[Math.floor(i / (h.h * h.w * cout))]![i % cout]!) };
    h = conv3(`${name}.conv2`, silu(norm(`${name}.norm2`, h)), cout);
    const sc = xin.c !== cout ? conv1(`${name}.nin_shortcut`, xin, cout) : xin;
    return addArr(sc, h);
  };
  const attn = (name: string, xin: Arr4): Arr4 => {
    const C = xin.c;
    const hn = norm(`${name}.norm`, xin);
    const q = conv1(`${name}.q`, hn, C);
    const k = conv1(`${name}.k`, hn, C);
    const v = conv1(`${name}.v`, hn, C);
    const o = make(xin.n, xin.h, xin.w, C);
    const P = xin.h * xin.w;
    for (let n = 0; n < xin.n; n++)
      for (let i = 0; i < P; i++) {
        const logits: number[] = [];
        for (let j = 0; j < P; j++) {
          let s = 0;
          for (let c = 0; c < C; c++) s += q.d[(n * P + i) * C + c]! * k.d[(n * P + j) * C + c]!;
          logits.push(s / Math.sqrt(C));
        }
        const m = Math.max(...logits);
        const e = logits.map((l) => Math.exp(l - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let j = 0; j < P; j++) s += (e[j]! / z) * v.d[(n * P + j) * C + c]!;
          o.d[(n * P + i) * C + c] = s;
        }
      }
    return addArr(xin, conv1(`${name}.proj_out`, o, C));
  };

  const L = chMult.length;
  let res = cfg.imageSize;
  const hs: Arr4[] = [conv3('conv_in', x, ch)];
  for (let i = 0; i < L; i++) {
    const blockOut = ch * chMult[i]!;
    for (let j = 0; j < numResBlocks; j++) {
      let h = resnet(`down.${i}.block.${j}`, hs[hs.length - 1]!, blockOut);
      if (cfg.attnResolutions.includes(res)) h = attn(`down.${i}.attn.${j}`, h);
      hs.push(h);
    }
    if (i !== L - 1) {
      const h = hs[hs.length - 1]!;
      // torch.nn.functional.pad(x, (0, 1, 0, 1)) then 3x3 stride-2 valid conv.
      const oh = Math.floor((h.h + 1 - 3) / 2) + 1;
      const ow = Math.floor((h.w + 1 - 3) / 2) + 1;
      hs.push(
        conv2d(
          h,
          W.get(`down.${i}.downsample.conv.w`, 9 * h.c * h.c),
          W.get(`down.${i}.downsample.conv.b`, h.c),
          3,
          h.c,
          2,
          0,
          oh,
          ow,
        ),
      );
      res /= 2;
    }
  }
  let h = hs[hs.length - 1]!;
  h = resnet('mid.block_1', h, h.c);
  h = attn('mid.attn_1', h);
  h = resnet('mid.block_2', h, h.c);
  for (let i = L - 1; i >= 0; i--) {
    const blockOut = ch * chMult[i]!;
    for (let j = 0; j < numResBlocks + 1; j++) {
      h = resnet(`up.${i}.block.${j}`, concatC(h, hs.pop()!), blockOut);
      if (cfg.attnResolutions.includes(res)) h = attn(`up.${i}.attn.${j}`, h);
    }
    if (i !== 0) {
      const u = make(h.n, h.h * 2, h.w * 2, h.c);
      for (let n = 0; n < h.n; n++)
        for (let y = 0; y < u.h; y++)
          for (let xx = 0; xx < u.w; xx++)
            for (let c = 0; c < h.c; c++) u.d[((n * u.h + y) * u.w + xx) * u.c + c] = at(h, n, y >> 1, xx >> 1, c);
      h = conv3(`up.${i}.upsample.conv`, u, h.c);
      res *= 2;
    }
  }
  if (hs.length !== 0) throw new Error('reference: skip list not consumed');
  h = silu(norm('norm_out', h));
  return conv3('conv_out', h, cfg.channels);
}
