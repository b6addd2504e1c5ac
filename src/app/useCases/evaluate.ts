/**
 * Evaluating a checkpoint (issue 12): FID, KID, IS and precision/recall of its samples at several sampling-step
 * counts, against its dataset's reference statistics. The statistics are computed once per dataset, feature space,
 * weights and subset (a 'refStats' engine job), cached under <data>/cache and recorded in store.refStats; the
 * checkpoint's samples are measured by an 'eval' engine job; the results are stored (store.evals) and returned as
 * a table. `sadpm eval` and the app's Evaluate panel both come here. A variance sampler (issue 13) gets its Γ
 * from the cache or estimated in the eval job (then cached), or its covariance head (evalVariance.ts).
 */
import { join } from 'node:path';
import {
  EVAL_KEEP,
  EvalJobResultSchema,
  RefStatsResultSchema,
  type EvalJobResult,
  type EvalMetric,
} from '../../shared/engineMessages';
import {
  EvalSettingsSchema,
  type EvalOutcome,
  type EvalSettings,
  type EvalSettingsInput,
  type EvalTableRow,
} from '../../shared/evaluation';
import type { FeatureSpace, NewEvalResult } from '../../shared/records';
import { FieldError } from '../../shared/errors';
import type { RunStore } from '../../store/runStore';
import { runEngineJob, type JobOptions } from '../engineJob';
import type { SpawnEngine } from '../engineProcess';
import type { StoredCheckpoint } from './checkpointTarget';
import { checkInceptionWeights, chooseInceptionWeights } from '../settings';
import { FEATURE_PROTOCOL, FEATURE_SPACE_IDS } from '../../engine/metrics/protocol';
import { INCEPTION_WEIGHTS_HELP } from '../../engine/metrics/inception/weights';
import { findBuiltin } from '../../engine/data/builtin';
import { readPackedHeader } from '../../engine/data/packed';
import { parseGammaEstimate } from '../../shared/gammaEstimate';
import { cacheGamma } from './gammaEstimate';
import { evalEstimateWork, resolveEvalVariance, varianceIdentity } from './evalVariance';

export interface EvaluateDeps {
  store: RunStore;
  spawn: SpawnEngine;
  env?: NodeJS.ProcessEnv;
}

export interface EvaluateOptions extends JobOptions {
  /** `--inception FILE`: wins over the environment variable and the setting. */
  inception?: string | null;
  /** npr-* / sn-*: a head checkpoint file instead of a covariance run (the CLI's --cov-head-file). */
  covHeadFile?: string;
  /** Told once the feature space is decided, before any engine starts (the CLI prints it). */
  onSpace?: (info: { pixel: boolean; weights: string | null; note: string | null }) => void;
}

/** The subset of a dataset the reference statistics use is drawn with this seed (part of the key). */
const REF_SUBSET_SEED = 0;

/** A settings object from a request, its first problem named as the field. */
export function parseEvalSettings(input: EvalSettingsInput): EvalSettings {
  const r = EvalSettingsSchema.safeParse(input);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new FieldError(String(i.path[0] ?? 'settings'), i.message);
}

/** What identifies a dataset's pixels: its checksum, or a built-in's name and image count. */
export function datasetIdentity(spec: string): { key: string; count: number } {
  if (spec.startsWith('builtin:')) {
    const b = findBuiltin(spec);
    return { key: `${b.id}@${b.defaultCount}`, count: b.defaultCount };
  }
  const h = readPackedHeader(spec);
  return { key: `sha256:${h.checksum}`, count: h.count };
}

/** The cache key of reference statistics: dataset, protocol, feature space, weights, subset and kept features. */
export function referenceKey(p: {
  dataset: string;
  space: FeatureSpace;
  weightsSha256: string | null;
  n: number | null;
}): string {
  const subset = p.n === null ? 'all' : `${p.n} (seed ${REF_SUBSET_SEED})`;
  return [
    `dataset=${p.dataset}`,
    `protocol=${FEATURE_PROTOCOL}`,
    `space=${FEATURE_SPACE_IDS[p.space]}`,
    `weights=${p.weightsSha256 ?? 'none'}`,
    `images=${subset}`,
    `keep=${EVAL_KEEP}`,
  ].join('|');
}

/** The stored rows of one evaluation: a row per metric and step count ('pr' is two: precision and recall). */
export function evalRows(
  res: EvalJobResult,
  ctx: { runId: number; step: number; s: EvalSettings; space: FeatureSpace; refKey: string },
  variance: Pick<NewEvalResult, 'variance' | 'varianceRef'> = { variance: 'none', varianceRef: null },
): NewEvalResult[] {
  const { s } = ctx;
  const base = {
    runId: ctx.runId,
    step: ctx.step,
    weights: s.ema ? ('ema' as const) : ('raw' as const),
    sampler: s.sampler,
    ...variance,
    spacing: s.spacing,
    eta: s.eta,
    n: s.n,
    seed: s.seed,
    featureSpace: ctx.space,
    featuresSha256: res.space.weightsSha256,
    refKey: ctx.refKey,
  };
  const out: NewEvalResult[] = [];
  for (const r of res.rows) {
    const row = { ...base, sampleSteps: r.sampleSteps, seconds: r.seconds };
    if (r.fid !== undefined) out.push({ ...row, metric: 'fid', value: r.fid, std: null });
    if (r.kid) out.push({ ...row, metric: 'kid', value: r.kid.mean, std: r.kid.std });
    if (r.is) out.push({ ...row, metric: 'is', value: r.is.mean, std: r.is.std });
    if (r.precision !== undefined) out.push({ ...row, metric: 'precision', value: r.precision, std: null });
    if (r.recall !== undefined) out.push({ ...row, metric: 'recall', value: r.recall, std: null });
  }
  return out;
}

function tableRow(r: EvalJobResult['rows'][number]): EvalTableRow {
  return {
    sampleSteps: r.sampleSteps,
    fid: r.fid ?? null,
    kid: r.kid?.mean ?? null,
    kidStd: r.kid?.std ?? null,
    is: r.is?.mean ?? null,
    isStd: r.is?.std ?? null,
    precision: r.precision ?? null,
    recall: r.recall ?? null,
    seconds: r.seconds,
    previewPath: r.previewPath,
  };
}

/** Checks a request against the run before any engine starts (seconds on a GPU). */
function checkRequest(target: StoredCheckpoint, s: EvalSettings, pixel: boolean, datasetCount: number): void {
  const T = target.run.config.T;
  const over = s.steps.filter((x) => x > T);
  if (over.length) {
    throw new FieldError(
      'steps',
      `this run has T = ${T} diffusion steps; give step counts of ${T} or fewer`,
      over.join(','),
    );
  }
  if (new Set(s.steps).size !== s.steps.length)
    throw new FieldError('steps', 'a step count is listed twice', s.steps.join(','));
  if (pixel && s.metrics.includes('is')) {
    const why = 'the Inception Score needs the Inception classifier, which the pixel space does not have';
    throw new FieldError('metrics', `${why}. ${INCEPTION_WEIGHTS_HELP}`, s.metrics.join(','));
  }
  if (s.refN !== undefined && s.refN > datasetCount) {
    throw new FieldError('refN', `the run's dataset has ${datasetCount} images; give at most that many`, s.refN);
  }
}

export async function evaluateCheckpoint(
  deps: EvaluateDeps,
  target: StoredCheckpoint,
  input: EvalSettingsInput,
  opts: EvaluateOptions = {},
): Promise<EvalOutcome> {
  const s = parseEvalSettings(input);
  const { store } = deps;
  const { run, checkpoint } = target;
  const cfg = run.config;
  const choice = chooseInceptionWeights(store.layout.root, opts.inception, deps.env ?? process.env);
  const weights = choice.path ? await checkInceptionWeights(choice) : null;
  if (weights && !weights.ok) {
    if (choice.source === 'flag')
      throw new FieldError('inception', weights.message.replace(`${choice.path}: `, ''), choice.path!);
    throw new Error(weights.message);
  }
  const space: FeatureSpace = weights ? 'inception' : 'pixel';
  const data = datasetIdentity(cfg.dataset);
  checkRequest(target, s, space === 'pixel', data.count);
  const variance = resolveEvalVariance(store, target, s, opts.covHeadFile);
  const note = space === 'pixel' ? `pixel feature space (not Inception). ${INCEPTION_WEIGHTS_HELP}` : null;
  opts.onSpace?.({ pixel: space === 'pixel', weights: choice.path, note });

  const refKey = referenceKey({ dataset: data.key, space, weightsSha256: weights?.sha256 ?? null, n: s.refN ?? null });
  let ref = store.refStats.get(refKey);
  const refCached = ref !== undefined;
  const refImages = refCached ? 0 : (s.refN ?? data.count);
  const total = refImages + evalEstimateWork(s, variance) + s.n * s.steps.length;
  const progress = (offset: number) => (done: number) => opts.onProgress?.(offset + done, total);
  const inceptionWeights = choice.path ?? undefined;
  if (!ref) {
    const out = store.refStats.pathFor(refKey);
    const job = { dataset: cfg.dataset, n: s.refN, seed: REF_SUBSET_SEED, out, inceptionWeights, backend: cfg.backend };
    const raw = await runEngineJob(deps.spawn, (jobId) => ({ cmd: 'refStats', jobId, job }), {
      signal: opts.signal,
      onProgress: progress(0),
    });
    const made = RefStatsResultSchema.parse(raw);
    ref = store.refStats.put({ key: refKey, path: made.out, count: made.count });
  }

  const job = {
    checkpointPath: checkpoint.path,
    runDir: run.runDir,
    ema: s.ema,
    sampler: s.sampler,
    steps: s.steps,
    spacing: s.spacing,
    eta: s.eta,
    seed: s.seed,
    n: s.n,
    metrics: s.metrics as EvalMetric[],
    refPath: ref.path,
    inceptionWeights,
    previewDir: join(run.runDir, 'evals'),
    batchSize: s.batchSize,
    ...variance.fields,
  };
  const raw = await runEngineJob(deps.spawn, (jobId) => ({ cmd: 'eval', jobId, job }), {
    signal: opts.signal,
    onProgress: progress(refImages),
  });
  const res = EvalJobResultSchema.parse(raw);
  if (res.checkpointStep !== checkpoint.step) {
    throw new Error(`${checkpoint.path} holds step ${res.checkpointStep}, the store records step ${checkpoint.step}`);
  }
  if ((res.space.weightsSha256 ?? null) !== (weights?.sha256 ?? null)) {
    throw new Error(`${choice.path}: the weights file changed during the evaluation; run it again`);
  }
  if (res.gamma !== undefined) cacheGamma(store, target, parseGammaEstimate(res.gamma, "the eval job's Γ estimate"));
  const named = varianceIdentity(res.variance, variance);
  const ctx = { runId: run.id, step: checkpoint.step, s, space, refKey };
  const results = store.evals.upsertAll(evalRows(res, ctx, named));
  return {
    runId: run.id,
    runName: run.name,
    checkpointStep: checkpoint.step,
    ema: s.ema,
    sampler: s.sampler,
    spacing: s.spacing,
    eta: s.eta,
    seed: s.seed,
    n: s.n,
    metrics: s.metrics,
    space: res.space,
    featureSpace: space,
    weightsSource: choice.source,
    note,
    rows: res.rows.map(tableRow),
    refKey,
    refCached,
    refCount: ref.count,
    results,
    variance: named.variance,
    varianceRef: named.varianceRef,
    varianceUsed: variance.used,
  };
}
