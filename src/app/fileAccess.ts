/**
 * The one rule for which files the renderer may load, and how they are answered, shared by web mode's
 * /files route and Electron's sadpm-file:// scheme (no Electron here: `sadpm serve` uses it too).
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { extname, isAbsolute, relative } from 'node:path';
import type { RunStore } from '../store/runStore';

/**
 * Served types. Anything else (an uploaded .html or .svg, say) goes out as an opaque download, so no
 * file of the data folder can ever run as a page of our origin.
 */
const TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.json': 'application/json',
  '.csv': 'text/csv; charset=utf-8',
  '.gz': 'application/gzip',
};

function inside(root: string, real: string): boolean {
  if (!existsSync(root)) return false;
  const rel = relative(realpathSync(root), real);
  return !!rel && !rel.startsWith('..') && !isAbsolute(rel);
}

/**
 * The real path of a file the renderer may read: a regular file under the data folder or under a run's
 * folder (which --run-dir may have put elsewhere); null for anything else. realpath resolves links and
 * `..`, so neither leads out of those folders.
 */
export function allowedFile(store: Pick<RunStore, 'layout' | 'runs'>, path: string): string | null {
  if (!path || !isAbsolute(path) || path.includes('\0') || !existsSync(path)) return null;
  let real: string;
  try {
    real = realpathSync(path);
    if (!statSync(real).isFile()) return null;
  } catch {
    return null;
  }
  // Almost every file is under the data folder: only list the runs when it is not.
  if (inside(store.layout.root, real)) return real;
  return store.runs.list({ limit: 100_000 }).some((r) => inside(r.runDir, real)) ? real : null;
}

export interface FileAnswer {
  status: 200 | 304 | 404;
  headers: Record<string, string>;
  /** The file to send (status 200 only). */
  file: string | null;
}

/**
 * The answer to a request for `path`: 404 unless allowedFile accepts it, 304 when the caller's
 * If-None-Match still names this version, else 200. Files are rewritten in place (a re-sampled grid),
 * so the browser must ask every time (no-cache) but may reuse its copy while the validator matches.
 */
export function answerFile(
  store: Pick<RunStore, 'layout' | 'runs'>,
  path: string,
  ifNoneMatch?: string | null,
): FileAnswer {
  const base = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' };
  const real = allowedFile(store, path);
  if (!real) return { status: 404, headers: { ...base, 'content-type': 'text/plain; charset=utf-8' }, file: null };
  const st = statSync(real);
  const etag = `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  const headers = {
    ...base,
    etag,
    'content-type': TYPES[extname(real).toLowerCase()] ?? 'application/octet-stream',
    // Even if opened on its own, a served file is an inert document: no scripts, no subresources.
    'content-security-policy': "default-src 'none'; sandbox",
  };
  if (ifNoneMatch && ifNoneMatch.split(',').some((t) => t.trim() === etag)) return { status: 304, headers, file: null };
  return { status: 200, headers: { ...headers, 'content-length': String(st.size) }, file: real };
}
