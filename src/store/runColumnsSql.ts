/**
 * The experiment table's columns (src/shared/runColumns.ts) as SQL over `runs r`, for sorting, conditions and
 * grouping. Only these expressions reach the SQL text; every value a request carries is a bound parameter.
 */
import { parseEvalColumn, RUN_COLUMNS, type RunColumnKey, type RunCondition } from '../shared/runColumns';
import { FieldError } from '../shared/errors';

/** SQL now as the ISO text the store writes (created_at, started_at, ...). */
const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

export const RUN_COLUMN_SQL: Record<RunColumnKey, string> = {
  id: 'r.id',
  name: 'r.name',
  status: 'r.status',
  kind: 'r.kind',
  created: 'r.created_at',
  tags: `(SELECT group_concat(tag, ', ') FROM (SELECT tag FROM run_tags t WHERE t.run_id = r.id ORDER BY tag))`,
  dataset: 'r.dataset',
  preset: 'r.preset',
  k: 'r.k',
  lambda: 'r.lambda',
  // Config fields the runs table keeps as columns (set from the config on create and update): sorting 10,000 runs
  // by them reads no JSON.
  tau: 'r.cfg_tau',
  T: 'r.T',
  schedule: 'r.cfg_schedule',
  batch: 'r.cfg_batch',
  lr: 'r.cfg_lr',
  steps: 'r.total_steps',
  seed: 'r.seed',
  step: 'r.step',
  loss: 'r.last_loss',
  simple: 'r.last_simple',
  sa: 'r.last_sa',
  gap: 'r.final_gap',
  ips: 'r.last_ips',
  duration: `(CASE WHEN r.started_at IS NULL THEN NULL ELSE
    (julianday(COALESCE(r.ended_at, ${NOW})) - julianday(r.started_at)) * 86400.0 END)`,
};

/** A column as an SQL expression and the parameters it binds (an evaluation metric's name and space). */
export function columnSql(key: string): { sql: string; params: unknown[] } {
  const ev = parseEvalColumn(key);
  if (ev) {
    return {
      sql: `(SELECT e.value FROM eval_results e WHERE e.run_id = r.id AND e.metric = ? AND e.feature_space = ?
        ORDER BY e.created_at DESC, e.id DESC LIMIT 1)`,
      params: [ev.metric, ev.featureSpace],
    };
  }
  if (!Object.hasOwn(RUN_COLUMN_SQL, key)) throw new FieldError('key', 'not a column of the runs table', key);
  return { sql: RUN_COLUMN_SQL[key as RunColumnKey], params: [] };
}

const COMPARE = { eq: '=', ne: '<>', lt: '<', le: '<=', gt: '>', ge: '>=' } as const;

function typed(key: string, v: unknown): unknown {
  const numeric = parseEvalColumn(key) !== null || RUN_COLUMNS[key as RunColumnKey]?.type === 'number';
  if (!numeric) return String(v);
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) throw new FieldError(`where.${key}`, 'expected a number', String(v));
  return n;
}

/** One condition as SQL with its parameters. `tags contains x`: some tag contains x. */
export function conditionSql(c: RunCondition): { sql: string; params: unknown[] } {
  const values = Array.isArray(c.value) ? c.value : [c.value];
  if (c.op !== 'in' && values.length !== 1) {
    throw new FieldError(`where.${c.key}`, `'${c.op}' takes one value`, JSON.stringify(c.value));
  }
  if (c.key === 'tags') {
    const like = c.op === 'contains' ? `%${escapeLike(String(values[0]))}%` : String(values[0]);
    const op = c.op === 'contains' ? "LIKE ? ESCAPE '\\'" : '= ?';
    if (c.op !== 'contains' && c.op !== 'eq' && c.op !== 'ne' && c.op !== 'in') {
      throw new FieldError('where.tags', 'tags take eq, ne, in or contains', c.op);
    }
    if (c.op === 'in') {
      return {
        sql: `EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.tag IN (${values.map(() => '?').join(',')}))`,
        params: values.map(String),
      };
    }
    const exists = `EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.tag ${op})`;
    return { sql: c.op === 'ne' ? `NOT ${exists}` : exists, params: [like] };
  }
  const col = columnSql(c.key);
  if (c.op === 'contains') {
    return {
      sql: `CAST(${col.sql} AS TEXT) LIKE ? ESCAPE '\\'`,
      params: [...col.params, `%${escapeLike(String(values[0]))}%`],
    };
  }
  if (c.op === 'in') {
    return {
      sql: `${col.sql} IN (${values.map(() => '?').join(',')})`,
      params: [...col.params, ...values.map((v) => typed(c.key, v))],
    };
  }
  return { sql: `${col.sql} ${COMPARE[c.op]} ?`, params: [...col.params, typed(c.key, values[0])] };
}

export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (ch) => '\\' + ch);
}
