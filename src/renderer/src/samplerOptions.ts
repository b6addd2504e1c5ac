/**
 * The eight samplers as the forms offer them (issue 13), and the covariance runs an npr-* / sn-* sampler can use:
 * the children of a run trained on one checkpoint and weights.
 */
import { SAMPLER_NAMES, samplerParts, type SamplerName } from '../../shared/config';
import type { RunRecord } from '../../shared/records';

export const SAMPLER_LABELS: Record<SamplerName, string> = {
  ddim: 'DDIM',
  ddpm: 'DDPM',
  'analytic-ddpm': 'Analytic-DPM (DDPM)',
  'analytic-ddim': 'Analytic-DPM (DDIM)',
  'npr-ddpm': 'NPR-DPM (DDPM)',
  'npr-ddim': 'NPR-DPM (DDIM)',
  'sn-ddpm': 'SN-DPM (DDPM)',
  'sn-ddim': 'SN-DPM (DDIM)',
};

export const SAMPLER_CHOICES = SAMPLER_NAMES.map((value) => ({ value, label: SAMPLER_LABELS[value] }));

/** η is the DDIM family's (plain DDIM and the variance samplers on the DDIM mean). */
export function usesEta(sampler: SamplerName): boolean {
  return samplerParts(sampler).family === 'ddim';
}

/** The head kind an npr-* / sn-* sampler needs, else null. */
export function headKind(sampler: SamplerName): 'npr' | 'sn' | null {
  const v = samplerParts(sampler).variance;
  return v === 'npr' || v === 'sn' ? v : null;
}

/** Covariance runs of run `runId` trained on checkpoint `step` with these weights, newest first. */
export function headsOn(all: readonly RunRecord[], runId: number, step: number, ema: boolean): RunRecord[] {
  return all
    .filter((r) => r.kind === 'cov' && r.parentId === runId && r.cov?.base.step === step && r.cov.base.ema === ema)
    .sort((a, b) => b.id - a.id);
}

export function headLabel(r: RunRecord): string {
  const at = r.lastCheckpointStep !== null ? `step ${r.lastCheckpointStep}` : 'no checkpoint yet';
  return `#${r.id} ${r.name} · ${r.status} · ${at}`;
}

/** A list with each covariance run right after its parent when both are in it (parents keep their order). */
export function nestRuns(list: readonly RunRecord[]): RunRecord[] {
  const ids = new Set(list.map((r) => r.id));
  const children = new Map<number, RunRecord[]>();
  for (const r of list) {
    if (r.parentId !== null && ids.has(r.parentId)) {
      (children.get(r.parentId) ?? children.set(r.parentId, []).get(r.parentId)!).push(r);
    }
  }
  const out: RunRecord[] = [];
  for (const r of list) {
    if (r.parentId !== null && ids.has(r.parentId)) continue;
    out.push(r, ...(children.get(r.id) ?? []));
  }
  return out;
}
