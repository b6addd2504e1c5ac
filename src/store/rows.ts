/**
 * Table rows as the records of src/shared/records: snake_case columns to camelCase fields, JSON columns
 * parsed, SQLite's 0/1 to booleans.
 */
import type {
  CheckpointRecord,
  DatasetRecord,
  EvalResult,
  EvalSummary,
  GapRecord,
  RunRecord,
  RunStatus,
  SampleRecord,
} from '../shared/records';
import type { Row } from './db';

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: unknown): string | null => (v as string | null | undefined) ?? null;

/** `tags` and `lastCheckpointStep` come from other tables: the caller joins or looks them up. */
export function toRun(r: Row, tags: string[], lastCk: unknown): RunRecord {
  return {
    id: Number(r.id),
    name: String(r.name),
    status: r.status as RunStatus,
    config: JSON.parse(String(r.config)),
    datasetId: numOrNull(r.dataset_id),
    dataset: String(r.dataset),
    preset: String(r.preset),
    k: Number(r.k),
    lambda: Number(r.lambda),
    T: Number(r.T),
    seed: Number(r.seed),
    step: Number(r.step),
    totalSteps: Number(r.total_steps),
    runDir: String(r.run_dir),
    backend: strOrNull(r.backend),
    adapter: strOrNull(r.adapter),
    appVersion: String(r.app_version),
    notes: String(r.notes),
    tags,
    failureReason: strOrNull(r.failure_reason),
    createdAt: String(r.created_at),
    startedAt: strOrNull(r.started_at),
    endedAt: strOrNull(r.ended_at),
    lastLoss: numOrNull(r.last_loss),
    lastCheckpointStep: numOrNull(lastCk),
    kind: r.kind === 'cov' ? 'cov' : 'train',
    parentId: numOrNull(r.parent_id),
    cov: r.cov ? JSON.parse(String(r.cov)) : null,
    summary: {
      lastSimple: numOrNull(r.last_simple),
      lastSa: numOrNull(r.last_sa),
      imagesPerSec: numOrNull(r.last_ips),
      finalGap: numOrNull(r.final_gap),
      durationSec: durationOf(r),
    },
  };
}

/** Seconds from the first start to the end, or to now while unfinished (the listing computes it in SQL). */
function durationOf(r: Row): number | null {
  if (r.duration_sec !== undefined) return numOrNull(r.duration_sec);
  if (!r.started_at) return null;
  const end = r.ended_at ? Date.parse(String(r.ended_at)) : Date.now();
  return (end - Date.parse(String(r.started_at))) / 1000;
}

export function toDataset(r: Row): DatasetRecord {
  return {
    id: Number(r.id),
    name: String(r.name),
    source: String(r.source),
    format: String(r.format),
    count: Number(r.count),
    height: Number(r.height),
    width: Number(r.width),
    channels: Number(r.channels),
    checksum: String(r.checksum),
    path: String(r.path),
    previewPath: strOrNull(r.preview_path),
    bytes: Number(r.bytes),
    classCounts: r.class_counts ? JSON.parse(String(r.class_counts)) : null,
    classNames: r.class_names ? JSON.parse(String(r.class_names)) : null,
    good: Number(r.good),
    skipped: JSON.parse(String(r.skipped)),
    createdAt: String(r.created_at),
  };
}

export function toCheckpoint(r: Row): CheckpointRecord {
  return {
    id: Number(r.id),
    runId: Number(r.run_id),
    step: Number(r.step),
    kind: r.kind as CheckpointRecord['kind'],
    path: String(r.path),
    bytes: Number(r.bytes),
    metrics: JSON.parse(String(r.metrics)),
    createdAt: String(r.created_at),
  };
}

export function toSample(r: Row): SampleRecord {
  return {
    id: Number(r.id),
    runId: Number(r.run_id),
    checkpointId: numOrNull(r.checkpoint_id),
    step: Number(r.step),
    sampler: String(r.sampler),
    sampleSteps: Number(r.sample_steps),
    spacing: strOrNull(r.spacing),
    eta: numOrNull(r.eta),
    seed: numOrNull(r.seed),
    n: Number(r.n),
    ema: Number(r.ema) === 1,
    path: String(r.path),
    createdAt: String(r.created_at),
  };
}

export function toGap(r: Row): GapRecord {
  return {
    runId: Number(r.run_id),
    step: Number(r.step),
    t0: Number(r.t0),
    weights: r.weights === 'ema' ? 'ema' : 'raw',
    n: numOrNull(r.n),
    t: JSON.parse(String(r.t)),
    meanAbs: JSON.parse(String(r.mean_abs)),
    l2: JSON.parse(String(r.l2)),
    signedMean: JSON.parse(String(r.signed_mean)),
  };
}

export function toEvalSummary(r: Row): EvalSummary {
  return {
    metric: String(r.metric),
    featureSpace: r.feature_space as EvalSummary['featureSpace'],
    value: Number(r.value),
    std: numOrNull(r.std),
    step: Number(r.step),
    weights: r.weights === 'ema' ? 'ema' : 'raw',
    sampler: r.sampler as EvalSummary['sampler'],
    sampleSteps: Number(r.sample_steps),
    n: Number(r.n),
    createdAt: String(r.created_at),
  };
}

export function toEvalResult(r: Row): EvalResult {
  return {
    ...toEvalSummary(r),
    id: Number(r.id),
    runId: Number(r.run_id),
    variance: String(r.variance ?? 'none'),
    varianceRef: strOrNull(r.variance_ref),
    spacing: r.spacing as EvalResult['spacing'],
    eta: Number(r.eta),
    seed: Number(r.seed),
    featuresSha256: strOrNull(r.features_sha256),
    refKey: String(r.ref_key),
    seconds: Number(r.seconds),
  };
}
