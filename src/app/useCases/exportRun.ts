/**
 * Exports of a run's records: metrics as CSV or JSON, and the .tar.gz bundle. One naming rule for the app and
 * the CLI (run-<id>-<name>-<stamp>.<kind> under the data folder's exports/, unless the CLI names a file).
 */
import { join, resolve } from 'node:path';
import { runExportFileName } from '../../shared/naming';
import type { RunRecord } from '../../shared/records';
import type { RunStore } from '../../store/runStore';
import { exportBundle, exportMetrics, type BundleOptions } from '../../store/export';

export interface ExportedFile {
  path: string;
  bytes: number;
}

export function exportRunMetrics(store: RunStore, run: RunRecord, format: 'csv' | 'json', out?: string): ExportedFile {
  const path = out ? resolve(out) : join(store.layout.exports, runExportFileName(run, `metrics.${format}`));
  return { path, bytes: exportMetrics(store, run.id, path, format) };
}

export async function exportRunBundle(
  store: RunStore,
  run: RunRecord,
  checkpoints: NonNullable<BundleOptions['checkpoints']>,
  out?: string,
): Promise<ExportedFile & { entries: string[] }> {
  const path = out ? resolve(out) : join(store.layout.exports, runExportFileName(run, 'tar.gz'));
  const res = await exportBundle(store, run.id, path, { checkpoints });
  return { path, bytes: res.bytes, entries: res.entries };
}
