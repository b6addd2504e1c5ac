/**
 * Which files the UI may read: only files under the data folder or a run's folder (symlinks resolved), so a
 * window can never ask for /etc/passwd. The contract's file reads, web mode's file route and the desktop app's
 * file protocol all use this one check.
 */
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import type { RunStore } from '../store/runStore';

export class FileAccessError extends Error {
  constructor(
    readonly reason: 'not_found' | 'outside',
    message: string,
  ) {
    super(message);
  }
}

/** The real path of `path` when the UI may read it; throws FileAccessError otherwise. */
export function readableFile(store: RunStore, path: string): string {
  if (!isAbsolute(path) || !existsSync(path)) throw new FileAccessError('not_found', `no such file: ${path}`);
  const real = realpathSync(path);
  const roots = [store.layout.root, ...store.runs.list({ limit: 100_000 }).map((r) => r.runDir)];
  for (const root of roots) {
    if (!existsSync(root)) continue;
    const rel = relative(realpathSync(root), real);
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return real;
  }
  throw new FileAccessError('outside', `${path} is outside the data folder and the run folders; the app only serves its own files`);
}

/** Content types of the files the app serves. */
export const FILE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.json': 'application/json',
  '.csv': 'text/csv',
  '.gz': 'application/gzip',
};
