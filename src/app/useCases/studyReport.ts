/**
 * A study's report (issue 12): optionally measure the gap of runs without a curve at the latest common
 * checkpoint and evaluate the step counts the store lacks, then write the report folder under
 * <data>/exports (or `out`). `sadpm study` and the app's study.report job come here.
 */
import { join, resolve } from 'node:path';
import {
  StudyReportRequestSchema,
  STORED_METRICS,
  type EvalSettings,
  type StudyReport,
  type StudyReportRequest,
} from '../../shared/evaluation';
import { fileStamp } from '../../shared/naming';
import { FieldError } from '../../shared/errors';
import type { JobOptions } from '../engineJob';
import { runCheckpoint, type StoredCheckpoint } from './checkpointTarget';
import { expectedVariance, resolveEvalVariance } from './evalVariance';
import { measureGap } from './measureGap';
import { evaluateCheckpoint, parseEvalSettings, type EvaluateDeps } from './evaluate';
import { chooseInceptionWeights } from '../settings';
import { assertComparable, buildStudy, commonSteps, studyRuns } from './study';
import { writeStudyFiles } from './studyFiles';

export interface StudyReportOptions extends JobOptions {
  /** The report folder; default <data>/exports/study-<baseline>-vs-<ids>-<stamp>. */
  out?: string;
  inception?: string | null;
  /** What the report is doing now, for a terminal or a job label. */
  onStage?: (stage: string) => void;
}

/** Step counts of an evaluation the store has no result for, per run, at the target's step. */
function missingSteps(
  deps: EvaluateDeps,
  target: StoredCheckpoint,
  s: EvalSettings,
  space: 'inception' | 'pixel',
): number[] {
  const names: string[] = s.metrics.flatMap((m) => [...STORED_METRICS[m]]);
  // Issue 13: a result of another head or Γ source is not one of this evaluation.
  const variance = expectedVariance(resolveEvalVariance(deps.store, target, s));
  const have = deps.store.evals
    .ofCheckpoint(target.run.id, target.checkpoint.step)
    .filter(
      (e) =>
        e.weights === (s.ema ? 'ema' : 'raw') &&
        e.sampler === s.sampler &&
        e.variance === variance &&
        e.spacing === s.spacing &&
        e.eta === s.eta &&
        e.n === s.n &&
        e.seed === s.seed &&
        e.featureSpace === space,
    );
  return s.steps.filter((k) => names.some((m) => !have.some((e) => e.metric === m && e.sampleSteps === k)));
}

export async function runStudyReport(
  deps: EvaluateDeps,
  input: StudyReportRequest,
  opts: StudyReportOptions = {},
): Promise<StudyReport> {
  const req = StudyReportRequestSchema.parse(input);
  const { store } = deps;
  const first = buildStudy(store, req);
  assertComparable(first);
  const runs = studyRuns(store, req.baselineId, req.saIds);
  const common = commonSteps(store, runs).at(-1);
  const job = { signal: opts.signal, onProgress: opts.onProgress };
  if (req.measureMissing && first.gap.missing.length) {
    if (common === undefined) {
      throw new FieldError(
        'measureMissing',
        'the runs share no checkpoint step, so their gaps cannot be measured at one',
      );
    }
    for (const id of first.gap.missing) {
      const run = runs.find((r) => r.id === id)!;
      opts.onStage?.(`measuring the gap of run #${id} at step ${common} from t0 = ${first.gap.t0}`);
      await measureGap(deps, runCheckpoint(store, run, common), { ema: req.gapEma, t0: first.gap.t0 }, job);
    }
  }
  let evalSpace: 'inception' | 'pixel' | undefined;
  let shown: Pick<StudyReportRequest, 'metricWeights' | 'sampler'> = {};
  if (req.evaluate) {
    const s = parseEvalSettings(req.evaluate);
    const weights = chooseInceptionWeights(store.layout.root, opts.inception, deps.env ?? process.env).path;
    const space = (evalSpace = weights ? 'inception' : 'pixel');
    shown = { metricWeights: s.ema ? 'ema' : 'raw', sampler: s.sampler };
    for (const run of runs) {
      const target = runCheckpoint(store, run, common ?? 'latest');
      const steps = missingSteps(deps, target, s, space);
      if (steps.length === 0) continue;
      opts.onStage?.(`evaluating run #${run.id} at step ${target.checkpoint.step}: ${steps.join(', ')} sampling steps`);
      await evaluateCheckpoint(deps, target, { ...s, steps }, { ...job, inception: opts.inception });
    }
  }
  // The report shows the space it just evaluated in, unless the request names one.
  const study = buildStudy(store, {
    ...req,
    featureSpace: req.featureSpace ?? evalSpace,
    metricWeights: req.metricWeights ?? shown.metricWeights,
    sampler: req.sampler ?? shown.sampler,
  });
  const ids = [req.baselineId, ...req.saIds];
  const dir = opts.out ? resolve(opts.out) : join(store.layout.exports, `study-${ids.join('-vs-')}-${fileStamp()}`);
  opts.onStage?.(`writing the report to ${dir}`);
  const { files, bytes } = writeStudyFiles(dir, study);
  store.exports.record(req.baselineId, 'study', dir, bytes);
  return { dir, markdown: join(dir, 'report.md'), files: files.map((f) => join(dir, f)), study };
}
