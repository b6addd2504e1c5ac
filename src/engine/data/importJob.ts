/**
 * What a researcher checks after an import: a grid of the first images and how many of each class.
 */
import { statSync } from 'node:fs';
import { importDataset } from './import';
import { readPackedDataset, type PackedDataset } from './packed';
import { gridScale, writeGridPng } from '../render/grids';
import type { ImportJob, ImportResult } from '../../shared/engineMessages';

export function writeDatasetPreview(ds: PackedDataset, path: string, n = 64): void {
  const { height, width, channels } = ds.info;
  const count = Math.min(n, ds.info.count);
  const pixels = ds.pixels.subarray(0, count * height * width * channels);
  const scale = gridScale(height);
  writeGridPng(path, pixels, count, height, width, channels, { scale });
}

export function classCounts(ds: PackedDataset): number[] | null {
  if (!ds.labels) return null;
  let max = (ds.info.numClasses ?? 0) - 1;
  for (const l of ds.labels) if (l > max) max = l;
  const counts = new Array<number>(max + 1).fill(0);
  for (const l of ds.labels) if (l >= 0) counts[l]! += 1;
  return counts;
}

/** Import + preview + class counts: the whole job the app and CLI run for a dataset import. */
export async function runImportJob(
  job: ImportJob,
  opts: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<ImportResult> {
  const res = await importDataset({ ...job, onProgress: opts.onProgress, signal: opts.signal });
  const ds = readPackedDataset(job.out);
  if (job.previewPath) writeDatasetPreview(ds, job.previewPath);
  const h = res.header;
  return {
    out: job.out,
    bytes: statSync(job.out).size,
    header: {
      name: h.name,
      count: h.count,
      height: h.height,
      width: h.width,
      channels: h.channels,
      format: h.format,
      source: h.source,
      checksum: h.checksum,
      hasLabels: h.hasLabels,
      classNames: h.classNames,
      numClasses: h.numClasses,
    },
    good: res.report.good,
    skipped: res.report.skipped,
    notes: res.report.notes,
    classCounts: classCounts(ds),
    previewPath: job.previewPath ?? null,
  };
}
