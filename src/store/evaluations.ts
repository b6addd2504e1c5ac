/**
 * Evaluation results (issue 12): one row per metric of a checkpoint's samples under one sampling setup.
 * Measuring the same setup again replaces the row, so a chart never shows two values for one point.
 */
import {
  EvalResultSchema,
  type EvalCurve,
  type EvalResult,
  type EvalSummary,
  type FeatureSpace,
  type NewEvalResult,
} from '../shared/records';
import { now, type Row, type StoreDb } from './db';
import { toEvalResult, toEvalSummary } from './rows';
import { errorCode } from './storeErrors';

const NEW_EVAL = EvalResultSchema.omit({ id: true, createdAt: true });

/**
 * A run's latest result per (metric, feature space) as a JSON array, for a subquery over `runs r`. SQLite
 * takes the bare columns of a MAX() aggregate from the row that has the maximum.
 */
export const LATEST_EVALS_SQL = `(SELECT json_group_array(json_object('metric', metric, 'feature_space', feature_space,
    'value', value, 'std', std, 'step', step, 'weights', weights, 'sampler', sampler, 'sample_steps', sample_steps,
    'n', n, 'created_at', created_at))
  FROM (SELECT metric, feature_space, value, std, step, weights, sampler, sample_steps, n, MAX(created_at) AS created_at
    FROM eval_results e WHERE e.run_id = r.id GROUP BY metric, feature_space ORDER BY metric, feature_space))`;

export function parseLatestEvals(json: unknown): EvalSummary[] {
  return json ? (JSON.parse(String(json)) as Row[]).map(toEvalSummary) : [];
}

/** What selects the lines of a metric-vs-steps chart; a field left out matches any value. */
export interface CurveQuery {
  runIds: number[];
  metric: string;
  featureSpace?: FeatureSpace;
  weights?: 'raw' | 'ema';
  sampler?: EvalResult['sampler'];
  /** Issue 13: only results of this variance source (an EvalResult's `variance`). */
  variance?: string;
  /** The checkpoint step; by default each run's latest step with a result of this metric. */
  step?: number;
}

/**
 * The columns that make a line: everything that identifies a result except the step count and the seed (two
 * heads or Γ estimates of one sampler are two lines).
 */
const LINE_KEY = ['step', 'weights', 'sampler', 'variance', 'spacing', 'eta', 'n', 'featureSpace'] as const;

export class EvalResults {
  private readonly s;

  constructor(private readonly sql: StoreDb) {
    const d = sql.conn;
    this.s = {
      upsert: d.prepare(`INSERT INTO eval_results (run_id, step, weights, sampler, variance, variance_ref,
        sample_steps, spacing, eta, n, seed, feature_space, metric, value, std, features_sha256, ref_key, seconds,
        created_at)
        VALUES (@runId, @step, @weights, @sampler, @variance, @varianceRef, @sampleSteps, @spacing, @eta, @n, @seed,
        @featureSpace, @metric, @value, @std, @featuresSha256, @refKey, @seconds, @createdAt)
        ON CONFLICT (run_id, step, weights, sampler, variance, sample_steps, spacing, eta, n, seed, feature_space,
        metric)
        DO UPDATE SET value = excluded.value, std = excluded.std, features_sha256 = excluded.features_sha256,
        variance_ref = excluded.variance_ref, ref_key = excluded.ref_key, seconds = excluded.seconds,
        created_at = excluded.created_at
        RETURNING *`),
      ofRun: d.prepare(`SELECT * FROM eval_results WHERE run_id = ?
        ORDER BY step, metric, feature_space, weights, sampler, sample_steps, id`),
      ofCheckpoint: d.prepare(`SELECT * FROM eval_results WHERE run_id = ? AND step = ?
        ORDER BY metric, feature_space, weights, sampler, sample_steps, id`),
      latest: d.prepare(`SELECT ${LATEST_EVALS_SQL} AS evals FROM runs r WHERE r.id = ?`).pluck(),
    };
  }

  /** Adds a result, or replaces the one of the same run, checkpoint, sampling setup, feature space and metric. */
  upsert(r: NewEvalResult): EvalResult {
    const parsed = NEW_EVAL.safeParse(r);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new Error(`evaluation result of run #${r.runId} (${r.metric}): field '${i.path.join('.')}': ${i.message}`);
    }
    try {
      return toEvalResult(this.s.upsert.get({ ...parsed.data, createdAt: now() }) as Row);
    } catch (err) {
      if (errorCode(err) !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw err;
      throw new Error(`evaluation result (${r.metric}): there is no run #${r.runId} in ${this.sql.layout.db}`);
    }
  }

  /** Several results in one transaction: all are stored or none. */
  upsertAll(rs: NewEvalResult[]): EvalResult[] {
    return this.sql.write(() => rs.map((r) => this.upsert(r)));
  }

  list(runId: number): EvalResult[] {
    return (this.s.ofRun.all(runId) as Row[]).map(toEvalResult);
  }

  ofCheckpoint(runId: number, step: number): EvalResult[] {
    return (this.s.ofCheckpoint.all(runId, step) as Row[]).map(toEvalResult);
  }

  /** Each run's latest result per metric and feature space. */
  latest(runIds: number[]): Map<number, EvalSummary[]> {
    return new Map(runIds.map((id) => [id, parseLatestEvals(this.s.latest.get(id))]));
  }

  /**
   * A metric against sampling steps, one line per run and sampling setup. Where a step count was measured
   * more than once in a line (other seeds), the latest result is the point.
   */
  curves(q: CurveQuery): EvalCurve[] {
    const lines: EvalCurve[] = [];
    for (const runId of q.runIds) {
      const rows = this.list(runId).filter(
        (e) =>
          e.metric === q.metric &&
          (q.featureSpace === undefined || e.featureSpace === q.featureSpace) &&
          (q.weights === undefined || e.weights === q.weights) &&
          (q.sampler === undefined || e.sampler === q.sampler) &&
          (q.variance === undefined || e.variance === q.variance),
      );
      const step = q.step ?? Math.max(-1, ...rows.map((e) => e.step));
      const byLine = new Map<string, EvalResult[]>();
      for (const e of rows.filter((x) => x.step === step)) {
        const key = JSON.stringify(LINE_KEY.map((k) => e[k]));
        byLine.set(key, [...(byLine.get(key) ?? []), e]);
      }
      for (const group of byLine.values()) lines.push(curveOf(group));
    }
    return lines;
  }
}

function curveOf(group: EvalResult[]): EvalCurve {
  const first = group[0]!;
  const newest = new Map<number, EvalResult>();
  for (const e of group) {
    const had = newest.get(e.sampleSteps);
    if (!had || e.createdAt > had.createdAt || (e.createdAt === had.createdAt && e.id > had.id)) {
      newest.set(e.sampleSteps, e);
    }
  }
  const points = [...newest.values()]
    .sort((a, b) => a.sampleSteps - b.sampleSteps)
    .map((e) => ({ sampleSteps: e.sampleSteps, value: e.value, std: e.std }));
  const { runId, step, weights, sampler, variance, spacing, eta, n, featureSpace, metric } = first;
  return { runId, step, weights, sampler, variance, spacing, eta, n, featureSpace, metric, points };
}
