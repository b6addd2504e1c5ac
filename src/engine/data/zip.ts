/**
 * A .zip archive as an import input (issue 15): streamed through fflate's Unzip into a temp folder, which is then
 * imported like any folder. Limits on entries and bytes (checked as the bytes arrive, not from the sizes the
 * archive declares) stop a zip bomb; an entry whose name would land outside the folder (`../x`, `/etc/x`, `C:\x`)
 * refuses the whole archive (zip slip). macOS resource forks (`__MACOSX/`, `._name`) are skipped.
 */
import { closeSync, createReadStream, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { Unzip, UnzipInflate, type UnzipFile } from 'fflate';

export interface ZipLimits {
  /** Files in the archive. */
  entries: number;
  /** Bytes of all files once extracted. */
  totalBytes: number;
}

export const ZIP_LIMITS: ZipLimits = { entries: 200_000, totalBytes: 16 * 2 ** 30 };

export class ZipError extends Error {}

const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;

/** The entry's path inside `dest`, or null for entries that are skipped; throws for one that would escape. */
export function zipEntryPath(dest: string, name: string, zip: string): string | null {
  const clean = name.replace(/\\/g, '/');
  const parts = clean.split('/').filter((p) => p !== '' && p !== '.');
  if (parts[0] === '__MACOSX' || basename(clean).startsWith('._')) return null;
  const absolute = clean.startsWith('/') || /^[A-Za-z]:/.test(clean);
  const out = resolve(dest, ...parts);
  const rel = relative(resolve(dest), out);
  if (absolute || parts.includes('..') || name.includes('\0') || rel.startsWith('..') || rel.startsWith(sep)) {
    throw new ZipError(`${zip}: entry '${name}' would be written outside the extraction folder; archive refused`);
  }
  return parts.length ? out : null;
}

/**
 * Extracts `zip` into `dest` (created; removed again on failure). Returns the files written. Stops between
 * chunks when `signal` aborts.
 */
export async function extractZip(
  zip: string,
  dest: string,
  opts: { limits?: ZipLimits; signal?: AbortSignal } = {},
): Promise<{ files: number; bytes: number }> {
  const limits = opts.limits ?? ZIP_LIMITS;
  mkdirSync(dest, { recursive: true });
  let files = 0;
  let bytes = 0;
  let failure: Error | null = null;
  const open = new Set<number>();
  const fail = (e: unknown) => (failure ??= e instanceof Error ? e : new Error(String(e)));

  const onFile = (f: UnzipFile): void => {
    if (failure) return;
    try {
      const path = zipEntryPath(dest, f.name, zip);
      if (path === null) return;
      if (f.name.endsWith('/')) {
        mkdirSync(path, { recursive: true });
        return;
      }
      if (++files > limits.entries) {
        throw new ZipError(`${zip}: more than ${limits.entries} files; split the archive or import a folder`);
      }
      if (f.compression !== 0 && f.compression !== 8) {
        throw new ZipError(
          `${zip}: entry '${f.name}' uses compression method ${f.compression}; ` +
            'only stored and deflate archives can be read (re-create the zip with standard settings)',
        );
      }
      mkdirSync(resolve(path, '..'), { recursive: true });
      const fd = openSync(path, 'wx');
      open.add(fd);
      f.ondata = (err, chunk, final) => {
        if (failure) return;
        try {
          if (err) throw new ZipError(`${zip}: entry '${f.name}' is corrupt (${err.message})`);
          bytes += chunk.byteLength;
          if (bytes > limits.totalBytes) {
            throw new ZipError(
              `${zip}: more than ${gib(limits.totalBytes)} once extracted; ` +
                'import a smaller archive or the folder itself',
            );
          }
          let off = 0;
          while (off < chunk.byteLength) off += writeSync(fd, chunk, off, chunk.byteLength - off);
          if (final) {
            closeSync(fd);
            open.delete(fd);
          }
        } catch (e) {
          fail(e);
        }
      };
      f.start();
    } catch (e) {
      fail(e);
    }
  };

  const unzip = new Unzip(onFile);
  unzip.register(UnzipInflate);
  try {
    for await (const chunk of createReadStream(zip, { highWaterMark: 1 << 20 })) {
      opts.signal?.throwIfAborted();
      unzip.push(chunk as Uint8Array);
      if (failure) throw failure;
    }
    unzip.push(new Uint8Array(0), true);
    if (failure) throw failure;
    if (open.size) throw new ZipError(`${zip}: the archive ends inside an entry (truncated download?)`);
    if (files === 0) throw new ZipError(`${zip}: no files in the archive`);
    return { files, bytes };
  } catch (e) {
    for (const fd of open) closeSync(fd);
    rmSync(dest, { recursive: true, force: true });
    if (e instanceof ZipError || (e as Error).name === 'AbortError') throw e;
    throw new ZipError(`${zip}: not a readable zip archive (${(e as Error).message})`);
  }
}

/** Where the extracted data is: the one folder an archive of a folder holds, else the extraction folder. */
export function zipContentRoot(dest: string, entries: { name: string; isDirectory(): boolean }[]): string {
  return entries.length === 1 && entries[0]!.isDirectory() ? join(dest, entries[0]!.name) : dest;
}
