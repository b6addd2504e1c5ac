/**
 * A hash router (#/view/id?query) — enough for seven views, and it survives reloads in web mode
 * and file:// loads in Electron.
 */
import { reactive } from 'vue';

export const VIEWS = [
  'datasets',
  'new',
  'runs',
  'monitor',
  'gallery',
  'compare',
  'export',
  // issue 12
  'study',
  'settings',
  // issue 16
  'sweeps',
  'new-sweep',
] as const;
export type ViewName = (typeof VIEWS)[number];

export interface Route {
  view: ViewName;
  id: number | null;
  query: Record<string, string>;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [path = '', qs = ''] = raw.split('?');
  const [view, id] = path.split('/');
  const v = (VIEWS as readonly string[]).includes(view ?? '') ? (view as ViewName) : 'runs';
  const n = id ? Number(id) : NaN;
  return { view: v, id: Number.isInteger(n) && n > 0 ? n : null, query: Object.fromEntries(new URLSearchParams(qs)) };
}

export function hrefOf(view: ViewName, id?: number | null, query?: Record<string, string | number>): string {
  const q = query ? new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString() : '';
  return `#/${view}${id ? `/${id}` : ''}${q ? `?${q}` : ''}`;
}

export const route = reactive<Route>(parseHash(typeof location === 'undefined' ? '' : location.hash));

function sync(): void {
  Object.assign(route, parseHash(location.hash));
}
if (typeof window !== 'undefined') window.addEventListener('hashchange', sync);

export function navigate(view: ViewName, id?: number | null, query?: Record<string, string | number>): void {
  const h = hrefOf(view, id, query);
  if (location.hash === h) sync();
  else location.hash = h;
  // hashchange is async; update now so the next render sees the new route.
  Object.assign(route, parseHash(h));
}

/** A list of run ids in a query value (`overlay=3,7`, `runs=1,2`): the positive integers, in order. */
export function idList(q: string | undefined): number[] {
  return (q ?? '')
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}
