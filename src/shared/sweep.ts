/**
 * Sweeps (issue 16): a grid of runs over K × λ × seeds that share every other config field, sent to one
 * executor: this machine's run queue ('local') or a Slurm cluster ('slurm', one array job). The grid, the
 * Slurm options and the records the store keeps, as plain data for the CLI, the contract and the renderer.
 */
import { z } from 'zod';
import { RUN_STATUSES } from './records';

export const EXECUTORS = ['local', 'slurm'] as const;
export type ExecutorKind = (typeof EXECUTORS)[number];

/** A cell count past which a sweep is surely a typo (and one sbatch array would be unwieldy). */
export const MAX_SWEEP_CELLS = 1000;

const distinct = <T>(xs: T[]) => new Set(xs).size === xs.length;

export const SweepAxesSchema = z.object({
  k: z.array(z.number().int().min(1)).min(1).max(100).refine(distinct, 'values must differ'),
  lambda: z.array(z.number().min(0).finite()).min(1).max(100).refine(distinct, 'values must differ'),
  seeds: z.array(z.number().int().min(0)).min(1).max(1000).refine(distinct, 'values must differ'),
});
export type SweepAxes = z.infer<typeof SweepAxesSchema>;

export interface SweepCellSpec {
  /** Position in the grid: k varies slowest, then λ, then the seed (the order of `sweepCells`). */
  index: number;
  k: number;
  lambda: number;
  seed: number;
}

/** Every cell of the grid, K outermost and seeds innermost, so one (K, λ) point's seeds sit together. */
export function sweepCells(axes: SweepAxes): SweepCellSpec[] {
  const out: SweepCellSpec[] = [];
  for (const k of axes.k) {
    for (const lambda of axes.lambda) {
      for (const seed of axes.seeds) out.push({ index: out.length, k, lambda, seed });
    }
  }
  return out;
}

/** A cell's run name: the sweep's name and the swept values, e.g. 'lr-test-k2-l0.5-s1'. */
export function cellRunName(sweepName: string, c: Pick<SweepCellSpec, 'k' | 'lambda' | 'seed'>): string {
  return `${sweepName}-k${c.k}-l${c.lambda}-s${c.seed}`;
}

/** `1,2,3` → [1, 2, 3]; the flag or field is named when a value is not a number. */
export function parseAxisList(text: string, what: string, opts: { int?: boolean } = {}): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => p === '')) {
    throw new Error(`${what}: expected comma-separated numbers like 0,0.5,1, got '${text}'`);
  }
  return parts.map((p) => {
    const v = Number(p);
    if (!Number.isFinite(v) || (opts.int && !Number.isInteger(v))) {
      throw new Error(`${what}: '${p}' is not ${opts.int ? 'a whole number' : 'a number'} (in '${text}')`);
    }
    return v;
  });
}

/** Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, or UNLIMITED. */
const TIME = /^(\d+(:\d{1,2}){0,2}|\d+-\d{1,2}(:\d{1,2}){0,2}|UNLIMITED)$/;
const NAME = /^[A-Za-z0-9._-]+$/;

/** Where and how a run or sweep goes to Slurm. No password is ever part of it: ssh uses the user's keys. */
export const SlurmOptionsSchema = z.object({
  partition: z
    .string()
    .regex(/^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$/, 'a partition name')
    .optional(),
  account: z.string().regex(NAME, 'an account name').optional(),
  /** Per task, in Slurm's format (HH:MM:SS, D-HH:MM, ...). */
  time: z.string().regex(TIME, 'a Slurm time such as 02:00:00 or 1-12:00').optional(),
  /** GPUs per task (--gres=gpu:N). */
  gpus: z.number().int().min(0).max(64).optional(),
  gpuType: z.string().regex(NAME, 'a GPU type such as a100').optional(),
  cpusPerTask: z.number().int().min(1).max(1024).optional(),
  memory: z
    .string()
    .regex(/^\d+[KMGT]?$/i, 'a size such as 16G')
    .optional(),
  /** A login node: a host name or an alias of the user's ~/.ssh/config (keys or agent; never a password). */
  ssh: z
    .string()
    .regex(/^[A-Za-z0-9_.@:%[\]+-]+$/, 'a host name or ssh config alias')
    .refine((h) => !h.startsWith('-'))
    .optional(),
  /**
   * The folder on the cluster (shared by its compute nodes) that holds the runs' folders. Required with ssh;
   * without ssh, default: the store's runs folder (which must then be on a filesystem the nodes share).
   */
  remoteDir: z
    .string()
    .min(1)
    .refine((p) => p.startsWith('/') && !/[\n\r\0]/.test(p), 'an absolute path')
    .optional(),
  /** How a compute node starts sadpm, as words, e.g. ['node', '/opt/sa-dpm-studio/bin/sadpm.mjs']. */
  sadpm: z.array(z.string().min(1)).min(1).max(20).optional(),
  /** The cluster's slurm.conf when it is not Slurm's default (SLURM_CONF), on the machine running sbatch. */
  slurmConf: z.string().min(1).optional(),
});
export type SlurmOptions = z.infer<typeof SlurmOptionsSchema>;

export const SweepRequestSchema = z.object({
  name: z
    .string()
    .regex(/^[A-Za-z0-9._+-]{1,60}$/, "1-60 letters, digits or '._+-'")
    .optional(),
  /** The config every cell shares (a partial config: the preset and the defaults fill the rest). */
  base: z.record(z.string(), z.unknown()),
  axes: SweepAxesSchema,
  executor: z.enum(EXECUTORS).default('local'),
  /** At most this many cells train at once (local: the run queue's concurrency; Slurm: the array's %N). */
  maxParallel: z.number().int().min(1).max(1000).optional(),
  slurm: SlurmOptionsSchema.optional(),
  tags: z.array(z.string().min(1).max(60)).max(50).default([]),
});
export type SweepRequest = z.input<typeof SweepRequestSchema>;

export const SweepRecordSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  executor: z.enum(EXECUTORS),
  base: z.record(z.string(), z.unknown()),
  axes: SweepAxesSchema,
  maxParallel: z.number().int().nullable(),
  slurm: SlurmOptionsSchema.nullable(),
  /** The Slurm array job of the cells (null for local sweeps). */
  jobId: z.number().int().nullable(),
  createdAt: z.string(),
});
export type SweepRecord = z.infer<typeof SweepRecordSchema>;

/** One cell as the grid shows it: its run's status, progress and latest results. */
export const SweepCellSchema = z.object({
  index: z.number().int(),
  k: z.number().int(),
  lambda: z.number(),
  seed: z.number().int(),
  /** Null once the run was deleted. */
  runId: z.number().int().nullable(),
  status: z.enum(RUN_STATUSES).nullable(),
  reason: z.string().nullable(),
  step: z.number().int(),
  totalSteps: z.number().int(),
  lastLoss: z.number().nullable(),
  lastCheckpointStep: z.number().int().nullable(),
  /** The Slurm task ("12_3") and state as last polled, for cells sent to Slurm. */
  slurmRef: z.string().nullable(),
  slurmState: z.string().nullable(),
});
export type SweepCell = z.infer<typeof SweepCellSchema>;

export const SweepDetailSchema = z.object({ sweep: SweepRecordSchema, cells: z.array(SweepCellSchema) });
export type SweepDetail = z.infer<typeof SweepDetailSchema>;

/** Counts of cells per status, e.g. for "3 running, 2 queued, 1 completed". */
export function statusCounts(cells: readonly Pick<SweepCell, 'status'>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of cells) {
    const s = c.status ?? 'deleted';
    out[s] = (out[s] ?? 0) + 1;
  }
  return out;
}

/** True when no cell will change by itself any more (every run ended, or was deleted). */
export function sweepSettled(cells: readonly Pick<SweepCell, 'status'>[]): boolean {
  return cells.every((c) => c.status === null || !['queued', 'running'].includes(c.status));
}
