/**
 * RunConfig: everything that defines a training run, as plain data. Validated with zod, stored
 * with each run and in every checkpoint, round-trips through JSON.
 */
import { z } from 'zod';

export const BACKENDS = ['auto', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
export const TAU_VARIANTS = ['official', 'paper', 'normalized'] as const;
export const SCHEDULES = ['linear', 'cosine'] as const;
export const SAMPLERS = ['ddim', 'ddpm'] as const;
export const SPACINGS = ['uniform', 'quad', 'trailing'] as const;
export const MODEL_PRESET_NAMES = ['tiny', 'small', 'cifar10', 'celeba64'] as const;

export type Backend = (typeof BACKENDS)[number];
export type TauVariant = (typeof TAU_VARIANTS)[number];
export type SamplerKind = (typeof SAMPLERS)[number];
export type Spacing = (typeof SPACINGS)[number];
export type ModelPresetName = (typeof MODEL_PRESET_NAMES)[number];

/**
 * Every sampler the engine offers. SAMPLERS (a run's default, the UI's list) keeps the two that need
 * nothing but the network; the other six also need a reverse-variance estimate: Analytic-DPM's Γ
 * (estimated from the training images) or a trained NPR / SN covariance head.
 */
export const SAMPLER_NAMES = [
  'ddim',
  'ddpm',
  'analytic-ddpm',
  'analytic-ddim',
  'npr-ddpm',
  'npr-ddim',
  'sn-ddpm',
  'sn-ddim',
] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];
/** Where a sampler's reverse variance comes from. */
export type SamplerVarianceKind = 'none' | 'gamma' | 'npr' | 'sn';

/** The mean's family (DDPM ancestral or generalized DDIM) and the variance source of a sampler. */
export function samplerParts(name: SamplerName): { family: 'ddpm' | 'ddim'; variance: SamplerVarianceKind } {
  const family = name.endsWith('ddpm') ? 'ddpm' : 'ddim';
  if (name === 'ddpm' || name === 'ddim') return { family, variance: 'none' };
  const prefix = name.slice(0, name.lastIndexOf('-'));
  return { family, variance: prefix === 'analytic' ? 'gamma' : (prefix as 'npr' | 'sn') };
}

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();

const ModelFields = {
  ch: posInt.describe('base channel width'),
  chMult: z.array(posInt).min(1).describe('channel multiplier per resolution level'),
  numResBlocks: posInt.describe('residual blocks per level'),
  attnResolutions: z.array(posInt).describe('feature-map sizes that get self-attention'),
  dropout: z.number().min(0).lt(1).describe('dropout rate inside residual blocks, in [0, 1)'),
  imageSize: posInt.describe('image height and width in pixels'),
  channels: posInt.describe('image channels (1 grayscale, 3 RGB)'),
  normGroups: posInt.describe('GroupNorm groups (32 in the official code)'),
};

/**
 * The UNet's shape rules beyond each field's own range, in one place: the config schemas and the engine's
 * UNet builder (validateModelConfig) both use them, so the app, the CLI and the engine refuse the same shapes.
 */
export function modelConfigIssues(c: z.infer<z.ZodObject<typeof ModelFields>>): { field: string; message: string }[] {
  const issues: { field: string; message: string }[] = [];
  if (c.ch < 4 || c.ch % 2 !== 0)
    issues.push({ field: 'ch', message: `ch must be even and >= 4 (the timestep embedding halves it), got ${c.ch}` });
  const down = 2 ** (c.chMult.length - 1);
  if (c.imageSize % down !== 0) {
    issues.push({
      field: 'imageSize',
      message: `imageSize ${c.imageSize} must be divisible by 2^(levels-1) = ${down} for ${c.chMult.length} levels`,
    });
  }
  for (const [i, m] of [1, ...c.chMult].entries()) {
    if ((c.ch * m) % c.normGroups !== 0) {
      const what = i === 0 ? `ch ${c.ch}` : `ch ${c.ch} x mult ${m}`;
      issues.push({
        field: 'normGroups',
        message: `channel count ${c.ch * m} (${what}) is not divisible by normGroups ${c.normGroups}`,
      });
    }
  }
  return issues;
}

function refineModel(c: z.infer<z.ZodObject<typeof ModelFields>>, ctx: z.RefinementCtx): void {
  for (const i of modelConfigIssues(c)) ctx.addIssue({ code: 'custom', path: [i.field], message: i.message });
}

export const ModelConfigSchema = z.object(ModelFields).superRefine(refineModel);
export type ModelConfig = z.infer<typeof ModelConfigSchema>;

export const RunConfigSchema = z
  .object({
    name: z.string().max(200).default(''),
    seed: nonNegInt.default(0),
    dataset: z.string().min(1).default('builtin:shapes').describe('builtin:<name> or a packed dataset path'),
    backend: z.enum(BACKENDS).default('auto'),
    preset: z.enum(MODEL_PRESET_NAMES).default('tiny'),
    ...ModelFields,
    T: posInt.min(2).default(1000).describe('diffusion steps'),
    schedule: z.enum(SCHEDULES).default('linear'),
    betaStart: z.number().positive().lt(1).default(1e-4),
    betaEnd: z.number().positive().lt(1).default(0.02),
    k: posInt.default(2).describe('consecutive steps in the SA loss (1 = plain DDPM)'),
    lambda: z.number().min(0).default(1).describe('weight of the SA loss (0 = plain DDPM)'),
    tau: z.enum(TAU_VARIANTS).default('official').describe('SA loss variant'),
    steps: posInt.default(2000).describe('training steps (total)'),
    batch: posInt.default(16),
    lr: z.number().positive().default(2e-4),
    warmup: nonNegInt.default(0).describe('linear learning-rate warm-up steps'),
    adamBeta1: z.number().min(0).lt(1).default(0.9),
    adamBeta2: z.number().min(0).lt(1).default(0.999),
    adamEps: z.number().positive().default(1e-8),
    emaDecay: z.number().min(0).max(1).default(0.9999),
    gradClip: z.number().min(0).default(1).describe('global-norm clip (0 = off)'),
    // Default false: configs stored before the field existed trained without flips.
    randomFlip: z.boolean().default(false).describe('mirror each training image left-right with probability 1/2'),
    logEvery: posInt.default(10),
    checkpointEvery: posInt.default(500),
    sampleEvery: nonNegInt.default(0).describe('write a sample grid every N steps (0 = only at the end)'),
    sampleN: posInt.default(16),
    sampler: z.enum(SAMPLERS).default('ddim'),
    sampleSteps: posInt.default(50),
    spacing: z.enum(SPACINGS).default('uniform'),
    eta: z.number().min(0).default(0),
    gapEvery: nonNegInt.default(0).describe('gap monitor every N steps (0 = only at the end)'),
    gapT0: posInt.default(300),
    gapBatch: posInt.default(16),
    // Issue 17: the CPU demo continues a built-in starter; also fine-tuning from any run's checkpoint.
    initFrom: z
      .string()
      .min(1)
      .optional()
      .describe("start from a checkpoint's weights, EMA and Adam state (.sadpm-ck path or builtin:starter-shapes)"),
  })
  .superRefine((c, ctx) => {
    if (c.betaStart > c.betaEnd) {
      ctx.addIssue({
        code: 'custom',
        path: ['betaStart'],
        message: `betaStart (${c.betaStart}) must be <= betaEnd (${c.betaEnd})`,
      });
    }
    if (c.k > c.T) {
      const message = `k (${c.k}) must be <= T (${c.T}): the SA loss spans k consecutive steps`;
      ctx.addIssue({ code: 'custom', path: ['k'], message });
    }
    if (c.gapT0 > c.T) {
      ctx.addIssue({ code: 'custom', path: ['gapT0'], message: `gapT0 (${c.gapT0}) must be <= T (${c.T})` });
    }
    if (c.sampleSteps > c.T) {
      ctx.addIssue({
        code: 'custom',
        path: ['sampleSteps'],
        message: `sampleSteps (${c.sampleSteps}) must be <= T (${c.T})`,
      });
    }
    refineModel(c, ctx);
  });

export type RunConfig = z.infer<typeof RunConfigSchema>;
export type RunConfigInput = z.input<typeof RunConfigSchema>;

/** Model presets. cifar10 and celeba64 are the official DDIM/SA-DPM architectures. */
export const MODEL_PRESETS: Record<ModelPresetName, ModelConfig> = {
  tiny: {
    ch: 16,
    chMult: [1, 2],
    numResBlocks: 1,
    attnResolutions: [8],
    dropout: 0,
    imageSize: 16,
    channels: 3,
    normGroups: 8,
  },
  small: {
    ch: 64,
    chMult: [1, 2, 2],
    numResBlocks: 1,
    attnResolutions: [16],
    dropout: 0.1,
    imageSize: 32,
    channels: 3,
    normGroups: 32,
  },
  cifar10: {
    ch: 128,
    chMult: [1, 2, 2, 2],
    numResBlocks: 2,
    attnResolutions: [16],
    dropout: 0.1,
    imageSize: 32,
    channels: 3,
    normGroups: 32,
  },
  celeba64: {
    ch: 128,
    chMult: [1, 2, 2, 2, 4],
    numResBlocks: 2,
    attnResolutions: [16],
    dropout: 0.1,
    imageSize: 64,
    channels: 3,
    normGroups: 32,
  },
};

/** Training presets beyond the model: the official recipes and a quick CPU run. */
export const RUN_PRESETS: Record<string, RunConfigInput> = {
  // sampler ddpm (issue 17): it clips the predicted x0 to [-1, 1]; plain DDIM (as the SA-DPM code) does not, and a
  // model this young then gives saturated colour noise where DDPM gives its coloured blobs on dark backgrounds.
  'quick-cpu': {
    preset: 'tiny',
    ...MODEL_PRESETS.tiny,
    dataset: 'builtin:shapes',
    k: 2,
    lambda: 1,
    steps: 200,
    batch: 8,
    lr: 2e-3,
    emaDecay: 0.99,
    checkpointEvery: 100,
    logEvery: 5,
    gapBatch: 8,
    sampleN: 16,
    sampler: 'ddpm',
    T: 1000,
  },
  // The first run on a machine without a GPU (issue 17): from scratch the tiny model draws blobs after the minutes
  // a CPU has (measured: 0-10 of 64 samples pass the shape check after 4,000 steps), so the demo continues the
  // built-in starter, a model of this architecture that the tool trained with SA-2 on a GPU (9,608 steps of 64;
  // assets/starters/README.md), with the same loss at a batch the CPU affords and the starter's EMA decay.
  // Backend wasm: tfjs' WebAssembly kernels (XNNPACK) train this model ~1.7x faster than WebGPU on llvmpipe and
  // sample faster still, and give every machine the same few minutes (a GPU user can set auto).
  demo: {
    preset: 'tiny',
    ...MODEL_PRESETS.tiny,
    backend: 'wasm',
    ch: 32,
    dataset: 'builtin:shapes',
    schedule: 'cosine',
    initFrom: 'builtin:starter-shapes',
    k: 2,
    lambda: 1,
    steps: 200,
    batch: 8,
    lr: 5e-4,
    emaDecay: 0.999,
    checkpointEvery: 100,
    logEvery: 5,
    gapBatch: 8,
    sampleN: 16,
    sampler: 'ddpm',
    sampleSteps: 100,
    T: 1000,
  },
  // Steps: the official train_ddp.py (VinAIResearch/SA-DPM) loops over training.n_epochs = 1200 epochs; the
  // configs' n_iters (500000) is never read. 4 GPUs x 32, DistributedSampler, drop_last: CIFAR-10's 50,000
  // images are 12,500 per GPU = 390 steps per epoch, so 1200 x 390 = 468,000 steps (800,000 was the DDPM
  // paper's CIFAR-10 schedule). randomFlip: SA-DPM's configs/cifar10.yml has data.random_flip false (DDIM's
  // has true; the SA-DPM config is the recipe reproduced here).
  'official-cifar10': {
    preset: 'cifar10',
    ...MODEL_PRESETS.cifar10,
    k: 2,
    lambda: 1,
    steps: 468000,
    batch: 128,
    lr: 2e-4,
    emaDecay: 0.9999,
    gradClip: 1,
    randomFlip: false,
    checkpointEvery: 5000,
  },
  // Steps: 1200 epochs as above; CelebA's train split of 162,770 images is ceil(162770 / 4) = 40,693 per GPU
  // = 1,271 steps of 32 per epoch, so 1200 x 1271 = 1,525,200 steps. randomFlip: SA-DPM's configs/celeba.yml
  // (and DDIM's) has data.random_flip true: RandomHorizontalFlip() after the 128-pixel crop and resize.
  'official-celeba64': {
    preset: 'celeba64',
    ...MODEL_PRESETS.celeba64,
    k: 2,
    lambda: 1,
    steps: 1525200,
    batch: 128,
    lr: 2e-4,
    emaDecay: 0.9999,
    gradClip: 1,
    randomFlip: true,
    checkpointEvery: 5000,
  },
};

/** A config that does not validate; `issues` names each bad field (for forms). */
export class RunConfigError extends Error {
  constructor(readonly issues: { field: string; message: string }[]) {
    super(`invalid run config:\n${issues.map((i) => `  ${i.field}: ${i.message}`).join('\n')}`);
  }
}

/** Every field a RunConfig has: what a config file, a form or a request may set. */
export const RUN_CONFIG_FIELDS: readonly string[] = Object.keys(RunConfigSchema.shape);

/** Levenshtein distance, case-insensitive: 'lamda' → 'lambda' is 1, 'Lambda' → 'lambda' is 0. */
function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length]!;
}

/** The valid field name closest to `name`, when it is close enough to be a likely typo. */
export function nearestConfigField(name: string): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const f of RUN_CONFIG_FIELDS) {
    const d = editDistance(name, f);
    if (d < bestD) [best, bestD] = [f, d];
  }
  return bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/**
 * Field errors for keys that are not RunConfig fields. zod would drop them silently, so a typo such
 * as "lamda": 5 would train with the default lambda.
 */
export function unknownConfigFields(input: Record<string, unknown>): { field: string; message: string }[] {
  return Object.keys(input)
    .filter((k) => !RUN_CONFIG_FIELDS.includes(k))
    .map((k) => {
      const near = nearestConfigField(k);
      return { field: k, message: `unknown field '${k}'${near ? ` (did you mean '${near}'?)` : ''}` };
    });
}

/**
 * Builds a full RunConfig: the model preset fills model fields that the input leaves out, then zod
 * fills the remaining defaults and validates. Throws an Error naming every bad field, unknown ones too.
 */
export function resolveRunConfig(input: Record<string, unknown>): RunConfig {
  const unknown = unknownConfigFields(input);
  if (unknown.length > 0) throw new RunConfigError(unknown);
  const presetName = (input.preset ?? 'tiny') as ModelPresetName;
  const preset = MODEL_PRESETS[presetName];
  if (!preset) {
    throw new RunConfigError([
      {
        field: 'preset',
        message: `unknown preset '${String(input.preset)}' (expected one of ${MODEL_PRESET_NAMES.join(', ')})`,
      },
    ]);
  }
  const merged: Record<string, unknown> = { ...preset };
  for (const [key, value] of Object.entries(input)) if (value !== undefined) merged[key] = value;
  merged.preset = presetName;
  return parseRunConfig(merged);
}

export function parseRunConfig(raw: unknown): RunConfig {
  const r = RunConfigSchema.safeParse(raw);
  if (!r.success)
    throw new RunConfigError(r.error.issues.map((i) => ({ field: i.path.join('.') || '(root)', message: i.message })));
  return r.data;
}

export function modelConfigOf(c: RunConfig): ModelConfig {
  return {
    ch: c.ch,
    chMult: c.chMult,
    numResBlocks: c.numResBlocks,
    attnResolutions: c.attnResolutions,
    dropout: c.dropout,
    imageSize: c.imageSize,
    channels: c.channels,
    normGroups: c.normGroups,
  };
}
