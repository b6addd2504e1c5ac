/**
 * The experiment table's columns in the renderer (issue 15): which columns it offers, a run's value in each, how
 * a cell and a group's mean ± std read, and the filter a user types under a header, turned into a store condition.
 * The store sorts, filters, pages and groups (src/store/runColumnsSql.ts); the keys come from src/shared/runColumns.ts.
 */
import type { RunRecord } from '../../shared/records';
import {
  RUN_COLUMNS,
  RUN_COLUMN_KEYS,
  evalColumnKey,
  isNumericColumn,
  parseEvalColumn,
  type RunColumnKey,
  type RunCondition,
  type RunSortKey,
} from '../../shared/runColumns';
import { METRIC_LABELS } from './evaluation';
import { fmtDuration, fmtNum } from './format';

/** Evaluation results offered as columns: Inception features, as published numbers are. */
export const EVAL_COLUMNS: RunSortKey[] = ['fid', 'kid', 'is', 'precision', 'recall'].map((m) =>
  evalColumnKey(m, 'inception'),
);
export const TABLE_COLUMNS: RunSortKey[] = [...RUN_COLUMN_KEYS, ...EVAL_COLUMNS];

export const DEFAULT_COLUMNS: RunSortKey[] = [
  'id',
  'name',
  'status',
  'dataset',
  'k',
  'lambda',
  'tau',
  'T',
  'lr',
  'batch',
  'seed',
  'step',
  'loss',
  'gap',
  'ips',
  'duration',
  'tags',
];

export function columnLabel(key: RunSortKey): string {
  const ev = parseEvalColumn(key);
  if (ev) return METRIC_LABELS[ev.metric] ?? ev.metric;
  return RUN_COLUMNS[key as RunColumnKey].label;
}

export function columnHelp(key: RunSortKey): string {
  const ev = parseEvalColumn(key);
  if (ev) return `latest ${columnLabel(key)} (${ev.featureSpace} features)`;
  const c = RUN_COLUMNS[key as RunColumnKey];
  return c.unit ? `${c.help} (${c.unit})` : c.help;
}

/** Result columns (and evaluation metrics) a group shows as mean ± std. */
export function isResultColumn(key: RunSortKey): boolean {
  return parseEvalColumn(key) !== null || RUN_COLUMNS[key as RunColumnKey].group === 'result';
}

/** A run's value in a column, as the store compares it (null: no value). */
export function cellValue(r: RunRecord, key: RunSortKey): number | string | null {
  const ev = parseEvalColumn(key);
  if (ev)
    return r.latestEvals?.find((e) => e.metric === ev.metric && e.featureSpace === ev.featureSpace)?.value ?? null;
  const s = r.summary;
  switch (key as RunColumnKey) {
    case 'id':
      return r.id;
    case 'name':
      return r.name;
    case 'status':
      return r.status;
    case 'kind':
      return r.kind;
    case 'created':
      return r.createdAt;
    case 'tags':
      return r.tags.join(', ');
    case 'dataset':
      return r.dataset;
    case 'preset':
      return r.preset;
    case 'k':
      return r.k;
    case 'lambda':
      return r.lambda;
    case 'tau':
      return r.config.tau ?? null;
    case 'T':
      return r.T;
    case 'schedule':
      return r.config.schedule ?? null;
    case 'batch':
      return r.config.batch ?? null;
    case 'lr':
      return r.config.lr ?? null;
    case 'steps':
      return r.totalSteps;
    case 'seed':
      return r.seed;
    case 'step':
      return r.step;
    case 'loss':
      return r.lastLoss;
    case 'simple':
      return s?.lastSimple ?? null;
    case 'sa':
      return s?.lastSa ?? null;
    case 'gap':
      return s?.finalGap ?? null;
    case 'ips':
      return s?.imagesPerSec ?? null;
    case 'duration':
      return s?.durationSec ?? null;
  }
  return null;
}

/** A value as its cell shows it. */
export function fmtCell(key: RunSortKey, v: number | string | null): string {
  if (v === null || v === '') return '—';
  if (typeof v === 'string') return key === 'created' ? v.slice(0, 16).replace('T', ' ') : v;
  if (key === 'duration') return fmtDuration(v);
  if (key === 'id' || key === 'step' || key === 'steps' || key === 'seed' || key === 'batch' || key === 'T') {
    return String(v);
  }
  return fmtNum(v, 4);
}

/** A group's statistic: "1.23 ± 0.05" (n runs with a value), "1.23" for one run, "—" for none. */
export function fmtStat(
  key: RunSortKey,
  st: { mean: number | null; std: number | null; n: number } | undefined,
): string {
  if (!st || st.mean === null || st.n === 0) return '—';
  const mean = fmtCell(key, st.mean);
  return st.std === null ? mean : `${mean} ± ${fmtCell(key === 'duration' ? key : 'loss', st.std)}`;
}

const OPS: [string, RunCondition['op']][] = [
  ['>=', 'ge'],
  ['<=', 'le'],
  ['!=', 'ne'],
  ['>', 'gt'],
  ['<', 'lt'],
  ['=', 'eq'],
];

/**
 * A filter typed under a header as a store condition: numbers take `>0.5`, `<= 1e-3`, `!=0`, `=2` or a bare
 * number (equal), or a list `0, 0.5` (any of them); text columns match a part of the value (`cifar`), or exactly
 * with `=completed`. Empty: no condition. An error names the column and what was expected.
 */
/** Values an 'in' condition may list (RunConditionSchema's bound). */
const MAX_LIST = 200;

export function parseFilter(key: RunSortKey, text: string): { cond: RunCondition | null; error: string | null } {
  const t = text.trim();
  if (!t) return { cond: null, error: null };
  if (!isNumericColumn(key)) {
    if (t.startsWith('=')) return { cond: { key, op: 'eq', value: t.slice(1).trim() }, error: null };
    return { cond: { key, op: 'contains', value: t }, error: null };
  }
  const bad = (what: string) => ({
    cond: null,
    error: `${columnLabel(key)}: '${what}' is not a number (try >0.5, <=1e-3, !=0, 2, or a list 0, 0.5)`,
  });
  const num = (s: string) => (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s.trim()) ? Number(s) : NaN);
  if (t.includes(',')) {
    const parts = t
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    // The store takes a list of 1 to MAX_LIST values.
    if (parts.length === 0 || parts.length > MAX_LIST) {
      return { cond: null, error: `${columnLabel(key)}: a list takes 1 to ${MAX_LIST} numbers, got ${parts.length}` };
    }
    const values = parts.map(num);
    const i = values.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) return bad(parts[i]!);
    return { cond: { key, op: 'in', value: values }, error: null };
  }
  const [sym, op] = OPS.find(([s]) => t.startsWith(s)) ?? ['', 'eq' as const];
  const rest = t.slice(sym.length).trim();
  const v = num(rest);
  if (!Number.isFinite(v)) return bad(rest || t);
  return { cond: { key, op, value: v }, error: null };
}
