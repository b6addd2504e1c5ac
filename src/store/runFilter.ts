/** A RunFilter as a WHERE clause over `runs r`, with its parameters in order. */
import type { RunFilter } from '../shared/records';
import { columnSql, conditionSql } from './runColumnsSql';

export function runFilterSql(f: RunFilter): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.status?.length) {
    where.push(`r.status IN (${f.status.map(() => '?').join(',')})`);
    params.push(...f.status);
  }
  for (const tag of f.tags ?? []) {
    where.push('EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.tag = ?)');
    params.push(tag);
  }
  const equal: [string, unknown][] = [
    ['r.dataset_id', f.datasetId],
    ['r.k', f.k],
    ['r.lambda', f.lambda],
    ['r.T', f.T],
    ['r.kind', f.kind],
    ['r.parent_id', f.parentId],
  ];
  for (const [column, value] of equal) {
    if (value === undefined) continue;
    where.push(`${column} = ?`);
    params.push(value);
  }
  if (f.sweepId !== undefined) {
    where.push('EXISTS (SELECT 1 FROM sweep_cells c WHERE c.run_id = r.id AND c.sweep_id = ?)');
    params.push(f.sweepId);
  }
  if (f.text?.trim()) {
    const like = `%${f.text.trim().replace(/[\\%_]/g, (c) => '\\' + c)}%`;
    where.push(
      `(r.name LIKE ? ESCAPE '\\' OR r.notes LIKE ? ESCAPE '\\' OR r.dataset LIKE ? ESCAPE '\\' ` +
        `OR r.preset LIKE ? ESCAPE '\\'
        OR EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.tag LIKE ? ESCAPE '\\'))`,
    );
    params.push(like, like, like, like, like);
  }
  for (const c of f.where ?? []) {
    const cond = conditionSql(c);
    where.push(cond.sql);
    params.push(...cond.params);
  }
  return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

/** The ORDER BY of a filter: its sort column (runs without a value last either way), then newest first. */
export function runOrderSql(f: RunFilter): { sql: string; params: unknown[] } {
  if (!f.sort) return { sql: 'ORDER BY r.id DESC', params: [] };
  const col = columnSql(f.sort.key);
  const dir = f.sort.dir === 'asc' ? 'ASC' : 'DESC';
  return { sql: `ORDER BY ${col.sql} ${dir} NULLS LAST, r.id DESC`, params: col.params };
}
