/** Sampling settings shared by the gallery, compare and export. */
import type { SampleSettings } from '../../shared/contract';
import type { SampleRecord } from '../../shared/records';

export function defaultSettings(): SampleSettings {
  return { n: 16, sampler: 'ddim', steps: 50, spacing: 'uniform', eta: 0, seed: 0, ema: true };
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
