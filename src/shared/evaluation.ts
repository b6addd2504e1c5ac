/**
 * Evaluation and the SA-vs-baseline study as plain data (issue 12): what the app and the CLI ask for, what they
 * get back, and the app settings that hold the Inception weights' path. The contract's eval.*, study.* and
 * settings.* channels use these schemas.
 */
import { z } from 'zod';
import { SAMPLER_NAMES, SPACINGS } from './config';
import { EVAL_METRICS, MAX_EVAL_N, SampleJobSchema, SpaceInfoSchema } from './engineMessages';
import { EvalCurveSchema, EvalResultSchema, FEATURE_SPACES, GapRecordSchema } from './records';

const Id = z.number().int().positive();
const StepCount = z.number().int().min(1).max(100_000);

/** Stored metric names a request metric gives: 'pr' is stored as two metrics. */
export const STORED_METRICS = { fid: ['fid'], kid: ['kid'], is: ['is'], pr: ['precision', 'recall'] } as const;
export const STORED_METRIC_NAMES = ['fid', 'kid', 'is', 'precision', 'recall'] as const;
/** Lower is better for these stored metrics (the others: higher is better). */
export const LOWER_IS_BETTER: readonly string[] = ['fid', 'kid'];

/** Sampling and measuring settings of an evaluation (everything but which checkpoint). */
export const EvalSettingsSchema = z.object({
  ema: z.boolean().default(true),
  metrics: z.array(z.enum(EVAL_METRICS)).min(1).max(EVAL_METRICS.length),
  n: z.number().int().min(2).max(MAX_EVAL_N),
  sampler: SampleJobSchema.shape.sampler,
  steps: z.array(StepCount).min(1).max(32),
  spacing: z.enum(SPACINGS).default('uniform'),
  eta: z.number().min(0).max(1).default(0),
  seed: z.number().int().nonnegative().default(0),
  /** Dataset images the reference statistics use (a seeded subset); all of them when left out. */
  refN: z.number().int().min(2).optional(),
  batchSize: z.number().int().min(1).max(4096).optional(),
});
export type EvalSettings = z.infer<typeof EvalSettingsSchema>;
export type EvalSettingsInput = z.input<typeof EvalSettingsSchema>;

/** One step count of an evaluation, a column per metric (null where not measured). */
export const EvalTableRowSchema = z.object({
  sampleSteps: z.number().int(),
  fid: z.number().nullable(),
  kid: z.number().nullable(),
  kidStd: z.number().nullable(),
  is: z.number().nullable(),
  isStd: z.number().nullable(),
  precision: z.number().nullable(),
  recall: z.number().nullable(),
  seconds: z.number(),
  previewPath: z.string(),
});
export type EvalTableRow = z.infer<typeof EvalTableRowSchema>;

/** What an evaluation returns (the 'eval' job's result): the table, the feature space, and what was stored. */
export const EvalOutcomeSchema = z.object({
  runId: z.number().int(),
  runName: z.string(),
  checkpointStep: z.number().int(),
  ema: z.boolean(),
  sampler: z.string(),
  spacing: z.enum(SPACINGS),
  eta: z.number(),
  seed: z.number().int(),
  n: z.number().int(),
  metrics: z.array(z.enum(EVAL_METRICS)),
  space: SpaceInfoSchema,
  /** The store's name of the space; 'pixel' results are labelled as such everywhere. */
  featureSpace: z.enum(FEATURE_SPACES),
  /** Where the Inception weights came from; null in pixel space. */
  weightsSource: z.string().nullable(),
  /** Pixel space: how to get the Inception weights. */
  note: z.string().nullable(),
  rows: z.array(EvalTableRowSchema),
  refKey: z.string(),
  /** True when the reference statistics came from the cache (no dataset pass). */
  refCached: z.boolean(),
  refCount: z.number().int(),
  results: z.array(EvalResultSchema),
});
export type EvalOutcome = z.infer<typeof EvalOutcomeSchema>;

export const EvalStartSchema = EvalSettingsSchema.extend({ checkpointId: Id });

export const EvalCurvesRequestSchema = z.object({
  runIds: z.array(Id).min(1).max(50),
  metric: z.string().min(1).max(40),
  featureSpace: z.enum(FEATURE_SPACES).optional(),
  weights: z.enum(['raw', 'ema']).optional(),
  step: z.number().int().nonnegative().optional(),
});

// --- the study ---

/** How a config field may differ between a study's runs. */
export const DIFF_KINDS = ['refuse', 'loss', 'warn', 'ignore'] as const;
export type DiffKind = (typeof DIFF_KINDS)[number];

export const ConfigDifferenceSchema = z.object({
  field: z.string(),
  kind: z.enum(DIFF_KINDS),
  /** The field's value per run (baseline first), as text. */
  values: z.array(z.object({ runId: z.number().int(), value: z.string() })),
});
export type ConfigDifference = z.infer<typeof ConfigDifferenceSchema>;

export const StudyRunSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  /** 'DDPM' or 'SA-2 λ=1'. */
  loss: z.string(),
  role: z.enum(['baseline', 'sa']),
  step: z.number().int(),
  seed: z.number().int(),
});
export type StudyRun = z.infer<typeof StudyRunSchema>;

export const GapRatioSchema = z.object({
  runId: z.number().int(),
  t: z.array(z.number().int()),
  /** Baseline mean |D_t| over this run's, per t. */
  ratio: z.array(z.number().nullable()),
  /** The ratio at the end of the chain (t = 1): the final gap, which the paper reports (about 2.5x for SA-2). */
  final: z.number().nullable(),
  /** Mean of the ratio over t. */
  mean: z.number().nullable(),
});
export type GapRatio = z.infer<typeof GapRatioSchema>;

export const StudyGapSchema = z.object({
  /** The checkpoint step every curve is from (the latest common one), or null when the runs share none. */
  step: z.number().int().nullable(),
  t0: z.number().int(),
  weights: z.enum(['raw', 'ema']),
  curves: z.array(GapRecordSchema),
  ratios: z.array(GapRatioSchema),
  /** Runs without a curve at that step, t0 and weights. */
  missing: z.array(z.number().int()),
  notes: z.array(z.string()),
});
export type StudyGap = z.infer<typeof StudyGapSchema>;

export const StudyMetricSchema = z.object({
  metric: z.string(),
  featureSpace: z.enum(FEATURE_SPACES),
  curves: z.array(EvalCurveSchema),
});
export type StudyMetric = z.infer<typeof StudyMetricSchema>;

export const StudySchema = z.object({
  runs: z.array(StudyRunSchema),
  differences: z.array(ConfigDifferenceSchema),
  /** False when data, model or diffusion differ (kind 'refuse'): the study refuses to measure or report. */
  comparable: z.boolean(),
  gap: StudyGapSchema,
  metrics: z.array(StudyMetricSchema),
  /** The space label of the metrics ('pixel space ... not comparable with published FID' where so). */
  spaceLabel: z.string().nullable(),
  notes: z.array(z.string()),
});
export type Study = z.infer<typeof StudySchema>;

export const StudyRequestSchema = z.object({
  baselineId: Id,
  saIds: z.array(Id).min(1).max(8),
  /** Gap: the reverse chain's start and the weights measured (the training monitor uses raw weights). */
  t0: z.number().int().min(1).max(100_000).optional(),
  gapEma: z.boolean().default(false),
  featureSpace: z.enum(FEATURE_SPACES).optional(),
  /** Only metric results of these weights and this sampler (every setup when left out). */
  metricWeights: z.enum(['raw', 'ema']).optional(),
  sampler: z.enum(SAMPLER_NAMES).optional(),
});
export type StudyRequest = z.input<typeof StudyRequestSchema>;

export const StudyReportRequestSchema = StudyRequestSchema.extend({
  /** Measure the gap of runs without a curve at the common checkpoint. */
  measureMissing: z.boolean().default(false),
  /** Evaluate the runs' common checkpoint at these settings where the store has no result. */
  evaluate: EvalSettingsSchema.optional(),
});
export type StudyReportRequest = z.input<typeof StudyReportRequestSchema>;

export const StudyReportSchema = z.object({
  dir: z.string(),
  markdown: z.string(),
  files: z.array(z.string()),
  study: StudySchema,
});
export type StudyReport = z.infer<typeof StudyReportSchema>;

// --- settings ---

export const AppSettingsSchema = z.object({
  /** The FID Inception weights file (pytorch-fid's pt_inception-2015-12-05-6726825d.pth). */
  inceptionWeights: z.string().min(1).max(4096).nullable(),
});
export type AppSettings = z.infer<typeof AppSettingsSchema>;

export const WEIGHTS_SOURCES = ['flag', 'env', 'settings'] as const;

export const WeightsCheckSchema = z.object({
  path: z.string().nullable(),
  source: z.enum(WEIGHTS_SOURCES).nullable(),
  found: z.boolean(),
  sha256: z.string().nullable(),
  /** Found and its SHA-256 has pytorch-fid's prefix. */
  ok: z.boolean(),
  message: z.string(),
});
export type WeightsCheck = z.infer<typeof WeightsCheckSchema>;

export const SettingsViewSchema = z.object({
  settings: AppSettingsSchema,
  file: z.string(),
  /** The environment variable and its value in the server's process (it overrides the setting). */
  env: z.object({ name: z.string(), value: z.string().nullable() }),
  weights: WeightsCheckSchema,
  help: z.string(),
});
export type SettingsView = z.infer<typeof SettingsViewSchema>;
