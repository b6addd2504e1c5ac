/**
 * The columns of the experiment table (issue 15): what a run can be sorted, filtered and grouped by. The store
 * maps each key to SQL (src/store/runColumnsSql.ts), the renderer to a cell; both take the keys from here, so
 * a request can only name a column the store knows. Evaluation metrics are columns too:
 * `eval:<metric>:<featureSpace>`, the run's latest result of that metric (RunRecord.latestEvals).
 */
import { z } from 'zod';

export interface RunColumnInfo {
  /** Header text. */
  label: string;
  /** hyper: a hyperparameter of the config; result: what training measured; run: the run itself. */
  group: 'run' | 'hyper' | 'result';
  type: 'number' | 'text';
  /** Unit for headers and tooltips ('' when none). */
  unit: string;
  /** What the column holds, for the header's tooltip. */
  help: string;
}

export const RUN_COLUMNS = {
  id: { label: '#', group: 'run', type: 'number', unit: '', help: 'run id' },
  name: { label: 'Run', group: 'run', type: 'text', unit: '', help: 'run name' },
  status: { label: 'Status', group: 'run', type: 'text', unit: '', help: 'queued, running, completed, …' },
  kind: { label: 'Kind', group: 'run', type: 'text', unit: '', help: 'train, or cov (a covariance head)' },
  created: { label: 'Created', group: 'run', type: 'text', unit: '', help: 'when the run was created' },
  tags: { label: 'Tags', group: 'run', type: 'text', unit: '', help: 'tags (filter: a tag contains the text)' },
  dataset: { label: 'Dataset', group: 'hyper', type: 'text', unit: '', help: 'training dataset' },
  preset: { label: 'Model', group: 'hyper', type: 'text', unit: '', help: 'model size preset' },
  k: { label: 'K', group: 'hyper', type: 'number', unit: '', help: 'SA window K (1 = plain DDPM)' },
  lambda: { label: 'λ', group: 'hyper', type: 'number', unit: '', help: 'weight of L_sa (0 = plain DDPM)' },
  tau: { label: 'τ', group: 'hyper', type: 'text', unit: '', help: 'τ variant: official, paper or normalized' },
  T: { label: 'T', group: 'hyper', type: 'number', unit: '', help: 'diffusion steps' },
  schedule: { label: 'Schedule', group: 'hyper', type: 'text', unit: '', help: 'β schedule' },
  batch: { label: 'Batch', group: 'hyper', type: 'number', unit: '', help: 'images per step' },
  lr: { label: 'lr', group: 'hyper', type: 'number', unit: '', help: 'learning rate' },
  steps: { label: 'Steps', group: 'hyper', type: 'number', unit: '', help: 'training steps asked for' },
  seed: { label: 'Seed', group: 'hyper', type: 'number', unit: '', help: 'run seed' },
  step: { label: 'Step', group: 'result', type: 'number', unit: '', help: 'steps trained so far' },
  loss: { label: 'Loss', group: 'result', type: 'number', unit: '', help: 'last logged L = L_simple + λ·L_sa' },
  simple: { label: 'L_simple', group: 'result', type: 'number', unit: '', help: 'last logged L_simple' },
  sa: { label: 'L_sa', group: 'result', type: 'number', unit: '', help: 'last logged L_sa' },
  gap: {
    label: 'Gap |D|',
    group: 'result',
    type: 'number',
    unit: '',
    help: 'final mean |D| of the latest estimation-gap curve (at t = 1)',
  },
  ips: { label: 'img/s', group: 'result', type: 'number', unit: 'images/s', help: 'last logged training throughput' },
  duration: {
    label: 'Duration',
    group: 'result',
    type: 'number',
    unit: 's',
    help: 'wall time from the first start to the end (or now, while running)',
  },
} as const satisfies Record<string, RunColumnInfo>;

export type RunColumnKey = keyof typeof RUN_COLUMNS;
export const RUN_COLUMN_KEYS = Object.keys(RUN_COLUMNS) as RunColumnKey[];

/** An evaluation metric's column: `eval:fid:inception`. */
// records.ts imports this module, so its FEATURE_SPACES cannot be imported here; the SQL takes the space as a value.
export const EVAL_COLUMN = /^eval:([A-Za-z0-9_.-]{1,40}):([a-z]{1,20})$/;
export type EvalColumnKey = `eval:${string}:${string}`;
export type RunSortKey = RunColumnKey | EvalColumnKey;

export function isRunSortKey(key: string): key is RunSortKey {
  return Object.hasOwn(RUN_COLUMNS, key) || EVAL_COLUMN.test(key);
}

export function evalColumnKey(metric: string, featureSpace: string): EvalColumnKey {
  return `eval:${metric}:${featureSpace}`;
}

/** A column's metric and feature space, or null for a plain column. */
export function parseEvalColumn(key: string): { metric: string; featureSpace: string } | null {
  const m = EVAL_COLUMN.exec(key);
  return m ? { metric: m[1]!, featureSpace: m[2]! } : null;
}

/** Whether a column holds numbers (evaluation metrics always do). */
export function isNumericColumn(key: string): boolean {
  if (parseEvalColumn(key)) return true;
  return Object.hasOwn(RUN_COLUMNS, key) && RUN_COLUMNS[key as RunColumnKey].type === 'number';
}

export const RunSortKeySchema = z.string().refine(isRunSortKey, {
  message: `expected a run column (${RUN_COLUMN_KEYS.join(', ')}) or eval:<metric>:<feature space>`,
});

export const RUN_CONDITION_OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'in', 'contains'] as const;
export type RunConditionOp = (typeof RUN_CONDITION_OPS)[number];

const Scalar = z.union([z.number(), z.string().max(200)]);

/** One condition on one column: `lambda ge 0.5`, `status in [completed, failed]`, `name contains sweep`. */
export const RunConditionSchema = z.object({
  key: RunSortKeySchema,
  op: z.enum(RUN_CONDITION_OPS),
  value: z.union([Scalar, z.array(Scalar).min(1).max(200)]),
});
export type RunCondition = z.infer<typeof RunConditionSchema>;

export const RunSortSchema = z.object({ key: RunSortKeySchema, dir: z.enum(['asc', 'desc']) });
export type RunSort = z.infer<typeof RunSortSchema>;

/** One group of the experiment table's "group by": the runs sharing a value, and mean ± std of result columns. */
export const RunGroupSchema = z.object({
  value: z.union([z.number(), z.string(), z.null()]),
  count: z.number().int(),
  /** Per requested column: mean and sample standard deviation over the group's runs that have a value. */
  stats: z.record(
    z.string(),
    z.object({ mean: z.number().nullable(), std: z.number().nullable(), n: z.number().int() }),
  ),
});
export type RunGroup = z.infer<typeof RunGroupSchema>;

/**
 * How many runs there are by status and kind, and the tags in use with their run counts (issue 15): what the
 * app shell needs at start (the running count, the filter chips) without listing every run.
 */
export const RunOverviewSchema = z.object({
  total: z.number().int(),
  byStatus: z.record(z.string(), z.number().int()),
  byKind: z.record(z.string(), z.number().int()),
  /** The most used tags first, at most MAX_OVERVIEW_TAGS; `tagsTotal` says how many there are in all. */
  tags: z.array(z.object({ tag: z.string(), count: z.number().int() })),
  tagsTotal: z.number().int(),
});
export type RunOverview = z.infer<typeof RunOverviewSchema>;
export const MAX_OVERVIEW_TAGS = 200;
