/**
 * Issue 12/15: samples from one fixed noise at every checkpoint of a run (or every k-th, or chosen steps), as a
 * strip over training. Each checkpoint's column is an ordinary sample record, so a checkpoint already sampled
 * with the same settings is never sampled again; the missing ones go to one engine 'strip' job (progress,
 * cancel; columns finished before a cancel are kept). The same seed gives the same noise at every checkpoint,
 * as in Compare. The app's Gallery and `sadpm strip` come here.
 */
import { StripJobResultSchema, type StripJob } from '../../shared/engineMessages';
import { StripSettingsSchema, type StripColumn, type StripResult, type StripSettings } from '../../shared/strip';
import { FieldError } from '../../shared/errors';
import { parseGammaEstimate } from '../../shared/gammaEstimate';
import { samplerParts, type Backend } from '../../shared/config';
import type { CheckpointRecord, RunRecord } from '../../shared/records';
import type { RunStore } from '../../store/runStore';
import { sampleRecordOf } from '../../store/recorder';
import { runEngineJob, type JobOptions } from '../engineJob';
import type { SpawnEngine } from '../engineProcess';
import { runCheckpoint, type StoredCheckpoint } from './checkpointTarget';
import { resolveSampleVariance, type ResolvedVariance } from './sampleVariance';
import { cacheGamma } from './gammaEstimate';
import { findColumn, stripPath, writeStrip } from './stripFiles';

export interface StripRequest extends StripSettings {
  /** Images per network call (does not change the images). */
  batchSize?: number;
  backend?: Backend;
  /** The strip PNG (default: stripPath, beside the run's samples). */
  out?: string;
}

interface PlannedColumn extends StripColumn {
  target: StoredCheckpoint;
  variance: ResolvedVariance | null;
}

/** Every k-th checkpoint from the first, the latest always included; or exactly the steps asked for. */
export function chooseCheckpoints(all: CheckpointRecord[], every: number, steps?: number[]): CheckpointRecord[] {
  const sorted = [...all].sort((a, b) => a.step - b.step);
  if (steps) {
    const missing = steps.filter((s) => !sorted.some((c) => c.step === s));
    if (missing.length > 0) {
      const have = sorted.map((c) => c.step).join(', ');
      throw new FieldError('checkpoints', `the run has no checkpoint at step ${missing.join(', ')} (it has ${have})`);
    }
    return sorted.filter((c) => steps.includes(c.step));
  }
  return sorted.filter((_, i) => i % every === 0 || i === sorted.length - 1);
}

function parseSettings(run: RunRecord, request: StripSettings) {
  const parsed = StripSettingsSchema.safeParse(request);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? 'settings');
    const value = (request as Record<string, unknown>)[field];
    throw new FieldError(
      field,
      issue.message,
      typeof value === 'number' || typeof value === 'string' ? value : undefined,
    );
  }
  const s = parsed.data;
  if (s.steps > run.T) {
    throw new FieldError('steps', `this run has T = ${run.T} diffusion steps; give ${run.T} or fewer`, s.steps);
  }
  return s;
}

function planColumns(store: RunStore, run: RunRecord, request: StripSettings): PlannedColumn[] {
  const s = parseSettings(run, request);
  runCheckpoint(store, run, 'latest');
  const need = samplerParts(s.sampler).variance;
  return chooseCheckpoints(store.checkpoints.list(run.id), s.every, s.checkpoints).map((ck) => {
    const target: StoredCheckpoint = { kind: 'stored', run, checkpoint: ck };
    const base = { checkpointId: ck.id, step: ck.step, target };
    let variance: ResolvedVariance;
    try {
      variance = resolveSampleVariance(store, target, s, { gammaImages: s.gammaImages, gammaSeed: s.gammaSeed });
    } catch (err) {
      // A head is trained on one checkpoint: the others have none, and the strip goes on without them.
      if (need !== 'npr' && need !== 'sn') throw err;
      const why = err instanceof FieldError ? err.detail : (err as Error).message;
      return { ...base, sample: null, skipped: why, variance: null };
    }
    const sample = findColumn(store.samples.ofCheckpoint(ck.id), s, variance.used);
    return { ...base, sample, skipped: null, variance };
  });
}

const publicColumn = ({ checkpointId, step, sample, skipped }: PlannedColumn): StripColumn => ({
  checkpointId,
  step,
  sample,
  skipped,
});

/** The strip's columns from the store alone: the ones already sampled with these settings show at once. */
export function planStrip(store: RunStore, run: RunRecord, request: StripSettings): StripColumn[] {
  return planColumns(store, run, request).map(publicColumn);
}

export async function sampleStrip(
  deps: { store: RunStore; spawn: SpawnEngine },
  run: RunRecord,
  request: StripRequest,
  opts: JobOptions = {},
): Promise<StripResult> {
  const { store } = deps;
  const s = parseSettings(run, request);
  const out = request.out ?? stripPath(run, s);
  if (!/\.png$/i.test(out)) throw new FieldError('out', 'expected a file name ending in .png', out);
  const plan = planColumns(store, run, request);
  const usable = plan.filter((c) => !c.skipped);
  if (usable.length === 0) {
    throw new FieldError('sampler', `no checkpoint of run #${run.id} can be sampled: ${plan[0]!.skipped}`, s.sampler);
  }
  const todo = usable.filter((c) => !c.sample);
  const sampled: number[] = [];
  if (todo.length > 0) {
    const { n, sampler, steps, spacing, eta, seed, ema } = s;
    const job: StripJob = {
      ...{ runDir: run.runDir, n, sampler, steps, spacing, eta, seed, ema },
      ...(request.batchSize ? { batchSize: request.batchSize } : {}),
      ...(request.backend ? { backend: request.backend } : {}),
      columns: todo.map((c) => ({ checkpointPath: c.target.checkpoint.path, ...c.variance!.fields })),
    };
    const result = StripJobResultSchema.parse(
      await runEngineJob(deps.spawn, (jobId) => ({ cmd: 'strip', jobId, job }), opts),
    );
    result.columns.forEach(({ gamma, ...message }, i) => {
      const c = todo[i]!;
      if (message.step !== c.step) throw new Error(`the strip job answered step ${message.step} for ${c.step}`);
      if (gamma !== undefined) cacheGamma(store, c.target, parseGammaEstimate(gamma, "the strip job's Γ estimate"));
      c.sample = store.samples.add(sampleRecordOf(message, run.id, c.checkpointId));
      sampled.push(c.step);
    });
    if (result.stopped) {
      const kept = `the ${sampled.length} column(s) sampled before it are kept`;
      if (result.stopped.cancelled) throw new Error(`cancelled (${kept})`);
      throw new Error(`checkpoint ${todo[sampled.length]!.step}: ${result.stopped.error} (${kept})`);
    }
  }
  const columns = usable.map((c) => ({ step: c.step, sample: c.sample! }));
  const files = writeStrip(run, s, columns, out);
  return { ...files, columns: plan.map(publicColumn), sampled };
}
