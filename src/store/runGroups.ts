/**
 * The experiment table's "group by" (issue 15): runs matching a filter grouped by one column's value, with the
 * mean and sample standard deviation of result columns per group (e.g. by λ, over seeds). One query.
 */
import type { RunFilter } from '../shared/records';
import type { RunGroup } from '../shared/runColumns';
import type { Row, StoreDb } from './db';
import { columnSql } from './runColumnsSql';
import { runFilterSql } from './runFilter';

export function runGroups(sql: StoreDb, f: RunFilter, by: string, columns: string[]): RunGroup[] {
  const g = columnSql(by);
  const cols = columns.map(columnSql);
  const inner = [`${g.sql} AS g`, ...cols.map((c, i) => `${c.sql} AS m${i}`)].join(', ');
  const aggs = cols.map((_, i) => `AVG(m${i}) AS mean${i}, AVG(m${i} * m${i}) AS sq${i}, COUNT(m${i}) AS n${i}`);
  const where = runFilterSql(f);
  const text = `SELECT g, COUNT(*) AS count${aggs.length ? ', ' + aggs.join(', ') : ''}
    FROM (SELECT ${inner} FROM runs r ${where.sql}) GROUP BY g ORDER BY g IS NULL, g`;
  const params = [...g.params, ...cols.flatMap((c) => c.params), ...where.params];
  const rows = sql.cached(text).all(...params) as Row[];
  return rows.map((r) => {
    const stats: RunGroup['stats'] = {};
    columns.forEach((key, i) => {
      const n = Number(r[`n${i}`]);
      const mean = n > 0 ? Number(r[`mean${i}`]) : null;
      let std: number | null = null;
      if (n > 1 && mean !== null) {
        const variance = ((Number(r[`sq${i}`]) - mean * mean) * n) / (n - 1);
        std = Math.sqrt(Math.max(0, variance));
      }
      stats[key] = { mean, std, n };
    });
    const v = r.g;
    return {
      value: v === null || v === undefined ? null : typeof v === 'number' ? v : String(v),
      count: Number(r.count),
      stats,
    };
  });
}
