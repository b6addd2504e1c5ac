/**
 * A config diff of two or more runs (issue 15): only the fields whose values are not all the same, each run's value
 * as text, and which values differ from the first run's (the table highlights them).
 */
import type { RunRecord } from '../../shared/records';

export interface DiffRow {
  key: string;
  values: string[];
  /** Per run: its value differs from the first run's. */
  changed: boolean[];
}

function text(v: unknown): string {
  if (v === undefined || v === null) return '—';
  if (Array.isArray(v)) return v.map(text).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** The fields (config keys in the first run's order, then any others, then tags) that differ between the runs. */
export function configDiff(runs: RunRecord[]): DiffRow[] {
  const keys: string[] = [];
  for (const r of runs) for (const k of Object.keys(r.config)) if (!keys.includes(k)) keys.push(k);
  const rows: DiffRow[] = [];
  const add = (key: string, values: string[]) => {
    if (values.every((v) => v === values[0])) return;
    rows.push({ key, values, changed: values.map((v) => v !== values[0]) });
  };
  for (const k of keys)
    add(
      k,
      runs.map((r) => text((r.config as Record<string, unknown>)[k])),
    );
  add(
    'tags',
    runs.map((r) => text([...r.tags].sort())),
  );
  return rows;
}
