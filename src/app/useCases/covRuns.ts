/**
 * Covariance runs (issue 13): an NPR-DPM or SN-DPM head trained on the frozen network of one checkpoint of a
 * training run, stored as that run's child (kind 'cov', parentId, its CovConfig) and trained through the run queue
 * like any run. `sadpm train-cov` and the app's "Train covariance head" create them here; the npr-* / sn-*
 * samplers find their head here.
 */
import { COV_HEAD_KINDS, CovConfigSchema, type CovConfig, type CovHeadKindName } from '../../shared/covConfig';
import type { Backend } from '../../shared/config';
import { FieldError } from '../../shared/errors';
import type { RunRecord } from '../../shared/records';
import type { RunStore } from '../../store/runStore';
import { appVersion } from '../appVersion';
import { runCheckpoint } from './checkpointTarget';

export interface CreateCovRequest {
  kind: CovHeadKindName;
  steps: number;
  /** The parent's checkpoint whose network the head reads; default its latest. */
  checkpoint?: 'latest' | number;
  /**
   * Freeze the EMA weights (as the official code does) or the raw ones. Each front door sets it the way it sets
   * sampling's weights (the CLI: raw unless --ema), so a head is found for the weights one samples with.
   */
  ema: boolean;
  batch?: number;
  lr?: number;
  seed?: number;
  name?: string;
  backend?: Backend;
  checkpointEvery?: number;
  logEvery?: number;
  tags?: string[];
  notes?: string;
}

/** Validates and stores a covariance run under `parent` (status queued); the run queue trains it. */
export function createCovRun(store: RunStore, parent: RunRecord, req: CreateCovRequest): RunRecord {
  if (parent.kind !== 'train') {
    throw new Error(`run #${parent.id} is a covariance run; train a head on a training run (its parent)`);
  }
  if (!COV_HEAD_KINDS.includes(req.kind)) {
    throw new FieldError('kind', `expected one of ${COV_HEAD_KINDS.join(', ')}`, String(req.kind));
  }
  const ck = runCheckpoint(store, parent, req.checkpoint ?? 'latest').checkpoint;
  const ema = req.ema;
  if (ema && !(parent.config.emaDecay > 0)) {
    throw new FieldError('ema', `run #${parent.id} keeps no EMA of its weights (emaDecay 0): use the raw weights`);
  }
  const name = req.name || `${parent.name}-${req.kind}-s${ck.step}${ema ? '-ema' : ''}`;
  const raw = {
    kind: req.kind,
    name,
    seed: req.seed,
    backend: req.backend ?? parent.config.backend,
    base: { runDir: parent.runDir, checkpoint: ck.path, step: ck.step, ema },
    steps: req.steps,
    batch: req.batch,
    lr: req.lr,
    checkpointEvery: req.checkpointEvery,
    logEvery: req.logEvery,
  };
  const parsed = CovConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    const field = String(i.path[0] ?? 'cov');
    const value = (raw as Record<string, unknown>)[field];
    throw new FieldError(field, i.message, typeof value === 'number' || typeof value === 'string' ? value : undefined);
  }
  return store.runs.create({
    name,
    config: parent.config,
    datasetId: parent.datasetId,
    kind: 'cov',
    parentId: parent.id,
    cov: parsed.data,
    tags: req.tags ?? [],
    notes: req.notes ?? '',
    appVersion: appVersion(),
  });
}

/** Covariance runs of `run` trained on its checkpoint `step` with these weights (newest first). */
export function covRunsOn(store: RunStore, run: RunRecord, step: number, ema: boolean, kind?: CovHeadKindName) {
  return store.runs
    .list({ kind: 'cov', parentId: run.id, limit: 10_000 })
    .filter((r) => r.cov && r.cov.base.step === step && r.cov.base.ema === ema && (!kind || r.cov.kind === kind));
}

export interface ResolvedHead {
  covRun: RunRecord & { cov: CovConfig };
  /** Its latest head checkpoint (.sadpm-cov). */
  path: string;
  step: number;
}

/**
 * The head an npr-* / sn-* sampler uses on checkpoint `step` of `run`: the covariance run asked for, or else the
 * newest completed one of that kind on this checkpoint and weights. The error says how to train one.
 */
export function resolveCovHead(
  store: RunStore,
  run: RunRecord,
  want: { step: number; ema: boolean; kind: CovHeadKindName; covRunId?: number },
  field = 'covRun',
): ResolvedHead {
  const weights = want.ema ? 'EMA' : 'raw';
  const KIND = want.kind.toUpperCase();
  const on = `checkpoint ${want.step} (${weights} weights) of run #${run.id}`;
  const withHead = (r: RunRecord) => {
    const ck = store.checkpoints.latest(r.id);
    return ck ? { covRun: r as ResolvedHead['covRun'], path: ck.path, step: ck.step } : undefined;
  };
  if (want.covRunId !== undefined) {
    const r = store.runs.get(want.covRunId);
    const id = want.covRunId;
    if (!r || r.kind !== 'cov' || !r.cov) throw new FieldError(field, `run #${id} is not a covariance run`, id);
    if (r.parentId !== run.id || r.cov.base.step !== want.step || r.cov.base.ema !== want.ema) {
      const b = r.cov.base;
      const its = `checkpoint ${b.step} (${b.ema ? 'EMA' : 'raw'} weights) of run #${r.parentId}`;
      throw new FieldError(field, `covariance run #${id} was trained on ${its}, not on ${on}`, id);
    }
    if (r.cov.kind !== want.kind) {
      throw new FieldError(field, `covariance run #${id} holds an ${r.cov.kind.toUpperCase()} head, not ${KIND}`, id);
    }
    const found = withHead(r);
    if (!found) throw new FieldError(field, `covariance run #${id} has no checkpoint yet (it is ${r.status})`, id);
    return found;
  }
  const done = covRunsOn(store, run, want.step, want.ema, want.kind).filter((r) => r.status === 'completed');
  for (const r of done) {
    const found = withHead(r);
    if (found) return found;
  }
  const how =
    `sadpm train-cov ${run.id} --checkpoint ${want.step}${want.ema ? ' --ema' : ''} --kind ${want.kind} ` +
    '--steps N, or "Train covariance head" in the Runs view';
  // A FieldError of `field`: the CLI names its flag (--cov-run), where a trained head would be chosen.
  throw new FieldError(field, `no completed ${KIND} covariance head on ${on}: train one first (${how})`);
}
