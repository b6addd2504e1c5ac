/** A sweep as the terminal shows it: a header with counts, one line per cell, and what changed since last time. */
import { statusCounts, type SweepCell, type SweepRecord } from '../shared/sweep';

export function sweepHeader(sweep: SweepRecord, cells: readonly SweepCell[]): string {
  const counts = Object.entries(statusCounts(cells))
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  const where =
    sweep.executor === 'slurm'
      ? `Slurm${sweep.slurm?.ssh ? ` via ${sweep.slurm.ssh}` : ''}${sweep.jobId !== null ? ` job ${sweep.jobId}` : ''}`
      : 'local queue';
  return `sweep #${sweep.id} '${sweep.name}' (${where}), ${cells.length} cells: ${counts}`;
}

/** The grid's lines: K, λ, seed, run, status, progress, last loss, Slurm task and state, reason. */
export function sweepLines(cells: readonly SweepCell[]): string[] {
  const head = ['k', 'λ', 'seed', 'run', 'status', 'step', 'loss', 'slurm', 'reason'];
  const rows = cells.map((c) => [
    String(c.k),
    String(c.lambda),
    String(c.seed),
    c.runId !== null ? `#${c.runId}` : '(deleted)',
    c.status ?? '-',
    c.runId !== null ? `${c.step}/${c.totalSteps}` : '-',
    c.lastLoss !== null ? c.lastLoss.toPrecision(4) : '-',
    c.slurmRef !== null ? `${c.slurmRef}${c.slurmState ? ` ${c.slurmState}` : ''}` : '-',
    c.reason ? (c.reason.length > 70 ? `${c.reason.slice(0, 69)}…` : c.reason) : '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) =>
    r
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [fmt(head), ...rows.map(fmt)];
}

/** Lines for cells whose status (or Slurm state) changed since the previous call; the first call says all. */
export class CellChanges {
  private readonly last = new Map<number, string>();

  changed(cells: readonly SweepCell[]): string[] {
    const out: string[] = [];
    for (const c of cells) {
      const key = `${c.status}|${c.slurmState}|${c.reason}`;
      if (this.last.get(c.index) === key) continue;
      this.last.set(c.index, key);
      const run = c.runId !== null ? `run #${c.runId}` : 'deleted run';
      const step = c.runId !== null ? ` at step ${c.step}/${c.totalSteps}` : '';
      const why = c.reason ? `: ${c.reason}` : '';
      out.push(`k=${c.k} λ=${c.lambda} seed=${c.seed} (${run}): ${c.status ?? 'deleted'}${step}${why}`);
    }
    return out;
  }
}
