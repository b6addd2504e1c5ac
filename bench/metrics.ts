/**
 * Time of the metric maths at the standard sizes, on random features:
 *   node --import tsx bench/metrics.ts [--dim 2048] [--n 10000] [--parts sqrtm,kid,pr] [--backend auto]
 *   sqrtm: tr √(Σ₁Σ₂) of two d×d covariances in float64 on the CPU, both methods (FID's cost besides the features);
 *   kid:   100 subsets of 1000 from n real and n generated features (tfjs kernels on the active backend);
 *   pr:    precision/recall with k = 3 on n vs n features (tfjs kernels).
 * Prints one human line and one BENCH_JSON line per part.
 */
import { parseArgs, flagNumber, flagString } from '../src/cli/args';
import { describeBackend, initBackend } from '../src/engine/backend';
import type { Backend } from '../src/shared/config';
import { Rng } from '../src/engine/rng';
import { traceSqrtProduct } from '../src/engine/metrics/frechet';
import { gemmNT } from '../src/engine/metrics/linalg';
import { kernelInceptionDistance } from '../src/engine/metrics/kid';
import { precisionRecall } from '../src/engine/metrics/precisionRecall';
import { tfKernels } from '../src/engine/metrics/tfKernels';
import type { FeatureMatrix } from '../src/engine/metrics/features';

/** A d×d sample covariance of 2d Gaussian vectors (full rank, a realistic spread of eigenvalues). */
function covariance(d: number, seed: number): Float64Array {
  const g = Float64Array.from(Rng.keyed(seed, 1).normal(d * 2 * d));
  const c = gemmNT(g, d, 2 * d, g, d, { symmetric: true });
  for (let i = 0; i < c.length; i++) c[i] = c[i]! / (2 * d);
  return c;
}

function features(n: number, d: number, seed: number, shift: number): FeatureMatrix {
  // post-ReLU-like features: |N(0,1)| + shift
  return {
    rows: n,
    dim: d,
    data: Rng.keyed(seed, 2)
      .normal(n * d)
      .map((v) => Math.abs(v) + shift),
  };
}

function report(part: string, seconds: number, extra: Record<string, unknown>): void {
  console.log(`${part}: ${seconds.toFixed(2)} s ${JSON.stringify(extra)}`);
  console.log(`BENCH_JSON ${JSON.stringify({ kind: 'metrics', part, seconds: +seconds.toFixed(3), ...extra })}`);
}

async function main(): Promise<void> {
  const { flags } = parseArgs(['bench', ...process.argv.slice(2)]);
  const d = flagNumber(flags, 'dim', 2048);
  const n = flagNumber(flags, 'n', 10_000);
  const parts = (flagString(flags, 'parts') ?? 'sqrtm,kid,pr').split(',');
  if (parts.includes('sqrtm')) {
    const [s1, s2] = [covariance(d, 1), covariance(d, 2)];
    for (const method of (flagString(flags, 'methods') ?? 'cholesky,eigh').split(',') as ('cholesky' | 'eigh')[]) {
      const t0 = performance.now();
      const tr = traceSqrtProduct(s1, s2, d, method);
      report('sqrtm', (performance.now() - t0) / 1000, { method, dim: d, traceSqrt: tr });
    }
  }
  if (parts.includes('kid') || parts.includes('pr')) {
    const info = await initBackend((flagString(flags, 'backend') ?? 'auto') as Backend);
    console.log(`# backend ${describeBackend(info)}; ${n} vs ${n} features of ${d}`);
    const real = features(n, d, 3, 0);
    const fake = features(n, d, 4, 0.05);
    if (parts.includes('kid')) {
      const t0 = performance.now();
      const kid = await kernelInceptionDistance(real, fake, { kernels: tfKernels });
      report('kid', (performance.now() - t0) / 1000, { backend: info.name, n, dim: d, mean: kid.mean, std: kid.std });
    }
    if (parts.includes('pr')) {
      const t0 = performance.now();
      const pr = await precisionRecall(real, fake, { kernels: tfKernels });
      report('pr', (performance.now() - t0) / 1000, {
        backend: info.name,
        n,
        dim: d,
        precision: pr.precision,
        recall: pr.recall,
      });
    }
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
