/** A terminal chart of a gap curve: mean |D_t| against t, from t0 down to 1. */
import type { GapMessage } from '../shared/engineMessages';

export function renderGapChart(
  msg: Pick<GapMessage, 't' | 'meanAbs' | 'l2' | 'signedMean' | 't0' | 'step'>,
  width = 60,
  height = 12,
): string {
  const n = msg.t.length;
  if (n === 0) return '(empty gap curve)';
  const cols = Math.min(width, n);
  const values: number[] = [];
  for (let c = 0; c < cols; c++) values.push(msg.meanAbs[Math.min(n - 1, Math.floor((c * n) / cols))]!);
  const max = Math.max(...values, 1e-30);
  const rows: string[] = [];
  for (let r = height; r >= 1; r--) {
    const level = (r / height) * max;
    const label =
      r === height
        ? max.toExponential(2).padStart(10)
        : r === 1
          ? (max / height).toExponential(2).padStart(10)
          : ' '.repeat(10);
    rows.push(`${label} |${values.map((v) => (v >= level - max / (2 * height) ? '█' : ' ')).join('')}`);
  }
  rows.push(`${' '.repeat(10)} +${'-'.repeat(cols)}`);
  const left = `t=${msg.t[0]}`;
  const right = `t=${msg.t[n - 1]}`;
  rows.push(`${' '.repeat(12)}${left}${' '.repeat(Math.max(1, cols - left.length - right.length))}${right}`);
  const last = n - 1;
  const summary = [
    `estimation gap at step ${msg.step}, chain from t0=${msg.t0} (mean |D_t| over the held-out batch)`,
    `final: mean |D| ${msg.meanAbs[last]!.toExponential(4)}, mean ‖D‖ ${msg.l2[last]!.toExponential(4)}, signed mean ${msg.signedMean[last]!.toExponential(4)}`,
  ];
  return [...summary, ...rows].join('\n');
}
