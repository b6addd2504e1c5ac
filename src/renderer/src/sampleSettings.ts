/** Sampling settings and job results shared by the gallery, compare and export. */
import type { SampleSettings } from '../../shared/contract';
import { SampleRecordSchema, type SampleRecord } from '../../shared/records';

export function defaultSettings(): SampleSettings {
  return { n: 16, sampler: 'ddim', steps: 50, spacing: 'uniform', eta: 0, seed: 0, ema: true };
}

/** The image path a finished sampling/export job reports (a SampleRecord, or {path}, or {sample}). */
export function resultPath(r: unknown): string | null {
  if (!r || typeof r !== 'object') return null;
  const o = r as Record<string, unknown>;
  if (typeof o.path === 'string') return o.path;
  for (const k of ['sample', 'record', 'grid', 'png']) {
    const inner = o[k];
    if (typeof inner === 'string') return inner;
    const path = inner && typeof inner === 'object' ? (inner as Record<string, unknown>).path : undefined;
    if (typeof path === 'string') return path;
  }
  return null;
}

export function resultRecord(r: unknown): SampleRecord | null {
  const direct = SampleRecordSchema.safeParse(r);
  if (direct.success) return direct.data;
  if (r && typeof r === 'object' && 'sample' in r) {
    const inner = SampleRecordSchema.safeParse((r as { sample: unknown }).sample);
    if (inner.success) return inner.data;
  }
  return null;
}

/** A stored grid that was made from this checkpoint with exactly these settings. */
export function findMatching(
  samples: SampleRecord[],
  checkpointId: number,
  s: SampleSettings,
): SampleRecord | undefined {
  return samples.find(
    (r) =>
      r.checkpointId === checkpointId &&
      r.sampler === s.sampler &&
      r.sampleSteps === s.steps &&
      (r.spacing ?? 'uniform') === s.spacing &&
      (s.sampler === 'ddpm' || (r.eta ?? 0) === s.eta) &&
      r.seed === s.seed &&
      r.n === s.n &&
      r.ema === s.ema,
  );
}

export function describeSettings(
  s: Pick<SampleSettings, 'sampler' | 'steps' | 'spacing' | 'eta' | 'seed' | 'ema'> & { n?: number },
): string {
  const parts = [`${s.sampler.toUpperCase()} ${s.steps} steps`, s.spacing];
  if (s.sampler === 'ddim') parts.push(`η ${s.eta}`);
  parts.push(`seed ${s.seed}`, s.ema ? 'EMA' : 'raw');
  if (s.n !== undefined) parts.push(`n ${s.n}`);
  return parts.join(' · ');
}
