/**
 * Downloads made in the page (issue 15): a chart as PNG, its data as CSV. Both go through a blob: URL on an
 * <a download> (the CSP governs what loads, not what is saved), so nothing leaves the machine.
 */
import type { LineSpec } from './lineModel';

export function downloadBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A data: URL (ECharts' getDataURL) saved as a file, as a blob so no data: address is ever navigated to. */
export function downloadDataUrl(dataUrl: string, fileName: string): void {
  const [head, body = ''] = dataUrl.split(',');
  const type = /data:([^;]+)/.exec(head ?? '')?.[1] ?? 'application/octet-stream';
  const bin = atob(body);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  downloadBlob(new Blob([bytes], { type }), fileName);
}

function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * The chart's lines as CSV: one row per training step (the union over the lines), one column per line with its
 * recorded (unsmoothed) value, empty where a run has no point at that step. The faint raw copies drawn behind
 * smoothed lines are left out: their values are the same.
 */
export function linesCsv(lines: LineSpec[]): string {
  const shown = lines.filter((l) => !l.raw);
  const byStep = new Map<number, (number | undefined)[]>();
  shown.forEach((l, col) => {
    const steps = l.source.rawSteps ?? l.source.steps;
    const { values, length } = l.source;
    for (let i = 0; i < length; i++) {
      const step = steps[i]!;
      let row = byStep.get(step);
      if (!row) byStep.set(step, (row = new Array(shown.length)));
      row[col] = values[i]!;
    }
  });
  const out = [['step', ...shown.map((l) => l.name)].map(csvCell).join(',')];
  for (const step of [...byStep.keys()].sort((a, b) => a - b)) {
    const row = byStep.get(step)!;
    out.push([String(step), ...shown.map((_, c) => (row[c] === undefined ? '' : String(row[c])))].join(','));
  }
  return out.join('\n') + '\n';
}
