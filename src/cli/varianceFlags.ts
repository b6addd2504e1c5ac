/** The variance samplers' flags of `sadpm sample` (issue 13), and how the source a grid used is printed. */
import { samplerParts, type SamplerName } from '../shared/config';
import type { VarianceRequest, VarianceUsed } from '../app/useCases/sampleVariance';
import { optionalPositiveInt, type ParsedArgs } from './args';

export const VARIANCE_FLAGS = ['gamma-images', 'gamma-seed', 'cov-run'];

/** --gamma-images/--gamma-seed (analytic-*) and --cov-run (npr-*, sn-*); a flag the sampler does not read is refused. */
export function varianceFromFlags(args: ParsedArgs, sampler: SamplerName): VarianceRequest {
  const need = samplerParts(sampler).variance;
  const uses = need === 'gamma' ? ['gamma-images', 'gamma-seed'] : need === 'none' ? [] : ['cov-run'];
  for (const f of VARIANCE_FLAGS) {
    if (args.flags.has(f) && !uses.includes(f)) {
      const which = f === 'cov-run' ? 'npr-* and sn-* samplers' : 'analytic-* samplers';
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
  return {
    gammaImages: optionalPositiveInt(args, 'gamma-images'),
    gammaSeed: seed === undefined ? undefined : Number(seed),
    covRun: cov === undefined ? undefined : Number(cov.replace(/^#/, '')),
  };
}

/** A line naming the grid's variance source, or null for ddpm and ddim. */
export function describeVariance(v: VarianceUsed): string | null {
  if (v.kind === 'none') return null;
  if (v.kind === 'gamma') return `Γ estimate ${v.key} (${v.cached ? 'from the cache' : 'estimated now, cached'})`;
  return `${v.head.toUpperCase()} head: covariance run #${v.covRunId}, checkpoint step ${v.step} (${v.path})`;
}
