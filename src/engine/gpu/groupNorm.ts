/**
 * GroupNorm (optionally followed by SiLU) over NHWC as four WGSL kernels run through tfjs-webgpu,
 * with its gradient written out by hand.
 *
 * The tfjs-op version costs ~10 dispatches forward and ~20 backward per norm, and its gradient
 * reductions over the leading axes make tfjs transpose whole activations; it also keeps four
 * activation-sized tensors per norm for backward (x − mean, sigmoid, x·sigmoid, the norm's output).
 * Here: forward = statistics + apply (2 dispatches), backward = per-group/per-channel sums + dx
 * (2 dispatches, plus one small dispatch each for dγ and dβ); backward keeps only x and the [N, G]
 * statistics, recomputing the normalised value and the activation from them.
 */
import { tf } from '../tf';
import { runGpuKernel } from './program';

const STATS = 'SadpmGroupNormStats';
const APPLY = 'SadpmGroupNormApply';
const BACK_SUMS = 'SadpmGroupNormBackSums';
const BACK_DX = 'SadpmGroupNormBackDx';
const LANE_STATS = 'SadpmGroupNormLaneStats';
const LANE_BACK_SUMS = 'SadpmGroupNormLaneBackSums';
const D_GAMMA = 'SadpmGroupNormDGamma';
const D_BETA = 'SadpmGroupNormDBeta';
const LANE_D_GAMMA = 'SadpmGroupNormLaneDGamma';
const LANE_D_BETA = 'SadpmGroupNormLaneDBeta';

const THREADS = 256;

interface Geo {
  n: number;
  hw: number;
  c: number;
  groups: number;
  cg: number;
  eps: number;
  act: boolean;
}

/** WGSL shared by the reductions: one workgroup per (sample, group); thread t owns channel t % cg. */
function groupLoopHeader(g: Geo): string {
  const rowsPerPass = Math.floor(THREADS / g.cg);
  return `
        _ = uniforms.NAN;
        let tid = localIndex;
        let ng = workgroupId.x;
        let nb = ng / ${g.groups}u;
        let grp = ng % ${g.groups}u;
        let cc = tid % ${g.cg}u;
        let r0 = tid / ${g.cg}u;
        let live = r0 < ${rowsPerPass}u;
        let ch = grp * ${g.cg}u + cc;
        let base = nb * ${g.hw * g.c}u + ch;`;
}

/** Workgroup sum of one value per thread (tree unrolled at generation time). */
const reduceFn = `
      var<workgroup> red: array<f32, ${THREADS}>;
      fn reduceAll(v: f32, tid: u32) -> f32 {
        red[tid] = v;
        workgroupBarrier();
        ${Array.from({ length: Math.log2(THREADS) }, (_, i) => THREADS >> (i + 1))
          .map(
            (st) => `if (tid < ${st}u) { red[tid] = red[tid] + red[tid + ${st}u]; }
        workgroupBarrier();`,
          )
          .join('\n        ')}
        let r = red[0];
        workgroupBarrier();
        return r;
      }`;

/** u = xhat·gamma + beta; the activation's value and derivative at u. */
function actSnippet(act: boolean): string {
  return act
    ? `fn actDeriv(u: f32) -> f32 { let s = 1.0 / (1.0 + exp(-u)); return s * (1.0 + u * (1.0 - s)); }
       fn actValue(u: f32) -> f32 { return u / (1.0 + exp(-u)); }`
    : `fn actDeriv(u: f32) -> f32 { return 1.0; }
       fn actValue(u: f32) -> f32 { return u; }`;
}

abstract class GnProgram {
  abstract readonly variableNames: string[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [THREADS, 1, 1];
  size?: boolean;

  constructor(
    protected readonly g: Geo,
    name: string,
    outputSize: number,
    perGroup: boolean,
  ) {
    this.outputShape = [outputSize];
    this.shaderKey = `${name}_${g.n}_${g.hw}_${g.c}_${g.groups}_${g.eps}_${g.act}`;
    // Both kinds use tfjs' flat layout (main(index)); the per-group ones index by workgroup_id.
    this.dispatchLayout = { x: [0] };
    if (perGroup) {
      this.dispatch = [g.n * g.groups, 1, 1];
    } else {
      this.dispatch = [Math.ceil(outputSize / THREADS), 1, 1];
      this.size = true;
    }
  }
}

/** [N·G·2]: mean and 1/sqrt(var + eps) per (sample, group). */
class StatsProgram extends GnProgram {
  readonly variableNames = ['x'];
  constructor(g: Geo) {
    super(g, 'sadpmGnStats', g.n * g.groups * 2, true);
  }
  getUserCode(): string {
    const { hw, c, cg } = this.g;
    const rows = Math.floor(THREADS / cg);
    const count = hw * cg;
    return `
      ${reduceFn}
      fn main(index: i32) {
        ${groupLoopHeader(this.g)}
        // One pass over x, shifted by the group's first value so that var = E[d²] − E[d]² does not
        // cancel catastrophically when |mean| >> std. (A two-pass version, every thread reading the
        // reduced mean back, produced a wrong variance on llvmpipe.)
        let shift = x[nb * ${hw * c}u + grp * ${cg}u];
        var s = 0.0;
        var q = 0.0;
        if (live) {
          for (var p = r0; p < ${hw}u; p = p + ${rows}u) {
            let d = x[base + p * ${c}u] - shift;
            s = s + d;
            q = q + d * d;
          }
        }
        let md = reduceAll(s, tid) / ${count}.0;
        let variance = max(reduceAll(q, tid) / ${count}.0 - md * md, 0.0);
        let mean = shift + md;
        if (tid == 0u) {
          result[ng * 2u] = mean;
          result[ng * 2u + 1u] = inverseSqrt(variance + ${this.g.eps.toExponential()});
        }
      }`;
  }
}

/** y = act((x − mean)·rstd·gamma + beta), elementwise. */
class ApplyProgram extends GnProgram {
  readonly variableNames = ['x', 'stats', 'gamma', 'beta'];
  constructor(g: Geo) {
    super(g, 'sadpmGnApply', g.n * g.hw * g.c, false);
  }
  getUserCode(): string {
    const { hw, c, cg, groups } = this.g;
    return `
      ${actSnippet(this.g.act)}
      fn main(index: i32) {
        if (index < uniforms.size) {
          let e = u32(index);
          let ch = e % ${c}u;
          let sg = (e / ${hw * c}u) * ${groups}u + ch / ${cg}u;
          let xhat = (x[e] - stats[sg * 2u]) * stats[sg * 2u + 1u];
          result[e] = actValue(xhat * gamma[ch] + beta[ch]);
        }
      }`;
  }
}

/**
 * Per (sample, group): Σ gg and Σ gg·xhat with gg = dy·act'(u)·gamma; per (sample, channel):
 * Σ du·xhat and Σ du with du = dy·act'(u). Packed as [N·G·2 | N·C·2].
 */
class BackSumsProgram extends GnProgram {
  readonly variableNames = ['x', 'dy', 'stats', 'gamma', 'beta'];
  constructor(g: Geo) {
    super(g, 'sadpmGnBackSums', g.n * g.groups * 2 + g.n * g.c * 2, true);
  }
  getUserCode(): string {
    const { n, hw, c, cg, groups } = this.g;
    const rows = Math.floor(THREADS / cg);
    return `
      ${reduceFn}
      ${actSnippet(this.g.act)}
      var<workgroup> chanA: array<f32, ${THREADS}>;
      var<workgroup> chanB: array<f32, ${THREADS}>;
      fn main(index: i32) {
        ${groupLoopHeader(this.g)}
        let mean = stats[ng * 2u];
        let rstd = stats[ng * 2u + 1u];
        let ga = gamma[ch];
        let be = beta[ch];
        var sg = 0.0;
        var sgx = 0.0;
        var sdx = 0.0;
        var sd = 0.0;
        if (live) {
          for (var p = r0; p < ${hw}u; p = p + ${rows}u) {
            let i = base + p * ${c}u;
            let xhat = (x[i] - mean) * rstd;
            let du = dy[i] * actDeriv(xhat * ga + be);
            sd = sd + du;
            sdx = sdx + du * xhat;
          }
          sg = sd * ga;
          sgx = sdx * ga;
        }
        chanA[tid] = sdx;
        chanB[tid] = sd;
        let totG = reduceAll(sg, tid);
        let totGX = reduceAll(sgx, tid);
        if (tid == 0u) {
          result[ng * 2u] = totG;
          result[ng * 2u + 1u] = totGX;
        }
        if (tid < ${cg}u) {
          var a = 0.0;
          var b = 0.0;
          for (var r = 0u; r < ${rows}u; r = r + 1u) {
            a = a + chanA[r * ${cg}u + tid];
            b = b + chanB[r * ${cg}u + tid];
          }
          let o = ${n * groups * 2}u + (nb * ${c}u + grp * ${cg}u + tid) * 2u;
          result[o] = a;
          result[o + 1u] = b;
        }
      }`;
  }
}

/** dx = rstd·(gg − Σgg/M − xhat·Σgg·xhat/M), M = H·W·cg, elementwise. */
class BackDxProgram extends GnProgram {
  readonly variableNames = ['x', 'dy', 'stats', 'gamma', 'beta', 'sums'];
  constructor(g: Geo) {
    super(g, 'sadpmGnBackDx', g.n * g.hw * g.c, false);
  }
  getUserCode(): string {
    const { hw, c, cg, groups } = this.g;
    const count = hw * cg;
    return `
      ${actSnippet(this.g.act)}
      fn main(index: i32) {
        if (index < uniforms.size) {
          let e = u32(index);
          let ch = e % ${c}u;
          let sg = (e / ${hw * c}u) * ${groups}u + ch / ${cg}u;
          let rstd = stats[sg * 2u + 1u];
          let xhat = (x[e] - stats[sg * 2u]) * rstd;
          let ga = gamma[ch];
          let gg = dy[e] * actDeriv(xhat * ga + beta[ch]) * ga;
          let m1 = sums[sg * 2u] / ${count}.0;
          let m2 = sums[sg * 2u + 1u] / ${count}.0;
          result[e] = rstd * (gg - m1 - xhat * m2);
        }
      }`;
  }
}

/**
 * The two reductions for software adapters (llvmpipe), where a workgroup barrier switches
 * coroutines for every 8 invocations: one invocation per (sample, group) loops over the group's
 * values with no workgroup memory, in the same output layouts as StatsProgram and BackSumsProgram.
 */
/**
 * [C]: dγ (which 0) or dβ (which 1), the batch's sum of the per-(sample, channel) pairs that BackSums writes
 * after its per-group part. One dispatch each, where a slice, a batch sum and two slices of it cost four:
 * the small model's step is bound by host time per dispatch. One workgroup per channel splits the batch
 * between its threads: a thread per channel looping over the batch waits on n loads in a row (5.6 ms against
 * 3.3 ms for the two in a profiled cifar10 SA-2 step on the H200). With `lanes` (software adapters), one
 * invocation per channel.
 */
class ParamGradProgram extends GnProgram {
  readonly variableNames = ['sums'];
  constructor(
    g: Geo,
    private readonly which: 0 | 1,
    private readonly lanes: boolean,
  ) {
    super(g, `sadpmGnD${which ? 'Beta' : 'Gamma'}${lanes ? 'Lane' : ''}`, g.c, !lanes);
    if (!lanes) this.dispatch = [g.c, 1, 1];
  }
  getUserCode(): string {
    const { n, c, groups } = this.g;
    const at = (i: string, ch: string) => `sums[${n * groups * 2 + this.which}u + ${i} * ${2 * c}u + ${ch} * 2u]`;
    if (this.lanes) {
      return `
      fn main(index: i32) {
        if (index < uniforms.size) {
          var acc = 0.0;
          for (var i = 0u; i < ${n}u; i = i + 1u) { acc = acc + ${at('i', 'u32(index)')}; }
          result[index] = acc;
        }
      }`;
    }
    return `
      ${reduceFn}
      fn main(index: i32) {
        _ = uniforms.NAN;
        let tid = localIndex;
        let ch = workgroupId.x;
        var acc = 0.0;
        for (var i = tid; i < ${n}u; i = i + ${THREADS}u) { acc = acc + ${at('i', 'ch')}; }
        let total = reduceAll(acc, tid);
        if (tid == 0u) { result[ch] = total; }
      }`;
  }
}

const paramGrad = (which: 0 | 1, lanes: boolean) =>
  class extends ParamGradProgram {
    constructor(g: Geo) {
      super(g, which, lanes);
    }
  };

const LANE_WG = 32;

abstract class LaneProgram {
  abstract readonly variableNames: string[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [LANE_WG, 1, 1];

  constructor(
    protected readonly g: Geo,
    name: string,
    outputSize: number,
  ) {
    this.outputShape = [outputSize];
    this.shaderKey = `${name}_${g.n}_${g.hw}_${g.c}_${g.groups}_${g.eps}_${g.act}`;
    this.dispatch = [Math.ceil((g.n * g.groups) / LANE_WG), 1, 1];
  }

  /** Declares ng, nb, grp and base (the group's first value) for the invocation's (sample, group). */
  protected header(): string {
    const { n, hw, c, cg, groups } = this.g;
    return `
        let ng = u32(index);
        if (ng >= ${n * groups}u) { return; }
        _ = uniforms.NAN;
        let nb = ng / ${groups}u;
        let grp = ng % ${groups}u;
        let base = nb * ${hw * c}u + grp * ${cg}u;`;
  }
}

class LaneStatsProgram extends LaneProgram {
  readonly variableNames = ['x'];
  constructor(g: Geo) {
    super(g, 'sadpmGnLaneStats', g.n * g.groups * 2);
  }
  getUserCode(): string {
    const { hw, c, cg } = this.g;
    const adds = Array.from({ length: cg }, (_, k) => `{ let d = x[i + ${k}u] - shift; s = s + d; q = q + d * d; }`);
    return `
      fn main(index: i32) {
        ${this.header()}
        // Shifted by the group's first value, as StatsProgram.
        let shift = x[base];
        var s = 0.0;
        var q = 0.0;
        for (var p = 0u; p < ${hw}u; p = p + 1u) {
          let i = base + p * ${c}u;
          ${adds.join('\n          ')}
        }
        let md = s / ${hw * cg}.0;
        let variance = max(q / ${hw * cg}.0 - md * md, 0.0);
        result[ng * 2u] = shift + md;
        result[ng * 2u + 1u] = inverseSqrt(variance + ${this.g.eps.toExponential()});
      }`;
  }
}

class LaneBackSumsProgram extends LaneProgram {
  readonly variableNames = ['x', 'dy', 'stats', 'gamma', 'beta'];
  constructor(g: Geo) {
    super(g, 'sadpmGnLaneBackSums', g.n * g.groups * 2 + g.n * g.c * 2);
  }
  getUserCode(): string {
    const { n, hw, c, cg, groups } = this.g;
    const per = (f: (k: number) => string) => Array.from({ length: cg }, (_, k) => f(k)).join('\n        ');
    const accumulate = (k: number) =>
      `let du = dy[i + ${k}u] * actDeriv(xhat * ga${k} + be${k}); sd${k} = sd${k} + du; sdx${k} = sdx${k} + du * xhat;`;
    return `
      ${actSnippet(this.g.act)}
      fn main(index: i32) {
        ${this.header()}
        let mean = stats[ng * 2u];
        let rstd = stats[ng * 2u + 1u];
        let ch0 = grp * ${cg}u;
        ${per((k) => `let ga${k} = gamma[ch0 + ${k}u]; let be${k} = beta[ch0 + ${k}u];`)}
        ${per((k) => `var sd${k} = 0.0; var sdx${k} = 0.0;`)}
        for (var p = 0u; p < ${hw}u; p = p + 1u) {
          let i = base + p * ${c}u;
          ${per((k) => `{ let xhat = (x[i + ${k}u] - mean) * rstd; ${accumulate(k)} }`)}
        }
        result[ng * 2u] = ${Array.from({ length: cg }, (_, k) => `sd${k} * ga${k}`).join(' + ')};
        result[ng * 2u + 1u] = ${Array.from({ length: cg }, (_, k) => `sdx${k} * ga${k}`).join(' + ')};
        let o = ${n * groups * 2}u + (nb * ${c}u + ch0) * 2u;
        ${per((k) => `result[o + ${2 * k}u] = sdx${k}; result[o + ${2 * k + 1}u] = sd${k};`)}
      }`;
  }
}

type AnyProgram = new (g: Geo) => { readonly variableNames: string[] };
const PROGRAMS: Record<string, AnyProgram> = {
  [STATS]: StatsProgram,
  [APPLY]: ApplyProgram,
  [BACK_SUMS]: BackSumsProgram,
  [BACK_DX]: BackDxProgram,
  [LANE_STATS]: LaneStatsProgram,
  [LANE_BACK_SUMS]: LaneBackSumsProgram,
  [D_GAMMA]: paramGrad(0, false),
  [D_BETA]: paramGrad(1, false),
  [LANE_D_GAMMA]: paramGrad(0, true),
  [LANE_D_BETA]: paramGrad(1, true),
};

function run(name: string, inputs: Record<string, tf.Tensor>, g: Geo): tf.Tensor1D {
  const Program = PROGRAMS[name]!;
  return runGpuKernel(name, inputs, g, (_inputs, geo) => new Program(geo)) as tf.Tensor1D;
}

/**
 * act(GroupNorm(x)) for NHWC x on the webgpu backend, act = SiLU or identity; same definition as
 * nets/tfjsKernels.ts groupNorm (biased variance, eps inside the square root). `reductions` 'lane'
 * takes the per-invocation reductions made for software adapters.
 */
export function groupNormActGpu(
  x: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  groups: number,
  eps: number,
  act: boolean,
  reductions: 'workgroup' | 'lane' = 'workgroup',
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (c % groups !== 0) throw new Error(`groupNorm: ${c} channels are not divisible by ${groups} groups`);
  const cg = c / groups;
  if (cg > THREADS) throw new Error(`groupNorm: ${cg} channels per group exceed ${THREADS}`);
  if (n * groups > 65535)
    throw new Error(`groupNorm: ${n}x${groups} (sample, group) pairs exceed one dispatch dimension`);
  const g: Geo = { n, hw: h * w, c, groups, cg, eps, act };
  const op = tf.customGrad((xi, gi, bi, save) => {
    const xt = xi as tf.Tensor4D;
    const stats = run(reductions === 'lane' ? LANE_STATS : STATS, { x: xt }, g);
    (save as tf.GradSaveFunc)([xt, stats, gi as tf.Tensor, bi as tf.Tensor]);
    return {
      value: tf.reshape(run(APPLY, { x: xt, stats, gamma: gi as tf.Tensor, beta: bi as tf.Tensor }, g), [n, h, w, c]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, st, gs, bs] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const sumsKernel = reductions === 'lane' ? LANE_BACK_SUMS : BACK_SUMS;
        const sums = run(sumsKernel, { x: xs, dy, stats: st, gamma: gs, beta: bs }, g);
        const dx = tf.reshape(run(BACK_DX, { x: xs, dy, stats: st, gamma: gs, beta: bs, sums }, g), [n, h, w, c]);
        const lanes = reductions === 'lane';
        return [dx, run(lanes ? LANE_D_GAMMA : D_GAMMA, { sums }, g), run(lanes ? LANE_D_BETA : D_BETA, { sums }, g)];
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}
