/**
 * The UNet's structure as plain data, without tfjs: every parameter (name, shape, init) in a stable
 * order, and the modules of the forward pass as indices into that list. Both the analytic parameter
 * count and the tfjs model are built from this plan, so they cannot disagree.
 *
 * The architecture is the DDIM codebase's `models/diffusion.py` `Model` (used by SA-DPM). Parameters
 * are listed in the order of that model's PyTorch `state_dict()` and named after its module paths
 * ('down.0.block.0.conv1.w' = `down[0].block[0].conv1.weight`), so a converter can zip the two.
 *
 * Layouts (NHWC, tfjs conventions):
 *   conv weight   [kh, kw, in, out]   (PyTorch [out, in, kh, kw])
 *   linear weight [in, out]           (PyTorch [out, in])
 *   GroupNorm     gamma [C], beta [C] (PyTorch weight, bias)
 */
import { ModelConfigSchema, type ModelConfig } from '../../shared/config';

export type ParamInit =
  /** U(-bound, bound): PyTorch's default for Conv2d/Linear weights and biases, bound = 1/sqrt(fan_in). */
  { kind: 'uniform'; bound: number } | { kind: 'ones' } | { kind: 'zeros' };

export interface ParamSpec {
  name: string;
  shape: number[];
  size: number;
  init: ParamInit;
}

/** Indices into the parameter list. */
export interface ConvRef {
  w: number;
  b: number;
  k: number;
  cin: number;
  cout: number;
}
export interface LinearRef {
  w: number;
  b: number;
  cin: number;
  cout: number;
}
export interface NormRef {
  gamma: number;
  beta: number;
  channels: number;
  groups: number;
}
export interface ResBlockRef {
  cin: number;
  cout: number;
  norm1: NormRef;
  conv1: ConvRef;
  tembProj: LinearRef;
  norm2: NormRef;
  conv2: ConvRef;
  /** 1x1 conv shortcut, present when cin != cout. */
  ninShortcut?: ConvRef;
  /** Index of this block's dropout layer in forward order (seeds the dropout mask). */
  dropoutIndex: number;
}
export interface AttnRef {
  channels: number;
  norm: NormRef;
  q: ConvRef;
  k: ConvRef;
  v: ConvRef;
  projOut: ConvRef;
}
export interface LevelStep {
  block: ResBlockRef;
  attn?: AttnRef;
}
export interface DownLevel {
  steps: LevelStep[];
  /** 3x3 stride-2 conv (pad 0 top/left, 1 bottom/right); absent on the last level. */
  downsample?: ConvRef;
}
export interface UpLevel {
  steps: LevelStep[];
  /** nearest x2 then 3x3 conv; absent on level 0. */
  upsample?: ConvRef;
}

export interface UNetPlan {
  cfg: ModelConfig;
  params: ParamSpec[];
  totalParams: number;
  tembCh: number;
  temb: [LinearRef, LinearRef];
  convIn: ConvRef;
  /** Indexed by level; executed 0..L-1. */
  down: DownLevel[];
  mid: { block1: ResBlockRef; attn: AttnRef; block2: ResBlockRef };
  /** Indexed by level (like PyTorch's `up` ModuleList); executed L-1..0. */
  up: UpLevel[];
  normOut: NormRef;
  convOut: ConvRef;
  /** Number of dropout layers (one per residual block). */
  numDropout: number;
}

/** Checks the config fields the architecture depends on; throws an Error naming the problem. */
export function validateModelConfig(cfg: ModelConfig): void {
  // The same rules the run config schema applies (the field ranges, then the shape rules), so a model the
  // app or the CLI accepts always builds.
  const parsed = ModelConfigSchema.safeParse(cfg);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new Error(`UNet: ${i.path.join('.') || 'config'}: ${i.message}`);
  }
}

export function buildUNetPlan(cfg: ModelConfig): UNetPlan {
  validateModelConfig(cfg);
  const params: ParamSpec[] = [];
  const add = (name: string, shape: number[], init: ParamInit): number => {
    params.push({ name, shape, size: shape.reduce((a, b) => a * b, 1), init });
    return params.length - 1;
  };
  const conv = (name: string, cin: number, cout: number, k: number): ConvRef => {
    const bound = 1 / Math.sqrt(cin * k * k);
    const w = add(`${name}.w`, [k, k, cin, cout], { kind: 'uniform', bound });
    const b = add(`${name}.b`, [cout], { kind: 'uniform', bound });
    return { w, b, k, cin, cout };
  };
  const linear = (name: string, cin: number, cout: number): LinearRef => {
    const bound = 1 / Math.sqrt(cin);
    const w = add(`${name}.w`, [cin, cout], { kind: 'uniform', bound });
    const b = add(`${name}.b`, [cout], { kind: 'uniform', bound });
    return { w, b, cin, cout };
  };
  const norm = (name: string, channels: number): NormRef => {
    const gamma = add(`${name}.gamma`, [channels], { kind: 'ones' });
    const beta = add(`${name}.beta`, [channels], { kind: 'zeros' });
    return { gamma, beta, channels, groups: cfg.normGroups };
  };
  const tembCh = cfg.ch * 4;
  // dropoutIndex is assigned afterwards in forward order.
  const resBlock = (name: string, cin: number, cout: number): ResBlockRef => {
    const norm1 = norm(`${name}.norm1`, cin);
    const conv1 = conv(`${name}.conv1`, cin, cout, 3);
    const tembProj = linear(`${name}.temb_proj`, tembCh, cout);
    const norm2 = norm(`${name}.norm2`, cout);
    const conv2 = conv(`${name}.conv2`, cout, cout, 3);
    const block: ResBlockRef = { cin, cout, norm1, conv1, tembProj, norm2, conv2, dropoutIndex: -1 };
    if (cin !== cout) block.ninShortcut = conv(`${name}.nin_shortcut`, cin, cout, 1);
    return block;
  };
  const attnBlock = (name: string, c: number): AttnRef => ({
    channels: c,
    norm: norm(`${name}.norm`, c),
    q: conv(`${name}.q`, c, c, 1),
    k: conv(`${name}.k`, c, c, 1),
    v: conv(`${name}.v`, c, c, 1),
    projOut: conv(`${name}.proj_out`, c, c, 1),
  });

  const { ch, chMult, numResBlocks } = cfg;
  const L = chMult.length;
  const inChMult = [1, ...chMult];
  const mult = (arr: number[], i: number): number => {
    const v = arr[i];
    if (v === undefined) throw new Error(`UNet: internal error, level ${i} out of range`);
    return v;
  };
  const attnRes = new Set(cfg.attnResolutions);

  // state_dict order: temb, conv_in, down, mid, up, norm_out, conv_out.
  const temb: [LinearRef, LinearRef] = [linear('temb.dense.0', ch, tembCh), linear('temb.dense.1', tembCh, tembCh)];
  const convIn = conv('conv_in', cfg.channels, ch, 3);

  // Down path; track the skip list's channel counts exactly as the forward's `hs` list grows.
  const hsCh: number[] = [ch];
  let res = cfg.imageSize;
  let blockIn = ch;
  const down: DownLevel[] = [];
  for (let i = 0; i < L; i++) {
    blockIn = ch * mult(inChMult, i);
    const blockOut = ch * mult(chMult, i);
    const blocks: ResBlockRef[] = [];
    for (let j = 0; j < numResBlocks; j++) {
      blocks.push(resBlock(`down.${i}.block.${j}`, blockIn, blockOut));
      blockIn = blockOut;
    }
    const attns: (AttnRef | undefined)[] = [];
    for (let j = 0; j < numResBlocks; j++) {
      attns.push(attnRes.has(res) ? attnBlock(`down.${i}.attn.${j}`, blockIn) : undefined);
    }
    const steps = blocks.map((block, j) => {
      hsCh.push(block.cout);
      const attn = attns[j];
      return attn ? { block, attn } : { block };
    });
    const level: DownLevel = { steps };
    if (i !== L - 1) {
      level.downsample = conv(`down.${i}.downsample.conv`, blockIn, blockIn, 3);
      hsCh.push(blockIn);
      res = res / 2;
    }
    down.push(level);
  }

  const mid = {
    block1: resBlock('mid.block_1', blockIn, blockIn),
    attn: attnBlock('mid.attn_1', blockIn),
    block2: resBlock('mid.block_2', blockIn, blockIn),
  };

  // Up path: channel counts are computed in execution order (L-1..0), parameters are then registered
  // in state_dict order (up.0 first).
  interface UpShape {
    res: number;
    blocks: { cin: number; cout: number }[];
    upsample: number | null;
  }
  const upShapes: UpShape[] = new Array<UpShape>(L);
  const hs = hsCh.slice();
  for (let i = L - 1; i >= 0; i--) {
    const blockOut = ch * mult(chMult, i);
    const blocks: { cin: number; cout: number }[] = [];
    for (let j = 0; j < numResBlocks + 1; j++) {
      const skip = hs.pop();
      if (skip === undefined) throw new Error('UNet: internal error, skip list exhausted');
      blocks.push({ cin: blockIn + skip, cout: blockOut });
      blockIn = blockOut;
    }
    upShapes[i] = { res, blocks, upsample: i !== 0 ? blockIn : null };
    if (i !== 0) res = res * 2;
  }
  if (hs.length !== 0) throw new Error('UNet: internal error, skip list not consumed');
  const up: UpLevel[] = [];
  for (let i = 0; i < L; i++) {
    const shape = upShapes[i];
    if (!shape) throw new Error('UNet: internal error, missing up level');
    const blocks = shape.blocks.map((b, j) => resBlock(`up.${i}.block.${j}`, b.cin, b.cout));
    const attns = shape.blocks.map((b, j) =>
      attnRes.has(shape.res) ? attnBlock(`up.${i}.attn.${j}`, b.cout) : undefined,
    );
    const steps = blocks.map((block, j) => {
      const attn = attns[j];
      return attn ? { block, attn } : { block };
    });
    const level: UpLevel = { steps };
    if (shape.upsample !== null) level.upsample = conv(`up.${i}.upsample.conv`, shape.upsample, shape.upsample, 3);
    up.push(level);
  }

  const normOut = norm('norm_out', ch);
  const convOut = conv('conv_out', ch, cfg.channels, 3);

  // Dropout layer indices in forward order.
  let numDropout = 0;
  for (const level of down) for (const s of level.steps) s.block.dropoutIndex = numDropout++;
  mid.block1.dropoutIndex = numDropout++;
  mid.block2.dropoutIndex = numDropout++;
  for (let i = L - 1; i >= 0; i--) for (const s of up[i]?.steps ?? []) s.block.dropoutIndex = numDropout++;

  const totalParams = params.reduce((a, p) => a + p.size, 0);
  return { cfg, params, totalParams, tembCh, temb, convIn, down, mid, up, normOut, convOut, numDropout };
}

/** Number of trainable parameters of the UNet for a config, computed without tfjs. */
export function countUNetParams(cfg: ModelConfig): number {
  return buildUNetPlan(cfg).totalParams;
}
