/**
 * The dataset library: imports run in an engine process into the data folder, then are registered
 * in the store. The same data imported twice (same checksum) is found, not stored twice.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ImportResultSchema, type ImportJob, type ImportResult } from '../shared/engineMessages';
import type { DatasetRecord } from '../shared/records';
import type { RunStore } from '../store/runStore';
import type { SpawnEngine } from './engineProcess';
import { runEngineJob, type JobOptions } from './engineJob';
import { ownerTag } from '../store/owner';
import { slug } from '../shared/naming';

export interface ImportOutcome {
  dataset: DatasetRecord;
  /** True when the same pixels were already in the library; nothing new was stored. */
  duplicate: boolean;
  report: Pick<ImportResult, 'good' | 'skipped' | 'notes' | 'classCounts'>;
}

export async function importIntoLibrary(
  store: RunStore,
  spawn: SpawnEngine,
  job: Omit<ImportJob, 'out' | 'previewPath'> & { name?: string },
  opts: JobOptions = {},
): Promise<ImportOutcome> {
  if (job.name && store.datasets.find(job.name)) {
    throw new Error(`a dataset named '${job.name}' is already in the library; choose another --name`);
  }
  // The owner tag lets the next start tell a kill -9's leftovers from a live import (store/tempFiles).
  const stamp = `${ownerTag()}-${Date.now().toString(36)}`;
  const tmpOut = join(store.layout.datasets, `.import-${stamp}.sadpm-ds`);
  const tmpPreview = join(store.layout.datasets, `.import-${stamp}.png`);
  const { name: _name, ...engineJob } = job;
  try {
    const res = ImportResultSchema.parse(
      await runEngineJob(
        spawn,
        (jobId) => ({ cmd: 'import', jobId, job: { ...engineJob, out: tmpOut, previewPath: tmpPreview } }),
        opts,
      ),
    );
    const report = { good: res.good, skipped: res.skipped, notes: res.notes, classCounts: res.classCounts };
    const existing = store.datasets.byChecksum(res.header.checksum);
    if (existing) return { dataset: existing, duplicate: true, report };
    const name = uniqueName(store, job.name ?? res.header.name);
    const base = `${slug(name, 'dataset')}-${res.header.checksum.slice(0, 8)}`;
    const path = join(store.layout.datasets, `${base}.sadpm-ds`);
    const previewPath = join(store.layout.datasets, `${base}.png`);
    renameSync(tmpOut, path);
    renameSync(tmpPreview, previewPath);
    const h = res.header;
    const dataset = store.datasets.add({
      name,
      source: h.source,
      format: h.format,
      count: h.count,
      height: h.height,
      width: h.width,
      channels: h.channels,
      checksum: h.checksum,
      path,
      previewPath,
      bytes: res.bytes,
      classCounts: res.classCounts,
      classNames: h.classNames ?? null,
      good: res.good,
      skipped: res.skipped,
    });
    return { dataset, duplicate: false, report };
  } finally {
    for (const p of [tmpOut, tmpPreview]) if (existsSync(p)) rmSync(p, { force: true });
  }
}

/**
 * Imports into a standalone packed file instead of the library (`sadpm import --out FILE`), through the same engine
 * job: the engine writes the file to a temp name and renames it, so a failed import leaves nothing behind.
 */
export async function importToFile(
  spawn: SpawnEngine,
  job: Omit<ImportJob, 'out' | 'previewPath'>,
  out: string,
  opts: JobOptions = {},
): Promise<ImportResult> {
  const path = resolve(out);
  const raw = await runEngineJob(spawn, (jobId) => ({ cmd: 'import', jobId, job: { ...job, out: path } }), opts);
  return ImportResultSchema.parse(raw);
}

function uniqueName(store: RunStore, base: string): string {
  if (!store.datasets.find(base)) return base;
  for (let i = 2; ; i++) if (!store.datasets.find(`${base}-${i}`)) return `${base}-${i}`;
}

/**
 * What a run's `dataset` field names: a library dataset (by name or #id), a packed file, or builtin.
 * Returns the engine's dataset spec and the library id when there is one.
 */
export function resolveDatasetRef(store: RunStore, ref: string): { spec: string; datasetId: number | null } {
  if (ref.startsWith('builtin:')) return { spec: ref, datasetId: null };
  const lib = store.datasets.find(ref);
  if (lib) {
    if (!existsSync(lib.path)) {
      throw new Error(`dataset '${lib.name}' (#${lib.id}): its file ${lib.path} is missing; import it again`);
    }
    return { spec: lib.path, datasetId: lib.id };
  }
  const abs = resolve(ref);
  if (existsSync(abs)) return { spec: abs, datasetId: store.datasets.byPath(abs)?.id ?? null };
  throw new Error(
    `--dataset '${ref}': not a dataset in the library (see 'sadpm datasets'), not a file, and not builtin:<name>`,
  );
}
