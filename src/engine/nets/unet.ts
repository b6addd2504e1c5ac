/**
 * The DDPM/DDIM UNet (DDIM codebase `models/diffusion.py` `Model`, as used by SA-DPM) in tfjs, NHWC.
 *
 * Structure and parameter list come from `buildUNetPlan` (unetPlan.ts). The forward pass is written
 * for few kernel dispatches (the webgpu backend pays per dispatch):
 *  - convs and linears are fused conv2d/matMul with bias; 1x1 convs and attention projections are
 *    fused matMuls; on webgpu their weight and bias gradients come from one split-K kernel (ops.ts);
 *  - GroupNorm is one mean/variance pass with gamma folded into the scale, and GroupNorm and SiLU
 *    have analytic gradients (ops.ts);
 *  - SiLU(temb) is computed once and shared by every block's temb_proj;
 *  - attention keeps q, k, v as separate variables and matMuls (cheaper than concat + split), with
 *    the 1/sqrt(C) scale as one multiply on q;
 *  - downsampling is a stride-2 'same' conv: for even sizes TF 'same' pads 0 top/left and 1
 *    bottom/right, exactly the reference's pad (0,1,0,1) + 'valid' conv, without a pad op.
 */
import { tf } from '../tf';
import type { ModelConfig } from '../../shared/config';
import { Rng, Stream } from '../rng';
import { kernels } from '../gpu/registry';
import { dropoutWords, type DropoutKey } from '../philox';
import {
  addPerChannel,
  addSame,
  attention,
  concatChannels,
  conv2dSame,
  conv2dSameOf,
  dropout,
  groupNormAct,
  linear,
  reshapeFree,
  silu,
} from './ops';
import {
  buildUNetPlan,
  type AttnRef,
  type ConvRef,
  type LinearRef,
  type NormRef,
  type ParamSpec,
  type ResBlockRef,
  type UNetPlan,
} from './unetPlan';

export { countUNetParams, buildUNetPlan } from './unetPlan';
export type { UNetPlan, ParamSpec } from './unetPlan';

export interface UNetApplyOptions {
  training: boolean;
  /** Keys the dropout masks (each layer adds its index, see philox.ts); without it each call draws a fresh key. */
  dropoutKey?: DropoutKey;
}

const GN_EPS = 1e-6;

let instanceCounter = 0;

/** Host-side initial values of one parameter, deterministic in (seed, index). */
export function initParamValues(spec: ParamSpec, seed: number, index: number): Float32Array {
  const out = new Float32Array(spec.size);
  switch (spec.init.kind) {
    case 'uniform':
      Rng.keyed(seed, Stream.init, index).fillUniform(out, -spec.init.bound, spec.init.bound);
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'zeros':
      break;
  }
  return out;
}

/** Sinusoidal timestep embedding frequencies: exp(-log(10000) * i / (half - 1)), i < half. */
export function timestepFrequencies(ch: number): Float32Array {
  const half = Math.floor(ch / 2);
  const f = new Float32Array(half);
  const step = Math.log(10000) / (half - 1);
  for (let i = 0; i < half; i++) f[i] = Math.exp(-step * i);
  return f;
}

interface DropoutCtx {
  rate: number;
  key: DropoutKey;
}

export class UNet {
  readonly cfg: ModelConfig;
  readonly variables: tf.Variable[];
  readonly names: string[];
  readonly plan: UNetPlan;
  private readonly freq: tf.Tensor2D;
  private readonly eps: tf.Scalar;
  private readonly attnScale = new Map<number, tf.Scalar>();
  private disposed = false;

  constructor(cfg: ModelConfig, seed: number) {
    this.cfg = { ...cfg, chMult: [...cfg.chMult], attnResolutions: [...cfg.attnResolutions] };
    this.plan = buildUNetPlan(this.cfg);
    const id = instanceCounter++;
    this.names = this.plan.params.map((p) => p.name);
    this.variables = this.plan.params.map((spec, i) =>
      tf.tidy(() =>
        tf.variable(tf.tensor(initParamValues(spec, seed, i), spec.shape, 'float32'), true, `unet${id}/${spec.name}`),
      ),
    );
    const f = timestepFrequencies(this.cfg.ch);
    this.freq = tf.tensor2d(f, [1, f.length], 'float32');
    this.eps = tf.scalar(GN_EPS, 'float32');
    const attnChannels = new Set<number>();
    const visit = (a: AttnRef | undefined) => {
      if (a) attnChannels.add(a.channels);
    };
    for (const l of this.plan.down) for (const s of l.steps) visit(s.attn);
    visit(this.plan.mid.attn);
    for (const l of this.plan.up) for (const s of l.steps) visit(s.attn);
    for (const c of attnChannels) this.attnScale.set(c, tf.scalar(1 / Math.sqrt(c), 'float32'));
  }

  paramCount(): number {
    return this.variables.reduce((a, v) => a + v.size, 0);
  }

  /** Predicts eps for x [N,H,W,C] at float 0-based timestep indices t [N]. */
  apply(x: tf.Tensor4D, t: tf.Tensor1D, opts: UNetApplyOptions): tf.Tensor4D {
    this.checkInputs('apply', x, t);
    const key = opts.dropoutKey ?? { seed: Math.floor(Math.random() * 2 ** 32), step: 0, term: 0 };
    const drop: DropoutCtx | null = opts.training && this.cfg.dropout > 0 ? { rate: this.cfg.dropout, key } : null;
    return tf.tidy(() => this.output(this.trunk(x, t.dtype === 'float32' ? t : tf.cast(t, 'float32'), drop)));
  }

  /**
   * Inference pass that also returns the last hidden layer (the input of norm_out, ch * chMult[0] channels):
   * what a covariance head reads (Extended-Analytic-DPM's Model4Pretrained).
   */
  applyWithFeatures(x: tf.Tensor4D, t: tf.Tensor1D): { eps: tf.Tensor4D; features: tf.Tensor4D } {
    this.checkInputs('applyWithFeatures', x, t);
    return tf.tidy(() => {
      const features = this.trunk(x, t.dtype === 'float32' ? t : tf.cast(t, 'float32'), null);
      return { eps: this.output(features), features };
    });
  }

  private checkInputs(where: string, x: tf.Tensor4D, t: tf.Tensor1D): void {
    this.assertLive();
    const [n, h, w, c] = x.shape;
    const L = this.cfg.chMult.length;
    const div = 2 ** (L - 1);
    const fail = (why: string) => new Error(`UNet.${where}: ${why}`);
    if (c !== this.cfg.channels) {
      throw fail(`x has ${c} channels, model expects ${this.cfg.channels} (x shape [${x.shape.join(', ')}])`);
    }
    if (h % div !== 0 || w % div !== 0) throw fail(`x spatial size ${h}x${w} must be divisible by ${div}`);
    if (t.rank !== 1 || t.shape[0] !== n) throw fail(`t must have shape [${n}], got [${t.shape.join(', ')}]`);
  }

  /** Channels of the last hidden layer (applyWithFeatures' features). */
  featureChannels(): number {
    return this.plan.normOut.channels;
  }

  private output(h: tf.Tensor4D): tf.Tensor4D {
    return this.convOfNorm(h, this.plan.normOut, this.plan.convOut, null);
  }

  private trunk(x: tf.Tensor4D, t: tf.Tensor1D, drop: DropoutCtx | null): tf.Tensor4D {
    const p = this.plan;
    // Timestep embedding -> MLP; SiLU(temb) is what every block's temb_proj consumes.
    const n = x.shape[0];
    const args = tf.mul(tf.reshape(t, [n, 1]), this.freq) as tf.Tensor2D;
    let temb = tf.concat([tf.sin(args), tf.cos(args)], 1);
    temb = this.linear(temb, p.temb[0]);
    temb = this.linear(silu(temb), p.temb[1]);
    const tembAct = silu(temb);

    const hs: tf.Tensor4D[] = [this.conv(x, p.convIn)];
    for (const level of p.down) {
      for (const step of level.steps) {
        let h = this.resBlock(last(hs), tembAct, step.block, drop);
        if (step.attn) h = this.attnBlock(h, step.attn);
        hs.push(h);
      }
      if (level.downsample) hs.push(this.conv(last(hs), level.downsample, 2));
    }
    let h = last(hs);
    h = this.resBlock(h, tembAct, p.mid.block1, drop);
    h = this.attnBlock(h, p.mid.attn);
    h = this.resBlock(h, tembAct, p.mid.block2, drop);
    for (let i = p.up.length - 1; i >= 0; i--) {
      const level = p.up[i]!;
      for (const step of level.steps) {
        const skip = hs.pop();
        if (!skip) throw new Error('UNet: internal error, skip list exhausted');
        h = this.resBlock(concatChannels(h, skip), tembAct, step.block, drop);
        if (step.attn) h = this.attnBlock(h, step.attn);
      }
      if (level.upsample) {
        const [, hh, ww] = h.shape;
        h = this.conv(tf.image.resizeNearestNeighbor(h, [hh * 2, ww * 2]), level.upsample);
      }
    }
    return h;
  }

  private v(i: number): tf.Variable {
    const v = this.variables[i];
    if (!v) throw new Error(`UNet: internal error, no variable ${i}`);
    return v;
  }

  private conv(x: tf.Tensor4D, c: ConvRef, stride: 1 | 2 = 1): tf.Tensor4D {
    if (c.k === 1) {
      const [n, h, w, cin] = x.shape;
      const y = linear(
        tf.reshape(x, [n * h * w, cin]),
        tf.reshape(this.v(c.w), [c.cin, c.cout]),
        this.v(c.b) as tf.Tensor1D,
      );
      return reshapeFree(y, [n, h, w, c.cout]);
    }
    return conv2dSame(x, this.v(c.w) as tf.Tensor4D, this.v(c.b) as tf.Tensor1D, stride);
  }

  private linear(x: tf.Tensor2D, l: LinearRef): tf.Tensor2D {
    return tf.fused.matMul({ a: x, b: this.v(l.w) as tf.Tensor2D, bias: this.v(l.b) }) as tf.Tensor2D;
  }

  /**
   * conv(dropout(SiLU(GroupNorm(x)))), dropout when `drop`; the normalised activation is recomputed
   * in the backward pass (ops.ts conv2dSameOf).
   */
  private convOfNorm(x: tf.Tensor4D, nr: NormRef, c: ConvRef, drop: (DropoutCtx & { index: number }) | null) {
    if (c.k === 1) throw new Error('UNet: internal error, convOfNorm needs a k x k convolution');
    const pre = (xi: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor) => {
      const a = groupNormAct(xi, gamma, beta, nr.groups, this.eps, GN_EPS, true);
      return drop ? dropout(a, drop.rate, dropoutWords(drop.key, drop.index)) : a;
    };
    const w = this.v(c.w) as tf.Tensor4D;
    return conv2dSameOf(pre, x, this.v(nr.gamma), this.v(nr.beta), w, this.v(c.b) as tf.Tensor1D, 1);
  }

  private groupNorm(x: tf.Tensor4D, nr: NormRef, act = false): tf.Tensor4D {
    return groupNormAct(x, this.v(nr.gamma), this.v(nr.beta), nr.groups, this.eps, GN_EPS, act);
  }

  /**
   * Each block runs in its own tidy: what backward does not keep (conv1's output before the time
   * embedding, the activation before dropout, conv2's output) is freed at the block's end instead of
   * at the end of the whole forward pass.
   */
  private resBlock(x: tf.Tensor4D, tembAct: tf.Tensor2D, b: ResBlockRef, drop: DropoutCtx | null): tf.Tensor4D {
    return blockScope(() => {
      let h = this.convOfNorm(x, b.norm1, b.conv1, null);
      h = addPerChannel(h, this.linear(tembAct, b.tembProj));
      h = this.convOfNorm(h, b.norm2, b.conv2, drop ? { ...drop, index: b.dropoutIndex } : null);
      const shortcut = b.ninShortcut ? this.conv(x, b.ninShortcut) : x;
      return addSame(shortcut, h);
    });
  }

  /** Single-head self-attention over all H*W positions, residual. */
  private attnBlock(x: tf.Tensor4D, a: AttnRef): tf.Tensor4D {
    return blockScope(() => {
      const [n, hh, ww, c] = x.shape;
      const hn = tf.reshape(this.groupNorm(x, a.norm), [n * hh * ww, c]) as tf.Tensor2D;
      const proj = (r: ConvRef) =>
        linear(hn, tf.reshape(this.v(r.w), [c, c]) as tf.Tensor2D, this.v(r.b) as tf.Tensor1D);
      const scale = this.attnScale.get(c);
      if (!scale) throw new Error(`UNet: internal error, no attention scale for ${c} channels`);
      const o = attention(proj(a.q), proj(a.k), proj(a.v), n, scale);
      const w = tf.reshape(this.v(a.projOut.w), [c, c]) as tf.Tensor2D;
      const out = linear(o, w, this.v(a.projOut.b) as tf.Tensor1D);
      return addSame(x, reshapeFree(out, [n, hh, ww, c]));
    });
  }

  /** Host copies of all weights, in the order of `variables`. */
  async readWeights(): Promise<Float32Array[]> {
    this.assertLive();
    const data = await Promise.all(this.variables.map((v) => v.data<'float32'>()));
    // Copy: some backends (cpu) hand out the live backing array.
    return data.map((d) => Float32Array.from(d));
  }

  /** Replaces all weights; validates the count and every size before changing anything. */
  writeWeights(w: Float32Array[]): void {
    this.assertLive();
    if (w.length !== this.variables.length) {
      throw new Error(
        `UNet.writeWeights: expected ${this.variables.length} arrays (one per variable), got ${w.length}`,
      );
    }
    for (let i = 0; i < w.length; i++) {
      const arr = w[i];
      const v = this.v(i);
      const name = this.names[i] ?? `#${i}`;
      if (!(arr instanceof Float32Array)) throw new Error(`UNet.writeWeights: '${name}' must be a Float32Array`);
      if (arr.length !== v.size) {
        throw new Error(
          `UNet.writeWeights: '${name}' expects ${v.size} values (shape [${v.shape.join(', ')}]), got ${arr.length}`,
        );
      }
    }
    for (let i = 0; i < w.length; i++) {
      const v = this.v(i);
      tf.tidy(() => v.assign(tf.tensor(w[i]!, v.shape, 'float32')));
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.variables) v.dispose();
    this.freq.dispose();
    this.eps.dispose();
    for (const s of this.attnScale.values()) s.dispose();
    this.attnScale.clear();
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('UNet: used after dispose()');
  }
}

/** Runs a block in a tidy, then submits so that the buffers it freed can serve the next block. */
function blockScope(f: () => tf.Tensor4D): tf.Tensor4D {
  const out = tf.tidy(f);
  kernels().submitPending();
  return out;
}

function last<T>(a: T[]): T {
  const v = a[a.length - 1];
  if (v === undefined) throw new Error('UNet: internal error, empty list');
  return v;
}
