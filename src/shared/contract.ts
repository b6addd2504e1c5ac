/**
 * The one contract between the renderer and the main-side services: invoke channels (request →
 * response) and events (main → renderer), each with a zod schema. Electron's preload exposes one
 * function per channel; web mode carries the same map over a WebSocket. Main validates every
 * request before a handler sees it.
 */
import { z } from 'zod';
import { HostMessageSchema, ImportJobSchema } from './engineMessages';
import {
  CheckpointRecordSchema,
  DatasetRecordSchema,
  GammaRecordSchema,
  GapRecordSchema,
  RetentionPolicySchema,
  RunFilterSchema,
  RunRecordSchema,
  SampleRecordSchema,
  SeriesSchema,
} from './records';
import { RunGroupSchema, RunOverviewSchema, RunSortKeySchema } from './runColumns';
import { EvalCurveSchema, EvalResultSchema } from './records';
import {
  AppSettingsSchema,
  EvalCurvesRequestSchema,
  EvalOutcomeSchema,
  EvalStartSchema,
  SettingsViewSchema,
  StudyReportRequestSchema,
  StudyReportSchema,
  StudyRequestSchema,
  StudySchema,
} from './evaluation';
import { RunConfigSchema, SPACINGS, unknownConfigFields, type RunConfigInput } from './config';
import { COV_HEAD_KINDS } from './covConfig';
import { GammaEstimateSchema } from './gammaEstimate';
import { SweepDetailSchema, SweepRecordSchema, SweepRequestSchema } from './sweep';
import { STRIP_INVOKE, StripResultSchema } from './strip'; // issue 12/15
import { GridExportResultSchema, GridExportSchema, ImportOutcomeSchema, SampleSettingsSchema } from './jobOutcomes';

const Id = z.number().int().positive();
const Empty = z.object({}).strict();
const Ok = z.object({ ok: z.literal(true) });
const JobStarted = z.object({ jobId: z.string() });

/**
 * A partial run config as a form or a request sets it: an object whose keys are config fields (the preset and the
 * defaults fill the rest; the values are checked when the config is resolved). Unknown keys are refused here,
 * with the nearest field name, so a typo never trains with a default.
 */
export const RunConfigPatchSchema = z
  .custom<Partial<RunConfigInput>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
    message: 'expected an object of run config fields',
  })
  .superRefine((v, ctx) => {
    for (const i of unknownConfigFields(v as Record<string, unknown>))
      ctx.addIssue({ code: 'custom', path: [i.field], message: i.message });
  });

// Issue 13: a variance sampler's options (moved to sampleVariance.ts, which evaluation.ts shares).
export { SampleVarianceSchema, type SampleVariance } from './sampleVariance';
export * from './jobOutcomes';

/**
 * Long actions (jobs): each kind's result, sent with job.done. The renderer validates a result against its
 * kind's schema instead of guessing its shape.
 */
export const JOB_RESULTS = {
  import: ImportOutcomeSchema,
  sample: SampleRecordSchema,
  filmstrip: SampleRecordSchema,
  export: GridExportResultSchema,
  gap: GapRecordSchema,
  // issue 12
  eval: EvalOutcomeSchema,
  study: StudyReportSchema,
  // Issue 13: a Γ estimate, and whether it came from the cache.
  gamma: GammaEstimateSchema.extend({ cached: z.boolean() }),
  strip: StripResultSchema, // issue 12/15
} as const;
export type JobKind = keyof typeof JOB_RESULTS;
export const JOB_KINDS = Object.keys(JOB_RESULTS) as JobKind[];
export type JobResult<K extends JobKind> = z.infer<(typeof JOB_RESULTS)[K]>;

export const RunDetailSchema = z.object({
  run: RunRecordSchema,
  checkpoints: z.array(CheckpointRecordSchema),
  samples: z.array(SampleRecordSchema),
  metricNames: z.array(z.string()),
  disk: z.object({ total: z.number(), checkpoints: z.number(), samples: z.number(), other: z.number() }),
  retention: RetentionPolicySchema.nullable(),
  active: z.boolean(),
  queuePosition: z.number().int().nullable(),
});
export type RunDetail = z.infer<typeof RunDetailSchema>;

export const EstimateSchema = z.object({
  params: z.number().int(),
  /** Bytes of weights, gradients, Adam moments and EMA (float32). */
  stateBytes: z.number(),
  /** A rough activation estimate for one training step at this batch and K. */
  activationBytes: z.number(),
  /** Median ms/step of earlier runs with the same model, batch, K and backend, when there are any. */
  msPerStep: z.number().nullable(),
  basis: z.string(),
});
export type Estimate = z.infer<typeof EstimateSchema>;

export const AppInfoSchema = z.object({
  version: z.string(),
  mode: z.enum(['electron', 'web']),
  dataDir: z.string(),
  concurrency: z.number().int(),
  builtinDatasets: z.array(z.object({ id: z.string(), description: z.string(), size: z.number().int() })),
});

function channel<Req extends z.ZodType, Res extends z.ZodType>(req: Req, res: Res) {
  return { req, res };
}

/** Bytes per upload chunk the renderer sends, and the most base64 characters one chunk may carry. */
export const UPLOAD_CHUNK_BYTES = 4 * 2 ** 20;
export const UPLOAD_CHUNK_BASE64_MAX = 16 * 2 ** 20;
/** Most files one folder upload may hold (issue 15). */
export const MAX_FOLDER_FILES = 500_000;

export const INVOKE = {
  'app.info': channel(Empty, AppInfoSchema),
  /** How many runs train at once (1 = runs wait their turn on one GPU). */
  'app.setConcurrency': channel(z.object({ concurrency: z.number().int().min(1).max(16) }), AppInfoSchema),
  'datasets.list': channel(Empty, z.array(DatasetRecordSchema)),
  /** Starts an import job; progress and the ImportOutcome arrive as job events. */
  'datasets.import': channel(
    ImportJobSchema.omit({ out: true, previewPath: true }).extend({ name: z.string().max(200).optional() }),
    JobStarted,
  ),
  'datasets.delete': channel(z.object({ id: Id }), Ok),
  /**
   * Web mode: a file the user picked goes to the data folder's uploads in chunks (begin with its size,
   * chunks in order, end), so large datasets need no single huge message and can show progress.
   */
  'files.uploadBegin': channel(
    z.object({
      fileName: z.string().min(1).max(255),
      bytes: z
        .number()
        .int()
        .min(0)
        .max(64 * 2 ** 30),
    }),
    z.object({ uploadId: z.string() }),
  ),
  'files.uploadChunk': channel(
    z.object({
      uploadId: z.string().min(1).max(64),
      offset: z.number().int().min(0),
      base64: z.string().max(UPLOAD_CHUNK_BASE64_MAX),
    }),
    z.object({ received: z.number().int() }),
  ),
  /** Completes an upload (every byte sent) and returns the file's path; `abort: true` discards it instead. */
  'files.uploadEnd': channel(
    z.object({ uploadId: z.string().min(1).max(64), abort: z.boolean().default(false) }),
    z.object({ path: z.string().nullable() }),
  ),
  'jobs.cancel': channel(z.object({ jobId: z.string() }), Ok),
  'runs.list': channel(RunFilterSchema, z.object({ runs: z.array(RunRecordSchema), total: z.number().int() })),
  'runs.get': channel(z.object({ id: Id }), RunDetailSchema),
  'runs.create': channel(
    z.object({
      config: RunConfigPatchSchema,
      tags: z.array(z.string().min(1).max(60)).max(50).default([]),
      notes: z.string().max(10_000).default(''),
      retention: RetentionPolicySchema.optional(),
      start: z.boolean().default(true),
    }),
    RunRecordSchema,
  ),
  /** Checks a config without creating a run: field errors, the resolved config, and an estimate. */
  'runs.validate': channel(
    z.object({ config: z.record(z.string(), z.unknown()) }),
    z.object({
      ok: z.boolean(),
      errors: z.array(z.object({ field: z.string(), message: z.string() })),
      config: RunConfigSchema.nullable(),
      estimate: EstimateSchema.nullable(),
    }),
  ),
  'runs.start': channel(z.object({ id: Id }), RunRecordSchema),
  'runs.resume': channel(z.object({ id: Id, steps: z.number().int().positive().optional() }), RunRecordSchema),
  'runs.pause': channel(z.object({ id: Id }), RunRecordSchema),
  'runs.stop': channel(z.object({ id: Id }), RunRecordSchema),
  'runs.update': channel(
    z.object({
      id: Id,
      name: z.string().min(1).max(200).optional(),
      notes: z.string().max(10_000).optional(),
      tags: z.array(z.string().min(1).max(60)).max(50).optional(),
    }),
    RunRecordSchema,
  ),
  'runs.delete': channel(z.object({ id: Id, deleteFiles: z.boolean() }), Ok),
  'metrics.series': channel(
    z.object({
      runId: Id,
      names: z.array(z.string()).min(1).max(20),
      maxPoints: z.number().int().min(10).max(100_000).default(2000),
    }),
    z.array(SeriesSchema),
  ),
  'metrics.overlay': channel(
    z.object({
      runIds: z.array(Id).min(1).max(50),
      name: z.string(),
      maxPoints: z.number().int().min(10).max(100_000).default(2000),
    }),
    z.array(z.object({ runId: z.number().int(), series: SeriesSchema })),
  ),
  'gap.list': channel(z.object({ runId: Id }), z.array(GapRecordSchema)),
  /** Measures the estimation gap of a checkpoint on its run's held-out images; the GapRecord arrives as job.done. */
  'gap.measure': channel(
    z.object({
      checkpointId: Id,
      ema: z.boolean().default(false),
      t0: z.number().int().min(1).max(100_000).optional(),
    }),
    JobStarted,
  ),
  'samples.list': channel(z.object({ runId: Id }), z.array(SampleRecordSchema)),
  /** Samples a grid from a checkpoint; progress and the SampleRecord arrive as job events. */
  'samples.generate': channel(z.object({ checkpointId: Id, settings: SampleSettingsSchema }), JobStarted),
  /** A denoising filmstrip of one seed: x_t at evenly spaced steps of the chain, as one PNG. */
  'samples.filmstrip': channel(
    z.object({
      checkpointId: Id,
      settings: SampleSettingsSchema.omit({ n: true }),
      frames: z.number().int().min(2).max(20),
      x0: z.boolean().default(false),
    }),
    JobStarted,
  ),
  'export.grid': channel(GridExportSchema, JobStarted),
  'export.metrics': channel(
    z.object({ runId: Id, format: z.enum(['csv', 'json']) }),
    z.object({ path: z.string(), bytes: z.number() }),
  ),
  /** Electron only: a native file or folder picker. Web mode answers 'invalid' (type the path instead). */
  'dialog.pick': channel(
    z.object({ kind: z.enum(['file', 'folder']), title: z.string().max(200).optional() }),
    z.object({ path: z.string().nullable() }),
  ),
  'export.bundle': channel(
    z.object({ runId: Id, checkpoints: z.enum(['latest', 'all', 'none']) }),
    z.object({ path: z.string(), bytes: z.number() }),
  ),
  // issue 15: the experiment table's groups, charts over a step range (zoom), and folder uploads.
  /** Runs matching a filter grouped by one column, with mean ± std of `columns` per group. */
  'runs.groups': channel(
    z.object({
      filter: RunFilterSchema.omit({ sort: true, limit: true, offset: true, withEvals: true }).default({}),
      by: RunSortKeySchema,
      columns: z.array(RunSortKeySchema).max(20).default([]),
    }),
    z.array(RunGroupSchema),
  ),
  /** Metrics of several runs over a step range (a zoomed chart), each at most maxPoints from the store's summary. */
  'metrics.window': channel(
    z.object({
      runIds: z.array(Id).min(1).max(50),
      names: z.array(z.string().min(1).max(100)).min(1).max(20),
      from: z.number().optional(),
      to: z.number().optional(),
      maxPoints: z.number().int().min(10).max(100_000).default(2000),
    }),
    z.array(z.object({ runId: z.number().int(), series: SeriesSchema })),
  ),
  /**
   * Web mode: a folder the user picked (its files under their relative paths, class subfolders kept) goes to
   * <data>/uploads/<name> file by file, each in chunks; the folder appears under its name only once complete.
   */
  'files.folderBegin': channel(
    z.object({
      name: z.string().min(1).max(255),
      files: z.number().int().min(1).max(MAX_FOLDER_FILES),
      bytes: z
        .number()
        .int()
        .min(0)
        .max(64 * 2 ** 30),
    }),
    z.object({ folderId: z.string() }),
  ),
  /** A chunk of one file of the folder: files one after another, each from offset 0; `final` closes the file. */
  'files.folderChunk': channel(
    z.object({
      folderId: z.string().min(1).max(64),
      relPath: z.string().min(1).max(1024),
      offset: z.number().int().min(0),
      base64: z.string().max(UPLOAD_CHUNK_BASE64_MAX),
      final: z.boolean(),
    }),
    z.object({ received: z.number().int() }),
  ),
  'files.folderEnd': channel(
    z.object({ folderId: z.string().min(1).max(64), abort: z.boolean().default(false) }),
    z.object({ path: z.string().nullable() }),
  ),
  // issue 12: evaluation (FID, KID, IS, precision/recall), the SA-vs-baseline study, and settings
  /** Evaluates a checkpoint at several sampling-step counts; progress in images, the EvalOutcome as job.done. */
  'eval.start': channel(EvalStartSchema, JobStarted),
  'eval.list': channel(z.object({ runId: Id }), z.array(EvalResultSchema)),
  /** A metric against sampling steps, one line per run and setup (each run's latest checkpoint by default). */
  'eval.curves': channel(EvalCurvesRequestSchema, z.array(EvalCurveSchema)),
  /** A study from the store (no engine): what differs, the gap curves and ratio, the metric curves. */
  'study.get': channel(StudyRequestSchema, StudySchema),
  /** Measures / evaluates what is missing when asked, then writes the report folder; StudyReport as job.done. */
  'study.report': channel(StudyReportRequestSchema, JobStarted),
  'settings.get': channel(Empty, SettingsViewSchema),
  'settings.set': channel(AppSettingsSchema.partial().strict(), SettingsViewSchema),
  // Issue 13: covariance-head runs and Γ estimates.
  /**
   * Creates a covariance run (an NPR or SN head trained on the frozen network of one checkpoint and its weights),
   * a child of the checkpoint's run; `start` queues it like any run.
   */
  'runs.createCov': channel(
    z.object({
      checkpointId: Id,
      ema: z.boolean(),
      kind: z.enum(COV_HEAD_KINDS),
      steps: z.number().int().positive().max(100_000_000),
      batch: z.number().int().positive().max(4096).optional(),
      lr: z.number().positive().max(1).optional(),
      checkpointEvery: z.number().int().positive().optional(),
      start: z.boolean().default(true),
    }),
    RunRecordSchema,
  ),
  /**
   * Γ of a checkpoint at the union of the trajectories of these step counts (one spacing): the cached estimate
   * when one covers them, else an engine job that caches it. The estimate arrives as job.done (kind 'gamma').
   */
  'gamma.estimate': channel(
    z.object({
      checkpointId: Id,
      ema: z.boolean(),
      steps: z.array(z.number().int().min(1).max(100_000)).min(1).max(50),
      spacing: z.enum(SPACINGS),
      nImages: z.number().int().positive().optional(),
      seed: z.number().int().nonnegative().optional(),
    }),
    JobStarted,
  ),
  'gamma.list': channel(z.object({ runId: Id }), z.array(GammaRecordSchema)),
  // issue 16: sweeps (K × λ × seeds) on the local queue or a Slurm cluster. A run on Slurm is paused, stopped,
  // resumed and deleted through the runs.* channels like any run (scancel, sbatch again).
  /** Creates one run per cell and sends them to the executor; the grid comes back (cells follow as run.updated). */
  'sweeps.create': channel(SweepRequestSchema, SweepDetailSchema),
  'sweeps.list': channel(
    Empty,
    z.array(
      z.object({ sweep: SweepRecordSchema, counts: z.record(z.string(), z.number().int()), cells: z.number().int() }),
    ),
  ),
  'sweeps.get': channel(z.object({ id: Id }), SweepDetailSchema),
  /** Cancels every cell still in Slurm (scancel; each checkpoints first), or stops the local cells. */
  'sweeps.cancel': channel(z.object({ id: Id }), SweepDetailSchema),
  ...STRIP_INVOKE, // issue 12/15: one fixed noise at every checkpoint, a strip over training
  // issue 15: the shell's start: runs by status and kind, and the tags in use, without listing the runs.
  'runs.overview': channel(Empty, RunOverviewSchema),
} as const;

export type InvokeChannel = keyof typeof INVOKE;
export type InvokeRequest<C extends InvokeChannel> = z.input<(typeof INVOKE)[C]['req']>;
export type InvokeResponse<C extends InvokeChannel> = z.infer<(typeof INVOKE)[C]['res']>;

export const EVENTS = {
  /** Every message of a training run's engine (progress, gap, checkpoint, samples, finished, failed). */
  'run.message': z.object({ runId: z.number().int(), msg: HostMessageSchema }),
  /** A run's record changed (status, step, tags...). */
  'run.updated': RunRecordSchema,
  'job.progress': z.object({ jobId: z.string(), done: z.number().int(), total: z.number().int() }),
  /** A native menu item asks the window to show a view ('datasets', 'new-run', 'runs', 'compare', ...). */
  'app.navigate': z.object({ view: z.string() }),
  /** A job ended: its kind's result (JOB_RESULTS) when ok, else the reason ('cancelled' when it was cancelled). */
  'job.done': z.object({
    jobId: z.string(),
    kind: z.enum(JOB_KINDS as [JobKind, ...JobKind[]]),
    ok: z.boolean(),
    error: z.string().optional(),
    result: z.unknown().optional(),
  }),
} as const;

export type EventName = keyof typeof EVENTS;
export type EventPayload<E extends EventName> = z.infer<(typeof EVENTS)[E]>;

/** What the renderer calls: the same shape in Electron (preload) and web mode (WebSocket). */
export interface Api {
  invoke<C extends InvokeChannel>(channel: C, req: InvokeRequest<C>): Promise<InvokeResponse<C>>;
  on<E extends EventName>(event: E, fn: (payload: EventPayload<E>) => void): () => void;
}

/** Errors cross the boundary as plain text with a code the UI can act on. */
export const ApiErrorSchema = z.object({
  code: z.enum(['invalid', 'not_found', 'conflict', 'failed']),
  message: z.string(),
});
export type ApiError = z.infer<typeof ApiErrorSchema>;

/** Web mode's WebSocket frames. */
export const WsClientFrameSchema = z.object({ id: z.number().int(), channel: z.string(), req: z.unknown() });
export const WsServerFrameSchema = z.union([
  z.object({ id: z.number().int(), ok: z.literal(true), res: z.unknown() }),
  z.object({ id: z.number().int(), ok: z.literal(false), error: ApiErrorSchema }),
  z.object({ event: z.string(), payload: z.unknown() }),
]);
