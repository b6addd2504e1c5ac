/**
 * What the run store holds, as plain data: the shapes the CLI prints and the app's contract sends.
 */
import { z } from 'zod';
import { RunConfigSchema, SAMPLER_NAMES, SPACINGS } from './config';
import { CovConfigSchema } from './covConfig';
import { RunConditionSchema, RunSortSchema } from './runColumns';

export const RUN_STATUSES = ['queued', 'running', 'paused', 'completed', 'failed', 'stopped', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** A run in one of these states can be continued from its last checkpoint. */
export const RESUMABLE_STATUSES: readonly RunStatus[] = ['paused', 'stopped', 'interrupted', 'failed', 'completed'];

/** 'train': a diffusion model; 'cov': a covariance head (NPR/SN) trained on the frozen network of its parent. */
export const RUN_KINDS = ['train', 'cov'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export const FEATURE_SPACES = ['inception', 'pixel'] as const;
export type FeatureSpace = (typeof FEATURE_SPACES)[number];

export const DatasetRecordSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  source: z.string(),
  format: z.string(),
  count: z.number().int(),
  height: z.number().int(),
  width: z.number().int(),
  channels: z.number().int(),
  checksum: z.string(),
  path: z.string(),
  previewPath: z.string().nullable(),
  bytes: z.number().int(),
  classCounts: z.array(z.number().int()).nullable(),
  classNames: z.array(z.string()).nullable(),
  good: z.number().int(),
  skipped: z.array(z.object({ file: z.string(), reason: z.string() })),
  createdAt: z.string(),
});
export type DatasetRecord = z.infer<typeof DatasetRecordSchema>;

/**
 * One measured metric of a checkpoint's samples (issue 12). Everything but value, std, featuresSha256, refKey and
 * seconds identifies it: measuring the same again replaces it.
 */
export const EvalResultSchema = z.object({
  id: z.number().int(),
  runId: z.number().int(),
  /** The checkpoint's training step. */
  step: z.number().int(),
  weights: z.enum(['raw', 'ema']),
  sampler: z.enum(SAMPLER_NAMES),
  /**
   * Issue 13: the variance sampler's source, what tells two results of one sampler apart: 'none' (ddpm, ddim),
   * 'gamma n=<images|all> seed=<s>' (Analytic-DPM), 'npr run #<id> step <s>' or 'sn file <path> step <s>'.
   */
  variance: z.string().min(1),
  /** The Γ estimate's key or the head checkpoint's path it used; null for 'none'. */
  varianceRef: z.string().nullable(),
  sampleSteps: z.number().int(),
  spacing: z.enum(SPACINGS),
  eta: z.number(),
  /** Images generated and measured. */
  n: z.number().int(),
  seed: z.number().int(),
  featureSpace: z.enum(FEATURE_SPACES),
  /** e.g. 'fid', 'kid', 'is', 'precision', 'recall'. */
  metric: z.string().min(1),
  value: z.number(),
  /** Spread over subsets or splits (KID, IS), where the metric has one. */
  std: z.number().nullable(),
  /** SHA-256 of the feature network's weights file (null in pixel space). */
  featuresSha256: z.string().nullable(),
  /** The reference statistics compared against (a ReferenceStatsRecord key). */
  refKey: z.string(),
  seconds: z.number(),
  createdAt: z.string(),
});
export type EvalResult = z.infer<typeof EvalResultSchema>;
export type NewEvalResult = Omit<EvalResult, 'id' | 'createdAt'>;

/** A run's latest result of one metric in one feature space (for the runs table's metric columns). */
export const EvalSummarySchema = EvalResultSchema.pick({
  metric: true,
  featureSpace: true,
  value: true,
  std: true,
  step: true,
  weights: true,
  sampler: true,
  sampleSteps: true,
  n: true,
  createdAt: true,
});
export type EvalSummary = z.infer<typeof EvalSummarySchema>;

/** A metric against sampling steps: one line of the chart (one run, checkpoint and sampling setup). */
export const EvalCurveSchema = z.object({
  runId: z.number().int(),
  step: z.number().int(),
  weights: z.enum(['raw', 'ema']),
  sampler: z.enum(SAMPLER_NAMES),
  /** Issue 13: the variance source (EvalResult's `variance`). */
  variance: z.string(),
  spacing: z.enum(SPACINGS),
  eta: z.number(),
  n: z.number().int(),
  featureSpace: z.enum(FEATURE_SPACES),
  metric: z.string(),
  /** By sampleSteps ascending. */
  points: z.array(z.object({ sampleSteps: z.number().int(), value: z.number(), std: z.number().nullable() })),
});
export type EvalCurve = z.infer<typeof EvalCurveSchema>;

/** A cached file of a dataset's reference statistics (features' mean, covariance, ...), under <data>/cache. */
export const ReferenceStatsRecordSchema = z.object({
  /** Dataset checksum + protocol + feature weights hash + n, as the caller composes it. */
  key: z.string().min(1),
  path: z.string(),
  bytes: z.number().int(),
  /** Images the statistics were computed from. */
  count: z.number().int(),
  createdAt: z.string(),
});
export type ReferenceStatsRecord = z.infer<typeof ReferenceStatsRecordSchema>;

/** An Analytic-DPM Γ estimate of a checkpoint, as stored; the engine validates `estimate` (parseGammaEstimate). */
export const GammaRecordSchema = z.object({
  runId: z.number().int(),
  key: z.string().min(1),
  checkpointStep: z.number().int(),
  estimate: z.unknown(),
  createdAt: z.string(),
});
export type GammaRecord = z.infer<typeof GammaRecordSchema>;

export const RunRecordSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  status: z.enum(RUN_STATUSES),
  config: RunConfigSchema,
  datasetId: z.number().int().nullable(),
  dataset: z.string(),
  preset: z.string(),
  k: z.number().int(),
  lambda: z.number(),
  T: z.number().int(),
  seed: z.number().int(),
  step: z.number().int(),
  totalSteps: z.number().int(),
  runDir: z.string(),
  backend: z.string().nullable(),
  adapter: z.string().nullable(),
  appVersion: z.string(),
  notes: z.string(),
  tags: z.array(z.string()),
  failureReason: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  lastLoss: z.number().nullable(),
  lastCheckpointStep: z.number().int().nullable(),
  kind: z.enum(RUN_KINDS),
  /** The run a covariance run was trained on (its `config` is that run's RunConfig). */
  parentId: z.number().int().nullable(),
  /** A covariance run's own config; null for a training run. */
  cov: CovConfigSchema.nullable(),
  /** The latest result of each metric (per feature space); only when the listing asked for them (withEvals). */
  latestEvals: z.array(EvalSummarySchema).optional(),
  // issue 15: the experiment table's result columns, kept current in the runs table so a listing reads them cheaply.
  summary: z
    .object({
      /** Last logged L_simple and L_sa. */
      lastSimple: z.number().nullable(),
      lastSa: z.number().nullable(),
      /** Last logged training throughput. */
      imagesPerSec: z.number().nullable(),
      /** Final mean |D| (at t = 1) of the latest estimation-gap curve. */
      finalGap: z.number().nullable(),
      /** Seconds from the first start to the end (or to now, while it runs); null before it started. */
      durationSec: z.number().nullable(),
    })
    .optional(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

export const CheckpointRecordSchema = z.object({
  id: z.number().int(),
  runId: z.number().int(),
  step: z.number().int(),
  /** 'full' holds raw weights, EMA weights and optimiser state (what training writes). */
  kind: z.enum(['full', 'raw', 'ema']),
  path: z.string(),
  bytes: z.number().int(),
  metrics: z.record(z.string(), z.number()),
  createdAt: z.string(),
});
export type CheckpointRecord = z.infer<typeof CheckpointRecordSchema>;

export const SampleRecordSchema = z.object({
  id: z.number().int(),
  runId: z.number().int(),
  checkpointId: z.number().int().nullable(),
  step: z.number().int(),
  sampler: z.string(),
  sampleSteps: z.number().int(),
  spacing: z.string().nullable(),
  eta: z.number().nullable(),
  seed: z.number().int().nullable(),
  n: z.number().int(),
  ema: z.boolean(),
  path: z.string(),
  createdAt: z.string(),
});
export type SampleRecord = z.infer<typeof SampleRecordSchema>;

export const GapRecordSchema = z.object({
  runId: z.number().int(),
  step: z.number().int(),
  t0: z.number().int(),
  /** Which weights the curve measured: training's monitor uses the raw weights. */
  weights: z.enum(['raw', 'ema']),
  /** Held-out images averaged (null for curves recorded before this was stored). */
  n: z.number().int().nullable(),
  t: z.array(z.number().int()),
  meanAbs: z.array(z.number()),
  l2: z.array(z.number()),
  signedMean: z.array(z.number()),
});
export type GapRecord = z.infer<typeof GapRecordSchema>;

/** A metric series as parallel arrays (steps ascending). */
export const SeriesSchema = z.object({
  name: z.string(),
  steps: z.array(z.number()),
  values: z.array(z.number()),
  /** Points in the store before downsampling. */
  total: z.number().int(),
});
export type Series = z.infer<typeof SeriesSchema>;

export const RunFilterSchema = z.object({
  status: z.array(z.enum(RUN_STATUSES)).optional(),
  tags: z.array(z.string()).optional(),
  datasetId: z.number().int().optional(),
  k: z.number().int().optional(),
  lambda: z.number().optional(),
  T: z.number().int().optional(),
  /** Matches name, notes, tags, dataset and preset (case-insensitive substring). */
  text: z.string().optional(),
  kind: z.enum(RUN_KINDS).optional(),
  parentId: z.number().int().optional(),
  /** Runs of this sweep only (issue 16). */
  sweepId: z.number().int().optional(),
  /** Fill each run's latestEvals. */
  withEvals: z.boolean().optional(),
  limit: z.number().int().positive().max(100_000).optional(),
  offset: z.number().int().nonnegative().optional(),
  // issue 15: the experiment table's order and per-column conditions (columns: src/shared/runColumns.ts).
  /** Order (default: newest first); ties are broken by id, newest first. */
  sort: RunSortSchema.optional(),
  /** Conditions that all hold. */
  where: z.array(RunConditionSchema).max(40).optional(),
});
export type RunFilter = z.infer<typeof RunFilterSchema>;

export const RetentionPolicySchema = z.object({
  /** Keep the newest N checkpoints (at least 1: the resume point is never pruned). */
  keepLast: z.number().int().min(1).optional(),
  /** Keep every checkpoint whose step is a multiple of M. */
  milestoneEvery: z.number().int().positive().optional(),
  /** Keep the checkpoint with the lowest value of this metric (as saved with it). */
  bestBy: z.string().optional(),
});
export type RetentionPolicy = z.infer<typeof RetentionPolicySchema>;
