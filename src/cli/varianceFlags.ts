/** The variance samplers' flags of `sadpm sample` (issue 13), and how the source a grid used is printed. */
import { samplerParts, type SamplerName } from '../shared/config';
import type { VarianceRequest, VarianceUsed } from '../app/useCases/sampleVariance';
import { resolve } from 'node:path';
import { flagString, optionalPositiveInt, type ParsedArgs } from './args';

export const VARIANCE_FLAGS = ['gamma-images', 'gamma-seed', 'cov-run', 'cov-head-file'];

/**
 * --gamma-images/--gamma-seed (analytic-*) and --cov-run or --cov-head-file (npr-*, sn-*); a flag the sampler does
 * not read is refused.
 */
export function varianceFromFlags(args: ParsedArgs, sampler: SamplerName): VarianceRequest {
  const need = samplerParts(sampler).variance;
  const uses = need === 'gamma' ? ['gamma-images', 'gamma-seed'] : need === 'none' ? [] : ['cov-run', 'cov-head-file'];
  for (const f of VARIANCE_FLAGS) {
    if (args.flags.has(f) && !uses.includes(f)) {
      const which = f.startsWith('cov-') ? 'npr-* and sn-* samplers' : 'analytic-* samplers';
      throw new Error(`--${f}: only the ${which} read it (the sampler is ${sampler})`);
    }
  }
  const seed = args.flags.get('gamma-seed');
  if (seed !== undefined && (seed === true || !/^\d+$/.test(seed))) {
    throw new Error(`--gamma-seed: expected an integer >= 0, got '${seed === true ? '' : seed}'`);
  }
  const cov = args.flags.get('cov-run');
  if (cov !== undefined && (cov === true || !/^#?\d+$/.test(cov))) {
    throw new Error(`--cov-run: expected a covariance run's id (e.g. 7 or #7), got '${cov === true ? '' : cov}'`);
  }
  const headFile = flagString(args.flags, 'cov-head-file');
  if (cov !== undefined && headFile !== undefined) throw new Error('--cov-run and --cov-head-file: give one of them');
  return {
    gammaImages: optionalPositiveInt(args, 'gamma-images'),
    gammaSeed: seed === undefined ? undefined : Number(seed),
    covRun: cov === undefined ? undefined : Number(cov.replace(/^#/, '')),
    covHeadFile: headFile === undefined ? undefined : resolve(headFile),
  };
}

/** A line naming the grid's variance source, or null for ddpm and ddim. */
export function describeVariance(v: VarianceUsed): string | null {
  if (v.kind === 'none') return null;
  if (v.kind === 'gamma') return `Γ estimate ${v.key} (${v.cached ? 'from the cache' : 'estimated now, cached'})`;
  const run = v.covRunId === null ? '' : `covariance run #${v.covRunId}, checkpoint step ${v.step} `;
  return `${v.head.toUpperCase()} head: ${run}${v.covRunId === null ? v.path : `(${v.path})`}`;
}
