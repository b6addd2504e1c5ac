/**
 * A multi-resolution summary of each metric series (issue 15), kept as points arrive: per bucket of steps at a
 * few widths (16, 64, … 262,144 steps), the count, sum, min and max (with their steps), first and last point.
 * A chart of any step range then reads at most ~maxPoints/2 buckets of the finest width that fits, instead of
 * every row (a 1M-point series took ~350 ms through LTTB). Each bucket gives its min and max in step order, so
 * spikes survive as they did with LTTB. Series written before the summary existed, or whose points were
 * overwritten, are marked unsummarized and rebuilt from their rows on their next read.
 */
import type { Series } from '../shared/records';
import type { StoreDb } from './db';

/** Bucket widths in steps, finest first. */
export const LEVEL_WIDTHS = [16, 64, 256, 1024, 4096, 16_384, 65_536, 262_144] as const;

export interface StepRange {
  from?: number;
  to?: number;
}

interface Agg {
  level: number;
  bucket: number;
  n: number;
  finite: number;
  sum: number;
  min: number | null;
  minStep: number | null;
  max: number | null;
  maxStep: number | null;
  firstStep: number;
  first: number;
  lastStep: number;
  last: number;
}

/** Folds points (any order) into one aggregate per (level, bucket). */
export function aggregate(steps: ArrayLike<number>, values: ArrayLike<number>, n = steps.length): Agg[] {
  const out: Agg[] = [];
  for (let level = 0; level < LEVEL_WIDTHS.length; level++) {
    const w = LEVEL_WIDTHS[level]!;
    const byBucket = new Map<number, Agg>();
    for (let i = 0; i < n; i++) {
      const step = steps[i]!;
      const v = values[i]!;
      const bucket = Math.floor(step / w);
      let a = byBucket.get(bucket);
      if (!a) {
        a = {
          level,
          bucket,
          n: 0,
          finite: 0,
          sum: 0,
          min: null,
          minStep: null,
          max: null,
          maxStep: null,
          firstStep: step,
          first: v,
          lastStep: step,
          last: v,
        };
        byBucket.set(bucket, a);
      }
      a.n++;
      if (step < a.firstStep) [a.firstStep, a.first] = [step, v];
      if (step >= a.lastStep) [a.lastStep, a.last] = [step, v];
      if (!Number.isFinite(v)) continue;
      a.finite++;
      a.sum += v;
      if (a.min === null || v < a.min) [a.min, a.minStep] = [v, step];
      if (a.max === null || v > a.max) [a.max, a.maxStep] = [v, step];
    }
    out.push(...byBucket.values());
  }
  return out;
}

interface SeriesState {
  points: number;
  summarized: number;
}

interface BucketRow {
  bucket: number;
  n: number;
  min: number | null;
  min_step: number | null;
  max: number | null;
  max_step: number | null;
  first_step: number;
  first: number | null;
  last_step: number;
  last: number | null;
}

export class MetricSummary {
  private readonly s;
  /**
   * Shorter series (or ranges) are read from their rows and downsampled with LTTB, which is cheap at this size
   * and gives exactly maxPoints; the buckets take over above it.
   */
  minPoints = 20_000;

  constructor(private readonly sql: StoreDb) {
    const d = sql.conn;
    this.s = {
      state: d.prepare('SELECT points, summarized FROM metric_series WHERE run_id = ? AND name_id = ?'),
      newSeries: d.prepare('INSERT INTO metric_series (run_id, name_id, points, summarized) VALUES (?, ?, ?, 1)'),
      addPoints: d.prepare('UPDATE metric_series SET points = points + ? WHERE run_id = ? AND name_id = ?'),
      setState: d.prepare('UPDATE metric_series SET points = ?, summarized = ? WHERE run_id = ? AND name_id = ?'),
      unsummarize: d.prepare('UPDATE metric_series SET summarized = 0 WHERE run_id = ? AND name_id = ?'),
      unsummarizeRun: d.prepare('UPDATE metric_series SET summarized = 0 WHERE run_id = ?'),
      dropBuckets: d.prepare('DELETE FROM metric_buckets WHERE run_id = ? AND name_id = ?'),
      dropRunBuckets: d.prepare('DELETE FROM metric_buckets WHERE run_id = ?'),
      // In an UPDATE every right-hand side reads the old row, so the step of a new min is chosen before min moves.
      upsert: d.prepare(`INSERT INTO metric_buckets (run_id, name_id, level, bucket, n, finite, sum, min, min_step,
          max, max_step, first_step, first, last_step, last)
        VALUES (@runId, @nameId, @level, @bucket, @n, @finite, @sum, @min, @minStep, @max, @maxStep, @firstStep,
          @first, @lastStep, @last)
        ON CONFLICT (run_id, name_id, level, bucket) DO UPDATE SET
          n = n + excluded.n, finite = finite + excluded.finite, sum = sum + excluded.sum,
          min_step = CASE WHEN min IS NULL OR excluded.min < min THEN excluded.min_step ELSE min_step END,
          min = CASE WHEN min IS NULL OR excluded.min < min THEN excluded.min ELSE min END,
          max_step = CASE WHEN max IS NULL OR excluded.max > max THEN excluded.max_step ELSE max_step END,
          max = CASE WHEN max IS NULL OR excluded.max > max THEN excluded.max ELSE max END,
          first = CASE WHEN excluded.first_step < first_step THEN excluded.first ELSE first END,
          first_step = MIN(first_step, excluded.first_step),
          last = CASE WHEN excluded.last_step >= last_step THEN excluded.last ELSE last END,
          last_step = MAX(last_step, excluded.last_step)`),
      buckets: d.prepare(`SELECT bucket, n, min, min_step, max, max_step, first_step, first, last_step, last
        FROM metric_buckets WHERE run_id = ? AND name_id = ? AND level = ? AND bucket BETWEEN ? AND ?
        ORDER BY bucket`),
      coarse: d.prepare(`SELECT COALESCE(SUM(n), 0) AS n FROM metric_buckets
        WHERE run_id = ? AND name_id = ? AND level = ? AND bucket BETWEEN ? AND ?`),
      span: d.prepare(`SELECT MIN(first_step) AS lo, MAX(last_step) AS hi FROM metric_buckets
        WHERE run_id = ? AND name_id = ? AND level = ?`),
      countRows: d
        .prepare('SELECT COUNT(*) FROM metrics WHERE run_id = ? AND name_id = ? AND step BETWEEN ? AND ?')
        .pluck(),
      // SQLite takes a bare column of a MIN() or MAX() aggregate from the row holding the extreme.
      rawMin: d.prepare(`SELECT step, MIN(value) AS v FROM metrics
        WHERE run_id = ? AND name_id = ? AND step BETWEEN ? AND ?`),
      rawMax: d.prepare(`SELECT step, MAX(value) AS v FROM metrics
        WHERE run_id = ? AND name_id = ? AND step BETWEEN ? AND ?`),
      rawFirst: d.prepare(`SELECT step, value AS v FROM metrics
        WHERE run_id = ? AND name_id = ? AND step BETWEEN ? AND ? ORDER BY step LIMIT 1`),
      rawLast: d.prepare(`SELECT step, value AS v FROM metrics
        WHERE run_id = ? AND name_id = ? AND step BETWEEN ? AND ? ORDER BY step DESC LIMIT 1`),
      steps: d.prepare('SELECT step FROM metrics WHERE run_id = ? AND name_id = ? ORDER BY step').pluck(),
      values: d.prepare('SELECT value FROM metrics WHERE run_id = ? AND name_id = ? ORDER BY step').pluck(),
    };
  }

  /**
   * Inside the caller's write transaction: points just inserted (new steps) of one series. `overwrote`: some
   * steps of this batch replaced stored points, which a running sum cannot take back: rebuild on the next read.
   */
  added(runId: number, nameId: number, steps: number[], values: number[], overwrote: boolean): void {
    const state = this.s.state.get(runId, nameId) as SeriesState | undefined;
    if (!state) this.s.newSeries.run(runId, nameId, steps.length);
    else this.s.addPoints.run(steps.length, runId, nameId);
    if (overwrote) this.invalidate(runId, nameId);
    else if (!state || state.summarized) this.fold(runId, nameId, steps, values);
  }

  /** Marks one series for a rebuild (its stored points changed in a way the buckets cannot follow). */
  invalidate(runId: number, nameId: number): void {
    this.s.unsummarize.run(runId, nameId);
    this.s.dropBuckets.run(runId, nameId);
  }

  /** Every series of a run (its history was cut back to a step before a resume). */
  invalidateRun(runId: number): void {
    this.s.unsummarizeRun.run(runId);
    this.s.dropRunBuckets.run(runId);
  }

  private fold(runId: number, nameId: number, steps: ArrayLike<number>, values: ArrayLike<number>, n?: number): void {
    for (const a of aggregate(steps, values, n)) this.s.upsert.run({ runId, nameId, ...a });
  }

  /** Rebuilds one series' buckets from its rows; false when this connection cannot write (a read-only store). */
  private rebuild(runId: number, nameId: number): boolean {
    if (this.sql.conn.readonly) return false;
    this.sql.write(() => {
      const steps = this.s.steps.all(runId, nameId) as number[];
      const values = this.s.values.all(runId, nameId) as number[];
      this.s.dropBuckets.run(runId, nameId);
      this.fold(runId, nameId, steps, values);
      this.s.setState.run(steps.length, 1, runId, nameId);
    });
    return true;
  }

  /**
   * Whether the buckets can answer for this series: it has more than `maxPoints` points and is summarized
   * (rebuilt here if it was not). Call outside a read transaction: a rebuild writes.
   */
  ready(runId: number, nameId: number, maxPoints: number): boolean {
    const state = this.s.state.get(runId, nameId) as SeriesState | undefined;
    if (!state || state.points <= Math.max(maxPoints, this.minPoints)) return false;
    return state.summarized === 1 || this.rebuild(runId, nameId);
  }

  /**
   * The series over a step range from the buckets, or null when reading the rows is the better answer (few
   * points in the range, or no summary). Call after ready(), inside a read transaction.
   */
  read(runId: number, nameId: number, name: string, maxPoints: number, range: StepRange): Series | null {
    const state = this.s.state.get(runId, nameId) as SeriesState | undefined;
    if (!state?.summarized) return null;
    const top = LEVEL_WIDTHS.length - 1;
    const all = this.s.span.get(runId, nameId, top) as { lo: number | null; hi: number | null };
    if (all.lo === null || all.hi === null) return null;
    const from = Math.max(range.from ?? all.lo, all.lo);
    const to = Math.min(range.to ?? all.hi, all.hi);
    if (to < from) return { name, steps: [], values: [], total: 0 };
    const inRange = from === all.lo && to === all.hi ? state.points : this.countIn(runId, nameId, from, to, maxPoints);
    if (inRange <= Math.max(maxPoints, this.minPoints)) return null;
    // Each bucket gives up to two points (plus the range's first and last); a level has at most one bucket per
    // point and per `width` steps of the range.
    const fits = (w: number) => 2 * Math.min(inRange, Math.floor((to - from) / w) + 2) + 2 <= maxPoints;
    const level = LEVEL_WIDTHS.findIndex(fits);
    const lv = level < 0 ? top : level;
    const w = LEVEL_WIDTHS[lv]!;
    const rows = this.s.buckets.all(runId, nameId, lv, Math.floor(from / w), Math.floor(to / w)) as BucketRow[];
    // Buckets cut by the range's ends are read from their rows inside the range, so nothing outside it shows
    // and nothing inside it is lost.
    if (rows.length && rows[0]!.bucket * w < from)
      rows[0] = this.rawBucket(runId, nameId, rows[0]!.bucket, from, to, w);
    const last = rows.length - 1;
    if (last >= 0 && (rows[last]!.bucket + 1) * w - 1 > to) {
      rows[last] = this.rawBucket(runId, nameId, rows[last]!.bucket, from, to, w);
    }
    return { name, ...envelope(rows, from, to), total: inRange };
  }

  /**
   * Points in [from, to]: summed over at most ~256 buckets of the finest level that covers the range with so
   * few (an overcount by the two end buckets), then counted exactly when that is close to maxPoints.
   */
  private countIn(runId: number, nameId: number, from: number, to: number, maxPoints: number): number {
    const lv = Math.max(
      0,
      LEVEL_WIDTHS.findIndex((w) => (to - from) / w + 2 <= 256),
    );
    const w = LEVEL_WIDTHS[lv]!;
    const est = (this.s.coarse.get(runId, nameId, lv, Math.floor(from / w), Math.floor(to / w)) as { n: number }).n;
    const exactUpTo = 4 * Math.max(maxPoints, this.minPoints);
    return est <= exactUpTo ? (this.s.countRows.get(runId, nameId, from, to) as number) : est;
  }

  /** One bucket as its rows inside [from, to] make it. */
  private rawBucket(runId: number, nameId: number, bucket: number, from: number, to: number, w: number): BucketRow {
    const lo = Math.max(from, bucket * w);
    const hi = Math.min(to, (bucket + 1) * w - 1);
    const min = this.s.rawMin.get(runId, nameId, lo, hi) as { step: number | null; v: number | null };
    const max = this.s.rawMax.get(runId, nameId, lo, hi) as { step: number | null; v: number | null };
    const first = this.s.rawFirst.get(runId, nameId, lo, hi) as { step: number; v: number } | undefined;
    const last = this.s.rawLast.get(runId, nameId, lo, hi) as { step: number; v: number } | undefined;
    return {
      bucket,
      n: 0,
      min: min.v,
      min_step: min.step,
      max: max.v,
      max_step: max.step,
      first_step: first?.step ?? lo,
      first: first?.v ?? null,
      last_step: last?.step ?? hi,
      last: last?.v ?? null,
    };
  }
}

/** Each bucket's min and max in step order, plus the first and last point of the range. */
function envelope(rows: BucketRow[], from: number, to: number): { steps: number[]; values: number[] } {
  const steps: number[] = [];
  const values: number[] = [];
  const push = (step: number | null, v: number | null) => {
    if (step === null || v === null || step < from || step > to) return;
    if (steps.length && step <= steps[steps.length - 1]!) return;
    steps.push(step);
    values.push(v);
  };
  rows.forEach((r, i) => {
    if (i === 0) push(r.first_step, r.first);
    const lo = r.min_step !== null && r.max_step !== null && r.max_step < r.min_step;
    if (lo) {
      push(r.max_step, r.max);
      push(r.min_step, r.min);
    } else {
      push(r.min_step, r.min);
      push(r.max_step, r.max);
    }
    if (i === rows.length - 1) push(r.last_step, r.last);
  });
  return { steps, values };
}
