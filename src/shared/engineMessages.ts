/**
 * Messages the engine emits while it trains or samples. The CLI prints them (`--json`: one per
 * line), the app's engine host forwards them to the store and the renderer.
 */
import { z } from 'zod';
import { BACKENDS, SAMPLER_NAMES, SPACINGS } from './config';

export const MemoryInfoSchema = z.object({
  numTensors: z.number().int(),
  numBytes: z.number(),
  /** Bytes held on the GPU by the backend (webgpu buffer pool), when known. */
  gpuBytes: z.number().optional(),
  /** Peak of gpuBytes since the run started, when known. */
  peakGpuBytes: z.number().optional(),
});

export const StartedMessageSchema = z.object({
  type: z.literal('started'),
  runDir: z.string(),
  step: z.number().int(),
  totalSteps: z.number().int(),
  backend: z.string(),
  adapter: z.string(),
  params: z.number().int(),
  datasetCount: z.number().int(),
  resumed: z.boolean(),
  /** Dataset indices the gap monitor holds out of training (empty when none could be: a one-image dataset). */
  heldOut: z.array(z.number().int()).optional(),
  /**
   * A new run that starts from another checkpoint (RunConfig.initFrom): what it names, that checkpoint's step and
   * its Adam update count (its training steps in all, counting the runs it started from in turn).
   */
  initFrom: z.object({ spec: z.string(), step: z.number().int(), updates: z.number().int() }).optional(),
});

export const ProgressMessageSchema = z.object({
  type: z.literal('progress'),
  step: z.number().int(),
  totalSteps: z.number().int(),
  loss: z.number(),
  simple: z.number(),
  sa: z.number(),
  gradNorm: z.number(),
  lr: z.number(),
  imagesPerSec: z.number(),
  msPerStep: z.number(),
  etaSec: z.number(),
  memory: MemoryInfoSchema,
  /** When the step's scalars were read, in ms since the epoch (issue 15: the charts' time axes). */
  time: z.number().optional(),
});

export const GapMessageSchema = z.object({
  type: z.literal('gap'),
  step: z.number().int(),
  t0: z.number().int(),
  /** Paper timesteps t (1-based) of each entry, from t0 - 1 down to 1. */
  t: z.array(z.number().int()),
  meanAbs: z.array(z.number()),
  l2: z.array(z.number()),
  signedMean: z.array(z.number()),
  path: z.string().optional(),
  /** Weights measured (absent: raw, as the training monitor does) and held-out images averaged. */
  ema: z.boolean().optional(),
  n: z.number().int().optional(),
});

export const CheckpointMessageSchema = z.object({
  type: z.literal('checkpoint'),
  step: z.number().int(),
  path: z.string(),
  bytes: z.number().int(),
});

export const SamplesMessageSchema = z.object({
  type: z.literal('samples'),
  step: z.number().int(),
  path: z.string(),
  n: z.number().int(),
  sampler: z.string(),
  sampleSteps: z.number().int(),
  ema: z.boolean(),
  spacing: z.string().optional(),
  eta: z.number().optional(),
  seed: z.number().int().optional(),
  /** For a model of a built-in shapes dataset: samples recognised as a circle, square or triangle (shapeCheck.ts). */
  shapes: z
    .object({
      n: z.number().int(),
      recognised: z.number().int(),
      byClass: z.array(z.number().int()),
      meanIou: z.number(),
    })
    .optional(),
});

export const FinishedMessageSchema = z.object({
  type: z.literal('finished'),
  step: z.number().int(),
  reason: z.enum(['completed', 'stopped']),
  runDir: z.string(),
});

export const FailedMessageSchema = z.object({
  type: z.literal('failed'),
  step: z.number().int(),
  reason: z.string(),
});

export const LogMessageSchema = z.object({
  type: z.literal('log'),
  level: z.enum(['info', 'warn', 'error']),
  message: z.string(),
});

/**
 * What a training run is doing now, for the monitor's header ("sampling 12/50"): sent when the run
 * moves between training and its periodic work, and as that work advances. Forwarded live, not stored.
 */
export const ACTIVITIES = ['training', 'sampling', 'gap', 'checkpoint'] as const;
export const ActivityMessageSchema = z.object({
  type: z.literal('activity'),
  step: z.number().int(),
  activity: z.enum(ACTIVITIES),
  /** Denoising steps done out of total (sampling, gap). */
  done: z.number().int().optional(),
  total: z.number().int().optional(),
});

export const EngineMessageSchema = z.discriminatedUnion('type', [
  StartedMessageSchema,
  ProgressMessageSchema,
  GapMessageSchema,
  CheckpointMessageSchema,
  SamplesMessageSchema,
  FinishedMessageSchema,
  FailedMessageSchema,
  LogMessageSchema,
  ActivityMessageSchema,
]);

export type MemoryInfo = z.infer<typeof MemoryInfoSchema>;
export type StartedMessage = z.infer<typeof StartedMessageSchema>;
export type ProgressMessage = z.infer<typeof ProgressMessageSchema>;
export type GapMessage = z.infer<typeof GapMessageSchema>;
export type CheckpointMessage = z.infer<typeof CheckpointMessageSchema>;
export type SamplesMessage = z.infer<typeof SamplesMessageSchema>;
export type FinishedMessage = z.infer<typeof FinishedMessageSchema>;
export type FailedMessage = z.infer<typeof FailedMessageSchema>;
export type ActivityMessage = z.infer<typeof ActivityMessageSchema>;
export type Activity = ActivityMessage['activity'];
export type EngineMessage = z.infer<typeof EngineMessageSchema>;

export type EngineSink = (msg: EngineMessage) => void;

/** Progress of an on-demand job: denoising step k of total, or images imported. */
export const JobProgressMessageSchema = z.object({
  type: z.literal('jobProgress'),
  jobId: z.string(),
  done: z.number().int(),
  total: z.number().int(),
});
export type JobProgressMessage = z.infer<typeof JobProgressMessageSchema>;

/** What an engine process answers besides engine messages: a job's end. */
export const JobDoneMessageSchema = z.object({
  type: z.literal('jobDone'),
  jobId: z.string(),
  ok: z.boolean(),
  error: z.string().optional(),
  result: z.unknown().optional(),
});
export type JobDoneMessage = z.infer<typeof JobDoneMessageSchema>;

/** The host's answer to a command it refuses (malformed, unknown kind, bad field, or not possible now). */
export const RejectedMessageSchema = z.object({
  type: z.literal('rejected'),
  /** The refused command's kind and job id, when it had them. */
  cmd: z.string().nullable(),
  jobId: z.string().nullable(),
  error: z.string(),
});
export type RejectedMessage = z.infer<typeof RejectedMessageSchema>;

export const HostMessageSchema = z.union([
  EngineMessageSchema,
  JobProgressMessageSchema,
  JobDoneMessageSchema,
  RejectedMessageSchema,
]);
export type HostMessage = z.infer<typeof HostMessageSchema>;

/** Images in one sample grid: one PNG holds them all (a 32x32 grid of tiles). */
export const MAX_SAMPLE_N = 1024;

/**
 * Issue 13: a variance sampler's source in any job that samples (a grid, an evaluation), resolved by the app
 * (src/app/useCases/sampleVariance.ts) and used by the engine (src/engine/train/varianceJobs.ts).
 */
export const VARIANCE_SOURCE_FIELDS = {
  /** analytic-*: a cached Γ estimate of this checkpoint and weights that covers the trajectory (checked there). */
  gamma: z.unknown().optional(),
  /** analytic-* without `gamma`: estimate Γ first from this many training images and seed, and return it. */
  gammaEstimate: z.object({ nImages: z.number().int().positive(), seed: z.number().int().nonnegative() }).optional(),
  /** npr-* / sn-*: the covariance head checkpoint (.sadpm-cov) trained on this checkpoint and weights. */
  covHead: z.string().min(1).optional(),
};

/** Commands the engine host process accepts. */
export const SampleJobSchema = z.object({
  checkpointPath: z.string(),
  runDir: z.string(),
  ema: z.boolean(),
  n: z.number().int().min(1).max(MAX_SAMPLE_N),
  sampler: z.enum(SAMPLER_NAMES),
  steps: z.number().int().min(1),
  spacing: z.enum(SPACINGS),
  eta: z.number().min(0),
  seed: z.number().int().nonnegative(),
  /** Images per network call (does not change the images). */
  batchSize: z.number().int().min(1).max(MAX_SAMPLE_N).optional(),
  cols: z.number().int().positive().optional(),
  padding: z.number().int().min(0).max(32).optional(),
  caption: z.string().max(200).optional(),
  out: z.string().optional(),
  /** Write a denoising filmstrip of image 0 with this many frames instead of a grid. */
  filmstripFrames: z.number().int().min(2).max(20).optional(),
  /** The filmstrip gets a second row: the x0 predicted from each frame's x_t (issue 15). */
  filmstripX0: z.boolean().optional(),
  backend: z.enum(BACKENDS).optional(),
  ...VARIANCE_SOURCE_FIELDS,
});
export type SampleJob = z.infer<typeof SampleJobSchema>;

/** The estimation gap of a checkpoint on its run's held-out images. */
export const GapJobSchema = z.object({
  checkpointPath: z.string(),
  runDir: z.string(),
  ema: z.boolean(),
  /** Paper step to start from; default the run's gapT0. */
  t0: z.number().int().min(1).optional(),
  /** Held-out images to average; default all of them. */
  n: z.number().int().min(1).optional(),
  backend: z.enum(BACKENDS).optional(),
});
export type GapJob = z.infer<typeof GapJobSchema>;

export const IMPORT_FORMATS = ['auto', 'idx', 'cifar10', 'folder', 'npy', 'builtin', 'packed'] as const;
/** Image folders: labels from class subfolders, none, or subfolders only when every image is in one. */
export const CLASS_MODES = ['auto', 'subfolders', 'none'] as const;
export type ClassMode = (typeof CLASS_MODES)[number];

export const ImportJobSchema = z.object({
  input: z.string().min(1),
  format: z.enum(IMPORT_FORMATS),
  out: z.string(),
  size: z.number().int().positive().optional(),
  grayscale: z.boolean().optional(),
  strict: z.boolean().optional(),
  classes: z.enum(CLASS_MODES).optional(),
  labelsPath: z.string().optional(),
  limit: z.number().int().positive().optional(),
  /** Also write a preview grid of the first images here. */
  previewPath: z.string().optional(),
});
export type ImportJob = z.infer<typeof ImportJobSchema>;

export const ImportResultSchema = z.object({
  out: z.string(),
  bytes: z.number().int(),
  header: z.object({
    name: z.string(),
    count: z.number().int(),
    height: z.number().int(),
    width: z.number().int(),
    channels: z.number().int(),
    format: z.string(),
    source: z.string(),
    checksum: z.string(),
    hasLabels: z.boolean(),
    classNames: z.array(z.string()).optional(),
    numClasses: z.number().int().optional(),
  }),
  good: z.number().int(),
  skipped: z.array(z.object({ file: z.string(), reason: z.string() })),
  /** What the reader decided on its own, e.g. to import a mixed folder without class labels. */
  notes: z.array(z.string()).default([]),
  classCounts: z.array(z.number().int()).nullable(),
  previewPath: z.string().nullable(),
});
export type ImportResult = z.infer<typeof ImportResultSchema>;

// --- issue 12: evaluation jobs (reference statistics of a dataset; metrics of a checkpoint's samples) ---

export const EVAL_METRICS = ['fid', 'kid', 'is', 'pr'] as const;
export type EvalMetric = (typeof EVAL_METRICS)[number];
/** Images one evaluation may generate per step count (the usual protocol is 50,000). */
export const MAX_EVAL_N = 100_000;
/** Feature vectors kept for KID and precision/recall, on both sides (part of a reference statistics key). */
export const EVAL_KEEP = 10_000;

export const SpaceInfoSchema = z.object({
  id: z.enum(['inception-v3-fid', 'pixel-8x8']),
  /** Shown with every result: the pixel space says it is not comparable with published numbers. */
  label: z.string(),
  dim: z.number().int(),
  weightsSha256: z.string().nullable(),
});

/** Features of a dataset's images (all, or a seeded subset of n), summarised into a cache file. */
export const RefStatsJobSchema = z.object({
  /** builtin:<name> or a packed dataset path (a run's config.dataset). */
  dataset: z.string().min(1),
  n: z.number().int().min(2).optional(),
  seed: z.number().int().nonnegative(),
  out: z.string().min(1),
  /** The FID Inception weights (.pth); absent: the pixel feature space. */
  inceptionWeights: z.string().min(1).optional(),
  batchSize: z.number().int().min(1).max(4096).optional(),
  backend: z.enum(BACKENDS).optional(),
});
export type RefStatsJob = z.infer<typeof RefStatsJobSchema>;

export const RefStatsResultSchema = z.object({
  out: z.string(),
  bytes: z.number().int(),
  count: z.number().int(),
  space: SpaceInfoSchema,
});
export type RefStatsResult = z.infer<typeof RefStatsResultSchema>;

/** n images per step count sampled from a checkpoint, streamed into features and compared with a reference. */
export const EvalJobSchema = z.object({
  checkpointPath: z.string(),
  runDir: z.string(),
  ema: z.boolean(),
  sampler: SampleJobSchema.shape.sampler,
  steps: z.array(z.number().int().min(1)).min(1).max(32),
  spacing: z.enum(SPACINGS),
  eta: z.number().min(0),
  seed: z.number().int().nonnegative(),
  n: z.number().int().min(2).max(MAX_EVAL_N),
  metrics: z.array(z.enum(EVAL_METRICS)).min(1),
  /** The reference statistics (a RefStats job's file) in the same feature space. */
  refPath: z.string().min(1),
  inceptionWeights: z.string().min(1).optional(),
  /** Where each step count's preview grid (its first 64 images) goes. */
  previewDir: z.string().min(1),
  batchSize: z.number().int().min(1).max(4096).optional(),
  backend: z.enum(BACKENDS).optional(),
  /** Issue 13: the variance sampler's source; a Γ covers (or is estimated over) the union of the trajectories. */
  ...VARIANCE_SOURCE_FIELDS,
});
export type EvalJob = z.infer<typeof EvalJobSchema>;

export const EvalStepResultSchema = z.object({
  sampleSteps: z.number().int(),
  fid: z.number().optional(),
  kid: z
    .object({ mean: z.number(), std: z.number(), subsets: z.number().int(), subsetSize: z.number().int() })
    .optional(),
  is: z.object({ mean: z.number(), std: z.number(), splits: z.number().int() }).optional(),
  precision: z.number().optional(),
  recall: z.number().optional(),
  /** Sampling and features of this step count. */
  seconds: z.number(),
  previewPath: z.string(),
});
export type EvalStepResult = z.infer<typeof EvalStepResultSchema>;

export const EvalJobResultSchema = z.object({
  space: SpaceInfoSchema,
  checkpointStep: z.number().int(),
  realCount: z.number().int(),
  rows: z.array(EvalStepResultSchema),
  /** Issue 13: the variance source every step count used (as a grid's sidecar records it: kind, Γ key, head). */
  variance: z.record(z.string(), z.unknown()),
  /** A Γ estimate the job made (for the app to cache). */
  gamma: z.unknown().optional(),
});
export type EvalJobResult = z.infer<typeof EvalJobResultSchema>;

/** The engine commands of the evaluation jobs (members of EngineCommandSchema). */
export const EvalCommandSchemas = [
  z.object({ cmd: z.literal('refStats'), jobId: z.string(), job: RefStatsJobSchema }),
  z.object({ cmd: z.literal('eval'), jobId: z.string(), job: EvalJobSchema }),
] as const;
/** Issue 13: Analytic-DPM's Γ of a checkpoint's weights at the given indices, over its run's training images. */
export const GammaJobSchema = z.object({
  checkpointPath: z.string(),
  runDir: z.string(),
  ema: z.boolean(),
  /** Increasing 0-based indices (a union of sampling trajectories). */
  trajectory: z.array(z.number().int().nonnegative()).min(1),
  nImages: z.number().int().positive(),
  seed: z.number().int().nonnegative(),
  batchSize: z.number().int().min(1).max(MAX_SAMPLE_N).optional(),
  backend: z.enum(BACKENDS).optional(),
});
export type GammaJob = z.infer<typeof GammaJobSchema>;

/** What a sample job returns: the grid's message, and the Γ estimate it made (for the app to cache). */
export const SampleJobResultSchema = SamplesMessageSchema.extend({ gamma: z.unknown().optional() });
export type SampleJobResult = z.infer<typeof SampleJobResultSchema>;

// issue 12/15: one fixed noise sampled at several checkpoints of a run (a strip over training).
/** Checkpoints one strip job may sample. */
export const MAX_STRIP_COLUMNS = 1000;
/** The same settings (so the same noise) at each checkpoint, in order; a Γ or head belongs to one checkpoint. */
export const StripJobSchema = SampleJobSchema.pick({
  runDir: true,
  ema: true,
  n: true,
  sampler: true,
  steps: true,
  spacing: true,
  eta: true,
  seed: true,
  batchSize: true,
  backend: true,
}).extend({
  columns: z
    .array(z.object({ checkpointPath: z.string(), ...VARIANCE_SOURCE_FIELDS }))
    .min(1)
    .max(MAX_STRIP_COLUMNS),
});
export type StripJob = z.infer<typeof StripJobSchema>;
/** The columns written, in order; `stopped` says why the job ended before the last (what came before is kept). */
export const StripJobResultSchema = z.object({
  columns: z.array(SampleJobResultSchema),
  stopped: z.object({ cancelled: z.boolean(), error: z.string() }).optional(),
});
export type StripJobResult = z.infer<typeof StripJobResultSchema>;

export const EngineCommandSchema = z.discriminatedUnion('cmd', [
  z.object({ cmd: z.literal('import'), jobId: z.string(), job: ImportJobSchema }),
  z.object({ cmd: z.literal('train'), config: z.unknown(), runDir: z.string(), resumeFrom: z.string().optional() }),
  z.object({ cmd: z.literal('stop') }),
  z.object({ cmd: z.literal('sample'), jobId: z.string(), job: SampleJobSchema }),
  z.object({ cmd: z.literal('gap'), jobId: z.string(), job: GapJobSchema }),
  z.object({ cmd: z.literal('cancel'), jobId: z.string() }),
  z.object({ cmd: z.literal('exit') }),
  // issue 12
  ...EvalCommandSchemas,
  // Issue 13: Γ estimates and covariance-head runs.
  z.object({ cmd: z.literal('gamma'), jobId: z.string(), job: GammaJobSchema }),
  z.object({ cmd: z.literal('trainCov'), config: z.unknown(), runDir: z.string(), resumeFrom: z.string().optional() }),
  // issue 12/15
  z.object({ cmd: z.literal('strip'), jobId: z.string(), job: StripJobSchema }),
]);
export type EngineCommand = z.infer<typeof EngineCommandSchema>;
