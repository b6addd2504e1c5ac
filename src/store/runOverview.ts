/**
 * The store at a glance (issue 15): runs by status and kind, and the tags in use with how many runs carry each,
 * from three aggregate queries over indexed columns: what the app shell shows at start without listing runs.
 */
import { MAX_OVERVIEW_TAGS, type RunOverview } from '../shared/runColumns';
import type { StoreDb } from './db';

export function runOverview(sql: StoreDb): RunOverview {
  return sql.read(() => {
    const count = (col: 'status' | 'kind') =>
      Object.fromEntries(
        (
          sql.cached(`SELECT ${col} AS k, COUNT(*) AS n FROM runs GROUP BY ${col}`).all() as { k: string; n: number }[]
        ).map((r) => [r.k, r.n]),
      );
    const byStatus = count('status');
    const byKind = count('kind');
    const tags = sql
      .cached('SELECT tag, COUNT(*) AS count FROM run_tags GROUP BY tag ORDER BY count DESC, tag LIMIT ?')
      .all(MAX_OVERVIEW_TAGS) as { tag: string; count: number }[];
    const tagsTotal = (sql.cached('SELECT COUNT(DISTINCT tag) AS n FROM run_tags').get() as { n: number }).n;
    const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
    return { total, byStatus, byKind, tags, tagsTotal };
  });
}
