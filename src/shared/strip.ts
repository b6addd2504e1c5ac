/**
 * Issue 12/15: samples from one fixed noise at every checkpoint of a run (or every k-th, or chosen steps), as a
 * strip over training: rows are noise images, columns checkpoints. What the contract, the CLI and the app's use
 * case share.
 */
import { z } from 'zod';
import { SampleSettingsSchema } from './jobOutcomes';
import { SampleRecordSchema } from './records';

/** Noise images per column: a column of 64 cells is already taller than a screen. */
export const MAX_STRIP_N = 64;

// The gallery's sampling settings, without a per-request variance source (each checkpoint uses its own Γ or head).
export const StripSettingsSchema = SampleSettingsSchema.omit({ variance: true }).extend({
  n: z.number().int().min(1).max(MAX_STRIP_N),
  /** Every k-th checkpoint from the first (the latest always included); 1 = all. */
  every: z.number().int().min(1).max(100_000).default(1),
  /** Only the checkpoints at these training steps (instead of `every`). */
  checkpoints: z.array(z.number().int().nonnegative()).min(1).max(1000).optional(),
  /** analytic-*: the Γ estimate of each checkpoint (npr-* / sn-* use each checkpoint's newest completed head). */
  gammaImages: z.number().int().positive().optional(),
  gammaSeed: z.number().int().nonnegative().optional(),
});
export type StripSettings = z.input<typeof StripSettingsSchema>;

/** One checkpoint of the strip: its column grid when one was made with these settings, or why it has none. */
export const StripColumnSchema = z.object({
  checkpointId: z.number().int(),
  step: z.number().int(),
  sample: SampleRecordSchema.nullable(),
  /** Set when this checkpoint cannot be sampled with these settings (npr-* / sn-* without a head on it). */
  skipped: z.string().nullable(),
});
export type StripColumn = z.infer<typeof StripColumnSchema>;

export const StripPlanSchema = z.object({ columns: z.array(StripColumnSchema) });
export type StripPlan = z.infer<typeof StripPlanSchema>;

/** What a finished strip job returns: the strip PNG and its sidecar, every column, and the steps sampled now. */
export const StripResultSchema = z.object({
  path: z.string(),
  sidecar: z.string(),
  columns: z.array(StripColumnSchema),
  sampled: z.array(z.number().int()),
});
export type StripResult = z.infer<typeof StripResultSchema>;

/** The contract's strip channels (spread into INVOKE). */
export const STRIP_INVOKE = {
  /** The strip's columns from the store alone (no engine): which checkpoints already have one, at once. */
  'samples.stripPlan': {
    req: z.object({ runId: z.number().int().positive(), settings: StripSettingsSchema }),
    res: StripPlanSchema,
  },
  /** Samples the columns still missing, then writes the strip PNG; progress, cancel, StripResult as job.done. */
  'samples.strip': {
    req: z.object({ runId: z.number().int().positive(), settings: StripSettingsSchema }),
    res: z.object({ jobId: z.string() }),
  },
} as const;
