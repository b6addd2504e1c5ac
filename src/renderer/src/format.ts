/** Text for display: numbers, bytes, durations and dates in dense tables, and what a run is doing now. */
import type { ActivityMessage } from '../../shared/engineMessages';

export function fmtNum(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) return v.toExponential(2);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Number(v.toPrecision(digits)).toString();
}

export function fmtInt(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : Math.round(v).toLocaleString('en-US');
}

export function fmtBytes(b: number | null | undefined): string {
  if (b === null || b === undefined || !Number.isFinite(b)) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = b;
  while (Math.abs(v) >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${u[i]}`;
}

export function fmtParams(p: number): string {
  if (p >= 1e9) return `${(p / 1e9).toFixed(2)} B`;
  if (p >= 1e6) return `${(p / 1e6).toFixed(1)} M`;
  if (p >= 1e3) return `${(p / 1e3).toFixed(1)} k`;
  return String(p);
}

export function fmtDuration(sec: number | null | undefined): string {
  if (sec === null || sec === undefined || !Number.isFinite(sec) || sec < 0) return '—';
  if (sec < 60) return `${Math.round(sec)} s`;
  const m = Math.floor(sec / 60);
  if (m < 60) return `${m} min ${Math.round(sec % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function fmtDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const parts = { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' } as const;
  return d.toLocaleString(undefined, parts);
}

export function basename(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}

/* The monitor's words for what a run is doing (from the engine's activity messages). */
function count(a: ActivityMessage): string {
  return a.done !== undefined && a.total ? ` ${a.done}/${a.total}` : '';
}

export function describeActivity(a: ActivityMessage | null | undefined): string {
  if (!a) return '';
  switch (a.activity) {
    case 'training':
      return 'training';
    case 'sampling':
      return `sampling${count(a)}`;
    case 'gap':
      return `measuring the gap${count(a)}`;
    case 'checkpoint':
      return 'writing a checkpoint';
  }
}

/** What the header says while a pause or stop waits for the engine to reach a safe point. */
export function describePending(p: 'pausing' | 'stopping', a: ActivityMessage | null | undefined): string {
  const now = describeActivity(a);
  const verb = p === 'pausing' ? 'Pausing' : 'Stopping';
  return now && now !== 'training' ? `${verb} (${now})…` : `${verb}…`;
}
