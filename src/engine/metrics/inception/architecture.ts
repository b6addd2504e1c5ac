/**
 * The FID Inception-v3 of pytorch-fid (`fid_inception_v3`: torchvision's Inception3 with the
 * TensorFlow FID graph's blocks — FIDInceptionA/C/E_1 average-pool without counting padding,
 * FIDInceptionE_2 max-pools — 1008 classes, no auxiliary head), as data: every BasicConv2d
 * (conv without bias → BatchNorm(eps 0.001) → ReLU) with its state_dict name, channels, kernel,
 * stride and padding, and the order in which the blocks use them.
 *
 * `widthDivisor` divides every convolution's output channels (and the fc input) so that tests can run
 * a small network with the same structure and parameter names (the fixture script builds the same).
 */

export interface InceptionConfig {
  /** 1 = the real network; k > 1 divides every channel count by k (all of them are multiples of 16). */
  widthDivisor: number;
  /** Classifier outputs: 1008 for the FID weights. */
  classes: number;
}

export const FID_INCEPTION: InceptionConfig = { widthDivisor: 1, classes: 1008 };

export interface ConvSpec {
  /** state_dict prefix, e.g. 'Mixed_5b.branch5x5_2' (keys: <name>.conv.weight, <name>.bn.{weight,bias,running_mean,running_var}) */
  name: string;
  cin: number;
  cout: number;
  kh: number;
  kw: number;
  stride: number;
  /** 'same' = padding (k−1)/2 at stride 1; 'valid' = none. These are the only two the network uses. */
  pad: 'same' | 'valid';
}

export type BlockKind = 'A' | 'B' | 'C' | 'D' | 'E1' | 'E2';

export interface BlockSpec {
  name: string;
  kind: BlockKind;
  cin: number;
  cout: number;
}

export interface InceptionPlan {
  config: InceptionConfig;
  stem: ConvSpec[];
  blocks: BlockSpec[];
  /** Every convolution by name. */
  convs: Map<string, ConvSpec>;
  /** Width of pool3 (2048 / widthDivisor). */
  features: number;
}

export function inceptionPlan(config: InceptionConfig = FID_INCEPTION): InceptionPlan {
  const div = config.widthDivisor;
  if (!Number.isInteger(div) || div < 1 || 16 % div !== 0) {
    throw new Error(`Inception width divisor must be 1, 2, 4, 8 or 16, got ${div}`);
  }
  if (!Number.isInteger(config.classes) || config.classes < 1)
    throw new Error(`Inception classes must be ≥ 1, got ${config.classes}`);
  const c = (n: number) => n / div;
  const convs = new Map<string, ConvSpec>();
  const conv = (
    name: string,
    cin: number,
    cout: number,
    k: number | [number, number],
    stride = 1,
    pad: 'same' | 'valid' = 'same',
  ) => {
    const [kh, kw] = typeof k === 'number' ? [k, k] : k;
    const spec: ConvSpec = { name, cin, cout, kh, kw, stride, pad };
    convs.set(name, spec);
    return spec;
  };
  const stem = [
    conv('Conv2d_1a_3x3', 3, c(32), 3, 2, 'valid'),
    conv('Conv2d_2a_3x3', c(32), c(32), 3, 1, 'valid'),
    conv('Conv2d_2b_3x3', c(32), c(64), 3, 1, 'same'),
    // max pool 3×3 / 2
    conv('Conv2d_3b_1x1', c(64), c(80), 1),
    conv('Conv2d_4a_3x3', c(80), c(192), 3, 1, 'valid'),
    // max pool 3×3 / 2
  ];
  const blocks: BlockSpec[] = [];
  const blockA = (name: string, cin: number, pool: number) => {
    conv(`${name}.branch1x1`, cin, c(64), 1);
    conv(`${name}.branch5x5_1`, cin, c(48), 1);
    conv(`${name}.branch5x5_2`, c(48), c(64), 5);
    conv(`${name}.branch3x3dbl_1`, cin, c(64), 1);
    conv(`${name}.branch3x3dbl_2`, c(64), c(96), 3);
    conv(`${name}.branch3x3dbl_3`, c(96), c(96), 3);
    conv(`${name}.branch_pool`, cin, c(pool), 1);
    blocks.push({ name, kind: 'A', cin, cout: c(64 + 64 + 96 + pool) });
  };
  const blockC = (name: string, c7: number) => {
    const cin = c(768);
    conv(`${name}.branch1x1`, cin, c(192), 1);
    conv(`${name}.branch7x7_1`, cin, c(c7), 1);
    conv(`${name}.branch7x7_2`, c(c7), c(c7), [1, 7]);
    conv(`${name}.branch7x7_3`, c(c7), c(192), [7, 1]);
    conv(`${name}.branch7x7dbl_1`, cin, c(c7), 1);
    conv(`${name}.branch7x7dbl_2`, c(c7), c(c7), [7, 1]);
    conv(`${name}.branch7x7dbl_3`, c(c7), c(c7), [1, 7]);
    conv(`${name}.branch7x7dbl_4`, c(c7), c(c7), [7, 1]);
    conv(`${name}.branch7x7dbl_5`, c(c7), c(192), [1, 7]);
    conv(`${name}.branch_pool`, cin, c(192), 1);
    blocks.push({ name, kind: 'C', cin, cout: c(768) });
  };
  const blockE = (name: string, cin: number, kind: 'E1' | 'E2') => {
    conv(`${name}.branch1x1`, cin, c(320), 1);
    conv(`${name}.branch3x3_1`, cin, c(384), 1);
    conv(`${name}.branch3x3_2a`, c(384), c(384), [1, 3]);
    conv(`${name}.branch3x3_2b`, c(384), c(384), [3, 1]);
    conv(`${name}.branch3x3dbl_1`, cin, c(448), 1);
    conv(`${name}.branch3x3dbl_2`, c(448), c(384), 3);
    conv(`${name}.branch3x3dbl_3a`, c(384), c(384), [1, 3]);
    conv(`${name}.branch3x3dbl_3b`, c(384), c(384), [3, 1]);
    conv(`${name}.branch_pool`, cin, c(192), 1);
    blocks.push({ name, kind, cin, cout: c(2048) });
  };
  blockA('Mixed_5b', c(192), 32);
  blockA('Mixed_5c', c(256), 64);
  blockA('Mixed_5d', c(288), 64);
  // B: 3×3/2 conv, 1×1 → 3×3 → 3×3/2, max pool 3×3/2
  conv('Mixed_6a.branch3x3', c(288), c(384), 3, 2, 'valid');
  conv('Mixed_6a.branch3x3dbl_1', c(288), c(64), 1);
  conv('Mixed_6a.branch3x3dbl_2', c(64), c(96), 3);
  conv('Mixed_6a.branch3x3dbl_3', c(96), c(96), 3, 2, 'valid');
  blocks.push({ name: 'Mixed_6a', kind: 'B', cin: c(288), cout: c(768) });
  blockC('Mixed_6b', 128);
  blockC('Mixed_6c', 160);
  blockC('Mixed_6d', 160);
  blockC('Mixed_6e', 192);
  // D: 1×1 → 3×3/2, 1×1 → 1×7 → 7×1 → 3×3/2, max pool 3×3/2
  conv('Mixed_7a.branch3x3_1', c(768), c(192), 1);
  conv('Mixed_7a.branch3x3_2', c(192), c(320), 3, 2, 'valid');
  conv('Mixed_7a.branch7x7x3_1', c(768), c(192), 1);
  conv('Mixed_7a.branch7x7x3_2', c(192), c(192), [1, 7]);
  conv('Mixed_7a.branch7x7x3_3', c(192), c(192), [7, 1]);
  conv('Mixed_7a.branch7x7x3_4', c(192), c(192), 3, 2, 'valid');
  blocks.push({ name: 'Mixed_7a', kind: 'D', cin: c(768), cout: c(1280) });
  blockE('Mixed_7b', c(1280), 'E1');
  blockE('Mixed_7c', c(2048), 'E2');
  return { config, stem, blocks, convs, features: c(2048) };
}

/** Every state_dict key of the network with its shape (torch layout), in module order. */
export function expectedStateDict(plan: InceptionPlan): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const s of plan.convs.values()) {
    out.set(`${s.name}.conv.weight`, [s.cout, s.cin, s.kh, s.kw]);
    for (const p of ['weight', 'bias', 'running_mean', 'running_var']) out.set(`${s.name}.bn.${p}`, [s.cout]);
  }
  out.set('fc.weight', [plan.config.classes, plan.features]);
  out.set('fc.bias', [plan.config.classes]);
  return out;
}
