/**
 * Exports of a run: metrics as CSV (one row per step, one column per metric) and JSON, and a run
 * bundle (config, metrics, gap curves, chosen checkpoints, samples) as one .tar.gz. Files are
 * written to a temp name and renamed, and recorded in the store.
 */
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { RunStore } from './runStore';
import { writeTarGz, type TarEntry } from './tar';
import { writeError, writeFileAtomic, tempPathFor } from '../io/atomicFile';
import { slug } from '../shared/naming';

export function metricsCsv(store: RunStore, runId: number): string {
  const names = store.metrics.names(runId);
  const col = new Map(names.map((n, i) => [n, i]));
  const rows: string[] = [['step', ...names].join(',')];
  let step = -1;
  let cur: string[] = [];
  const emit = () => {
    if (step >= 0) rows.push([String(step), ...cur].join(','));
  };
  for (const [s, name, value] of store.metrics.all(runId)) {
    if (s !== step) {
      emit();
      step = s;
      cur = new Array<string>(names.length).fill('');
    }
    cur[col.get(name)!] = String(value);
  }
  emit();
  return rows.join('\n') + '\n';
}

export function metricsJson(store: RunStore, runId: number): string {
  const run = store.runs.get(runId);
  const series: Record<string, { steps: number[]; values: number[] }> = {};
  for (const [s, name, value] of store.metrics.all(runId)) {
    const e = (series[name] ??= { steps: [], values: [] });
    e.steps.push(s);
    e.values.push(value);
  }
  return JSON.stringify({ run, metrics: series, gap: store.gaps.list(runId) }, null, 1) + '\n';
}

export function exportMetrics(store: RunStore, runId: number, path: string, format: 'csv' | 'json'): number {
  writeFileAtomic(path, format === 'csv' ? metricsCsv(store, runId) : metricsJson(store, runId));
  const bytes = statSync(path).size;
  store.exports.record(runId, `metrics-${format}`, path, bytes);
  return bytes;
}

export interface BundleOptions {
  /** 'all', 'latest' (default) or 'none', or explicit steps. */
  checkpoints?: 'all' | 'latest' | 'none' | number[];
  samples?: boolean;
}

export async function exportBundle(
  store: RunStore,
  runId: number,
  path: string,
  opts: BundleOptions = {},
): Promise<{ bytes: number; entries: string[] }> {
  const run = store.runs.get(runId);
  if (!run) throw new Error(`no run #${runId}`);
  const root = `run-${run.id}-${slug(run.name, 'run')}`;
  const entries: TarEntry[] = [
    { name: `${root}/run.json`, data: Buffer.from(JSON.stringify(run, null, 2) + '\n') },
    { name: `${root}/config.json`, data: Buffer.from(JSON.stringify(run.config, null, 2) + '\n') },
    { name: `${root}/metrics.csv`, data: Buffer.from(metricsCsv(store, runId)) },
    { name: `${root}/gap.json`, data: Buffer.from(JSON.stringify(store.gaps.list(runId)) + '\n') },
  ];
  const cks = store.checkpoints.list(runId);
  const which = opts.checkpoints ?? 'latest';
  const chosen =
    which === 'all'
      ? cks
      : which === 'none'
        ? []
        : which === 'latest'
          ? cks.slice(-1)
          : cks.filter((c) => which.includes(c.step));
  if (Array.isArray(which)) {
    const missing = which.filter((s) => !cks.some((c) => c.step === s));
    const have = cks.map((c) => c.step).join(', ') || 'none';
    if (missing.length) {
      throw new Error(`run #${runId} has no checkpoint at step ${missing.join(', ')} (it has ${have})`);
    }
  }
  for (const c of chosen) {
    if (!existsSync(c.path)) throw new Error(`checkpoint file ${c.path} (step ${c.step}) is missing`);
    entries.push({ name: `${root}/checkpoints/${basename(c.path)}`, file: c.path });
  }
  if (opts.samples !== false) {
    for (const s of store.samples.list(runId)) {
      if (!existsSync(s.path)) continue;
      entries.push({ name: `${root}/samples/${basename(s.path)}`, file: s.path });
      const side = s.path.replace(/\.png$/i, '.json');
      if (side !== s.path && existsSync(side)) entries.push({ name: `${root}/samples/${basename(side)}`, file: side });
    }
  }
  const tmp = tempPathFor(path);
  try {
    await writeTarGz(tmp, entries);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw writeError(path, err);
  }
  const bytes = statSync(path).size;
  store.exports.record(runId, 'bundle', path, bytes);
  return { bytes, entries: entries.map((e) => e.name) };
}
