/**
 * What the run store holds, as plain data: the shapes the CLI prints and the app's contract sends.
 */
import { z } from 'zod';
import { RunConfigSchema } from './config';

export const RUN_STATUSES = ['queued', 'running', 'paused', 'completed', 'failed', 'stopped', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** A run in one of these states can be continued from its last checkpoint. */
export const RESUMABLE_STATUSES: readonly RunStatus[] = ['paused', 'stopped', 'interrupted', 'failed', 'completed'];

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
  limit: z.number().int().positive().max(100_000).optional(),
  offset: z.number().int().nonnegative().optional(),
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
