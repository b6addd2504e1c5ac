/**
 * Request and result shapes of the contract's jobs that several channels share: sampling settings (gallery, compare,
 * export, strip), a grid export and its result, an import's outcome. Kept apart so contract.ts stays the list of
 * channels; contract.ts re-exports all of it.
 */
import { z } from 'zod';
import { ImportResultSchema } from './engineMessages';
import { DatasetRecordSchema, SampleRecordSchema } from './records';
import { SAMPLER_NAMES, SPACINGS } from './config';
import { SampleVarianceSchema } from './sampleVariance';

const Id = z.number().int().positive();

/** Sampling settings shared by the gallery, compare and export. */
export const SampleSettingsSchema = z.object({
  n: z.number().int().min(1).max(256),
  sampler: z.enum(SAMPLER_NAMES),
  steps: z.number().int().min(1).max(1000),
  spacing: z.enum(SPACINGS),
  eta: z.number().min(0).max(1),
  seed: z.number().int().nonnegative(),
  ema: z.boolean(),
  variance: SampleVarianceSchema.optional(),
});
export type SampleSettings = z.infer<typeof SampleSettingsSchema>;

export const GridExportSchema = z.object({
  checkpointId: Id,
  settings: SampleSettingsSchema,
  cols: z.number().int().min(1).max(64),
  padding: z.number().int().min(0).max(32),
  /** A caption drawn above the grid (run, step, sampler). */
  labels: z.boolean(),
});

/** What a finished import job returns. */
export const ImportOutcomeSchema = z.object({
  dataset: DatasetRecordSchema,
  /** True when the same pixels were already in the library; nothing new was stored. */
  duplicate: z.boolean(),
  report: ImportResultSchema.pick({ good: true, skipped: true, notes: true, classCounts: true }),
});
export type ImportOutcome = z.infer<typeof ImportOutcomeSchema>;

/** What a finished grid export returns. */
export const GridExportResultSchema = z.object({
  path: z.string(),
  sidecar: z.string(),
  bytes: z.number(),
  sample: SampleRecordSchema,
});
export type GridExportResult = z.infer<typeof GridExportResultSchema>;
