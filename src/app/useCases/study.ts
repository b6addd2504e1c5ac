/**
 * The SA-vs-baseline study (issue 12; the paper's Figure 4, Table 1 and Figure 1): a baseline run and one or more
 * SA runs that share data, model and diffusion; their estimation-gap curves at the latest common checkpoint and
 * the gap ratio baseline / SA at each t; their metric-vs-sampling-steps curves from store.evals. buildStudy reads
 * the store only; runStudyReport can measure the missing gaps and evaluate the missing step counts first, then
 * writes the report (studyReport.ts).
 *
 * Which config fields may differ (configDifferences): the SA loss (k, lambda, tau) is what a study compares;
 * the dataset, the UNet's shape (ch, chMult, numResBlocks, attnResolutions, imageSize, channels, normGroups) and
 * the diffusion (T, schedule, betaStart, betaEnd) must match, or the study refuses to measure and report; the
 * training recipe (seed, batch, lr, warmup, Adam, EMA decay, clipping, flips, dropout) may differ and is
 * flagged as a confound; monitoring and bookkeeping fields (name, preset, backend, logging, sampling and gap
 * monitor settings, the target step count) are ignored.
 */
import type { EvalCurve, FeatureSpace, GapRecord, RunRecord } from '../../shared/records';
import {
  STORED_METRIC_NAMES,
  StudyRequestSchema,
  type ConfigDifference,
  type DiffKind,
  type GapRatio,
  type Study,
  type StudyGap,
  type StudyMetric,
  type StudyRequest,
  type StudyRun,
} from '../../shared/evaluation';
import { isSaActive, lossLabel } from '../../shared/naming';
import { FieldError } from '../../shared/errors';
import type { RunStore } from '../../store/runStore';
import { INCEPTION_SPACE_LABEL, PIXEL_SPACE_LABEL } from '../../engine/metrics/protocol';

const MUST_MATCH = [
  'dataset',
  'ch',
  'chMult',
  'numResBlocks',
  'attnResolutions',
  'imageSize',
  'channels',
  'normGroups',
  'T',
  'schedule',
  'betaStart',
  'betaEnd',
];
const LOSS_FIELDS = ['k', 'lambda', 'tau'];
const IGNORED = [
  'name',
  'preset',
  'backend',
  'logEvery',
  'checkpointEvery',
  'sampleEvery',
  'sampleN',
  'sampler',
  'sampleSteps',
  'spacing',
  'eta',
  'gapEvery',
  'gapT0',
  'gapBatch',
  // The step a run stops at: the schedule does not depend on it (warm-up, then a constant rate), and a study compares
  // runs at a checkpoint step they share, so a run resumed to a different target is not a different recipe.
  'steps',
];

export function fieldKind(field: string): DiffKind {
  if (MUST_MATCH.includes(field)) return 'refuse';
  if (LOSS_FIELDS.includes(field)) return 'loss';
  if (IGNORED.includes(field)) return 'ignore';
  return 'warn';
}

const text = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** The config fields whose values are not all equal, each with its kind and every run's value (baseline first). */
export function configDifferences(runs: RunRecord[]): ConfigDifference[] {
  const fields = [...new Set(runs.flatMap((r) => Object.keys(r.config)))];
  const out: ConfigDifference[] = [];
  for (const field of fields) {
    const values = runs.map((r) => ({ runId: r.id, value: text((r.config as Record<string, unknown>)[field]) }));
    if (new Set(values.map((v) => v.value)).size > 1) out.push({ field, kind: fieldKind(field), values });
  }
  const order: DiffKind[] = ['refuse', 'loss', 'warn', 'ignore'];
  return out.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
}

/** The study's runs, baseline first; unknown or repeated ids are refused by field. */
export function studyRuns(store: RunStore, baselineId: number, saIds: number[]): RunRecord[] {
  const ids = [baselineId, ...saIds];
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice !== undefined)
    throw new FieldError('saIds', `run #${twice} is named twice (each run takes one role)`, twice);
  return ids.map((id, i) => {
    const run = store.runs.get(id);
    if (!run) throw new FieldError(i === 0 ? 'baselineId' : 'saIds', `there is no run #${id}`, id);
    return run;
  });
}

/** Checkpoint steps every run has, newest last. */
export function commonSteps(store: RunStore, runs: RunRecord[]): number[] {
  const sets = runs.map((r) => new Set(store.checkpoints.list(r.id).map((c) => c.step)));
  return [...sets[0]!].filter((s) => sets.every((x) => x.has(s))).sort((a, b) => a - b);
}

/** Baseline mean |D_t| over each other run's, at the t values both curves have. */
export function gapRatios(base: GapRecord, others: GapRecord[]): GapRatio[] {
  const byT = new Map(base.t.map((t, i) => [t, base.meanAbs[i]!]));
  return others.map((g) => {
    const t: number[] = [];
    const ratio: (number | null)[] = [];
    g.t.forEach((tt, i) => {
      const b = byT.get(tt);
      if (b === undefined) return;
      t.push(tt);
      const v = g.meanAbs[i]!;
      ratio.push(v > 0 && Number.isFinite(b / v) ? b / v : null);
    });
    const finite = ratio.filter((r): r is number => r !== null);
    const at1 = t.indexOf(Math.min(...t));
    return {
      runId: g.runId,
      t,
      ratio,
      final: at1 >= 0 ? (ratio[at1] ?? null) : null,
      mean: finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : null,
    };
  });
}

export function studyGap(store: RunStore, runs: RunRecord[], t0: number, weights: 'raw' | 'ema'): StudyGap {
  const steps = commonSteps(store, runs);
  const step = steps.at(-1) ?? null;
  const notes: string[] = [];
  const curves: GapRecord[] = [];
  const missing: number[] = [];
  for (const run of runs) {
    const own = store.gaps.list(run.id).filter((g) => g.t0 === t0 && g.weights === weights);
    const at = step === null ? undefined : own.find((g) => g.step === step);
    if (!at) missing.push(run.id);
    const chosen = at ?? own.sort((a, b) => a.step - b.step).at(-1);
    if (chosen) curves.push(chosen);
    if (!at && chosen) {
      const where = step === null ? 'the runs share no checkpoint' : `no curve at the common checkpoint ${step}`;
      notes.push(`run #${run.id}: gap curve of step ${chosen.step} (${where})`);
    }
    if (!chosen) notes.push(`run #${run.id}: no gap curve from t0 = ${t0} with ${weights} weights`);
  }
  const base = curves.find((c) => c.runId === runs[0]!.id);
  const others = curves.filter((c) => c.runId !== runs[0]!.id);
  return { step, t0, weights, curves, ratios: base ? gapRatios(base, others) : [], missing, notes };
}

/** The feature space a study shows: the requested one, else Inception when any run has results there. */
function studySpace(store: RunStore, runs: RunRecord[], asked?: FeatureSpace): FeatureSpace {
  if (asked) return asked;
  return runs.some((r) => store.evals.list(r.id).some((e) => e.featureSpace === 'inception')) ? 'inception' : 'pixel';
}

export function studyMetrics(
  store: RunStore,
  runs: RunRecord[],
  q: { featureSpace: FeatureSpace; weights?: 'raw' | 'ema'; sampler?: EvalCurve['sampler'] },
): { metrics: StudyMetric[]; notes: string[] } {
  const runIds = runs.map((r) => r.id);
  const space = q.featureSpace;
  const metrics: StudyMetric[] = [];
  const notes: string[] = [];
  for (const metric of STORED_METRIC_NAMES) {
    const curves: EvalCurve[] = store.evals.curves({ runIds, metric, ...q });
    if (curves.length === 0) continue;
    metrics.push({ metric, featureSpace: space, curves });
    const steps = [...new Set(curves.map((c) => c.step))];
    if (steps.length > 1) {
      const at = runs.map((r) => `#${r.id} at ${curves.find((c) => c.runId === r.id)?.step ?? '-'}`).join(', ');
      notes.push(`${metric}: the runs' latest results are of different checkpoints (${at})`);
    }
  }
  return { metrics, notes };
}

export function studyRunList(store: RunStore, runs: RunRecord[]): StudyRun[] {
  return runs.map((r, i) => ({
    id: r.id,
    name: r.name,
    loss: lossLabel(r),
    role: i === 0 ? 'baseline' : 'sa',
    // A run stopped between logged steps has trained (and checkpointed) past its last logged step.
    step: Math.max(r.step, store.checkpoints.latest(r.id)?.step ?? 0),
    seed: r.seed,
  }));
}

/** The study as the store has it (no engine): what differs, the gap and its ratio, the metric curves. */
export function buildStudy(store: RunStore, input: StudyRequest): Study {
  const req = StudyRequestSchema.parse(input);
  const runs = studyRuns(store, req.baselineId, req.saIds);
  const differences = configDifferences(runs);
  const refused = differences.filter((d) => d.kind === 'refuse');
  const notes: string[] = [];
  if (isSaActive(runs[0]!)) notes.push(`the baseline #${runs[0]!.id} trains with the SA loss (${lossLabel(runs[0]!)})`);
  for (const r of runs.slice(1))
    if (!isSaActive(r)) notes.push(`run #${r.id} does not use the SA loss (k ${r.k}, λ ${r.lambda})`);
  const warned = differences.filter((d) => d.kind === 'warn').map((d) => d.field);
  if (warned.length) notes.push(`the training recipe differs (${warned.join(', ')}): a confound for the comparison`);
  const t0 = req.t0 ?? runs[0]!.config.gapT0;
  const maxT = Math.min(...runs.map((r) => r.config.T));
  if (t0 > maxT) throw new FieldError('t0', `expected an integer in 1..${maxT} (the runs' T)`, t0);
  const gap = studyGap(store, runs, t0, req.gapEma ? 'ema' : 'raw');
  const space = studySpace(store, runs, req.featureSpace);
  const m = studyMetrics(store, runs, { featureSpace: space, weights: req.metricWeights, sampler: req.sampler });
  const anyMetric = m.metrics.length > 0;
  return {
    runs: studyRunList(store, runs),
    differences,
    comparable: refused.length === 0,
    gap,
    metrics: m.metrics,
    spaceLabel: anyMetric ? (space === 'pixel' ? PIXEL_SPACE_LABEL : INCEPTION_SPACE_LABEL) : null,
    notes: [...notes, ...gap.notes, ...m.notes],
  };
}

/** Refuses a study whose runs differ in data, model or diffusion, naming each such field and its values. */
export function assertComparable(study: Study): void {
  const refused = study.differences.filter((d) => d.kind === 'refuse');
  if (refused.length === 0) return;
  const list = refused.map((d) => `${d.field} (${d.values.map((v) => `#${v.runId} ${v.value}`).join(' vs ')})`);
  throw new Error(`the runs do not share data, model and diffusion: ${list.join('; ')}`);
}
