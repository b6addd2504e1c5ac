/**
 * The Sweeps view's arrangement of a sweep's cells (issue 16): a K × λ grid whose squares hold one run per
 * seed, and the results grouped by the swept fields (K, λ) with their seeds pooled.
 */
import type { SweepCell } from '../../shared/sweep';

export interface SweepGrid {
  ks: number[];
  lambdas: number[];
  /** rows[i][j]: the cells of ks[i] × lambdas[j], in seed order. */
  rows: SweepCell[][][];
}

const asc = (a: number, b: number) => a - b;

export function sweepGrid(cells: readonly SweepCell[]): SweepGrid {
  const ks = [...new Set(cells.map((c) => c.k))].sort(asc);
  const lambdas = [...new Set(cells.map((c) => c.lambda))].sort(asc);
  const rows = ks.map((k) =>
    lambdas.map((l) => cells.filter((c) => c.k === k && c.lambda === l).sort((a, b) => a.seed - b.seed)),
  );
  return { ks, lambdas, rows };
}

export interface GroupResult {
  k: number;
  lambda: number;
  seeds: number;
  completed: number;
  /** Mean and spread (sample standard deviation; null below two values) of the cells' last loss. */
  meanLoss: number | null;
  sdLoss: number | null;
  minLoss: number | null;
  /** Steps done over steps asked, summed over the seeds. */
  step: number;
  totalSteps: number;
}

/** One row per (K, λ), K then λ ascending; runs without a loss yet count as seeds but not in the loss figures. */
export function groupResults(cells: readonly SweepCell[]): GroupResult[] {
  const g = sweepGrid(cells);
  const out: GroupResult[] = [];
  g.ks.forEach((k, i) =>
    g.lambdas.forEach((lambda, j) => {
      const group = g.rows[i]![j]!;
      if (group.length === 0) return;
      const losses = group.map((c) => c.lastLoss).filter((v): v is number => v !== null && Number.isFinite(v));
      const mean = losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : null;
      const sd =
        mean !== null && losses.length > 1
          ? Math.sqrt(losses.reduce((a, b) => a + (b - mean) ** 2, 0) / (losses.length - 1))
          : null;
      out.push({
        k,
        lambda,
        seeds: group.length,
        completed: group.filter((c) => c.status === 'completed').length,
        meanLoss: mean,
        sdLoss: sd,
        minLoss: losses.length ? Math.min(...losses) : null,
        step: group.reduce((a, c) => a + c.step, 0),
        totalSteps: group.reduce((a, c) => a + c.totalSteps, 0),
      });
    }),
  );
  return out;
}

/** Status counts in a fixed order for badges ("2 running · 1 queued"), zero counts left out. */
const ORDER = ['running', 'queued', 'paused', 'completed', 'failed', 'stopped', 'interrupted', 'deleted'];
export function orderedCounts(counts: Record<string, number>): { status: string; n: number }[] {
  const known = ORDER.filter((s) => (counts[s] ?? 0) > 0).map((s) => ({ status: s, n: counts[s]! }));
  const other = Object.keys(counts)
    .filter((s) => !ORDER.includes(s) && counts[s]! > 0)
    .sort();
  return [...known, ...other.map((s) => ({ status: s, n: counts[s]! }))];
}
