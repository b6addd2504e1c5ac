/** Sampling settings shared by the gallery, compare and export. */
import type { SampleSettings } from '../../shared/contract';
import type { SampleRecord } from '../../shared/records';
import { samplerParts } from '../../shared/config';
import { usesEta } from './samplerOptions';

export function defaultSettings(): SampleSettings {
  return { n: 16, sampler: 'ddim', steps: 50, spacing: 'uniform', eta: 0, seed: 0, ema: true };
}

/**
 * A stored grid that was made from this checkpoint with exactly these settings. A variance sampler's grid also
 * depends on its Γ estimate or head, which a sample record does not hold, so those are always sampled anew.
 */
export function findMatching(
  samples: SampleRecord[],
  checkpointId: number,
  s: SampleSettings,
): SampleRecord | undefined {
  if (samplerParts(s.sampler).variance !== 'none') return undefined;
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
  s: Pick<SampleSettings, 'sampler' | 'steps' | 'spacing' | 'eta' | 'seed' | 'ema' | 'variance'> & { n?: number },
): string {
  const parts = [`${s.sampler.toUpperCase()} ${s.steps} steps`, s.spacing];
  if (usesEta(s.sampler)) parts.push(`η ${s.eta}`);
  const v = samplerParts(s.sampler).variance;
  if (v === 'gamma' && s.variance?.gammaImages !== undefined) parts.push(`Γ over ${s.variance.gammaImages} images`);
  if (v === 'gamma' && s.variance?.gammaSeed !== undefined) parts.push(`Γ seed ${s.variance.gammaSeed}`);
  if ((v === 'npr' || v === 'sn') && s.variance?.covRun !== undefined) parts.push(`head #${s.variance.covRun}`);
  parts.push(`seed ${s.seed}`, s.ema ? 'EMA' : 'raw');
  if (s.n !== undefined) parts.push(`n ${s.n}`);
  return parts.join(' · ');
}
