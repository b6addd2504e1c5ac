/**
 * Crash-safe file writes: write to a temp name in the same folder, fsync, rename over the target,
 * fsync the folder. A reader sees the old file or the new one, never a half-written one.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync, mkdirSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

let counter = 0;

export function tempPathFor(target: string): string {
  counter += 1;
  return join(dirname(target), `.${basename(target)}.${process.pid}.${counter}.tmp`);
}

/**
 * A write error that names the file: Node's own texts name none for write(2) failures ("ENOSPC: no
 * space left on device, write"). The error code stays on the new error for callers that branch on it.
 */
export function writeError(target: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (e?.message?.includes(target)) return e;
  const hint = e?.code === 'ENOSPC' ? ': the disk is full; free some space and try again' : '';
  const named = new Error(`cannot write ${target}: ${e?.message ?? String(err)}${hint}`);
  return Object.assign(named, { code: e?.code, cause: err });
}

/** Writes chunks to `target` atomically. Chunks let large files be written without one big copy. */
export function writeFileAtomic(target: string, data: Uint8Array | Uint8Array[] | string): void {
  try {
    mkdirSync(dirname(target), { recursive: true });
  } catch (err) {
    throw writeError(target, err);
  }
  const tmp = tempPathFor(target);
  const chunks = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : Array.isArray(data) ? data : [data];
  let fd = -1;
  try {
    fd = openSync(tmp, 'w');
    for (const chunk of chunks) {
      let off = 0;
      while (off < chunk.byteLength) off += writeSync(fd, chunk, off, chunk.byteLength - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, target);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    throw writeError(target, err);
  }
  fsyncDir(dirname(target));
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  }
}

export function writeJsonAtomic(target: string, value: unknown): void {
  writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n');
}
