/**
 * What every reader returns before packing: NHWC uint8 pixels, optional labels, and the inputs it chose
 * to skip. Readers throw only for problems that make the whole input unusable; per-item problems (one
 * corrupt PNG among thousands) go to `skipped` so an import can report them instead of failing.
 */
import { readFileSync, statSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';

export interface SkippedItem {
  file: string;
  reason: string;
}

export interface RawDataset {
  pixels: Uint8Array;
  labels?: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: 1 | 3;
  classNames?: string[];
  skipped: SkippedItem[];
  /** Decisions the reader made on its own that the import report should state. */
  notes?: string[];
}

/** Reads a whole file, turning fs error codes into messages that name the file and what was expected. */
export function readFileChecked(path: string, what = 'file'): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(describeFsError(path, what, err));
  }
}

export function describeFsError(path: string, what: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return `${path}: ${what} not found`;
  if (code === 'EISDIR') return `${path}: is a directory, expected a ${what}`;
  if (code === 'EACCES' || code === 'EPERM') return `${path}: permission denied reading the ${what}`;
  return `${path}: cannot read the ${what} (${err instanceof Error ? err.message : String(err)})`;
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** gzip is detected by its magic bytes, not the file name, so renamed files still work. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/**
 * gunzips `buf` for a reader that knows from the data's own header how long it is: `headerBytes` is
 * inflated first and `lengthFromHeader` checks it and returns the full length, so a gzip bomb is refused
 * before it is inflated and the output never grows past what the header declares.
 */
export function gunzipDeclared(
  path: string,
  buf: Buffer,
  headerBytes: number,
  lengthFromHeader: (head: Buffer) => number,
): Buffer {
  let head: Buffer;
  try {
    // A sync flush returns what the first compressed bytes inflate to without requiring the stream's end;
    // 4 KiB of deflate data inflate to at most ~4 MiB.
    head = gunzipSync(buf.subarray(0, 4096), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch (err) {
    throw corruptGzip(path, err);
  }
  const length = lengthFromHeader(head.subarray(0, headerBytes));
  if (length > bufferConstants.MAX_LENGTH) {
    throw new Error(`${path}: its header declares ${length} bytes of data, more than fits in memory`);
  }
  try {
    return gunzipSync(buf, { maxOutputLength: length + 1 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new Error(`${path}: the gzip data holds more than the ${length} bytes its header declares`);
    }
    throw corruptGzip(path, err);
  }
}

function corruptGzip(path: string, err: unknown): Error {
  return new Error(`${path}: corrupt or truncated gzip data (${err instanceof Error ? err.message : String(err)})`);
}

/** Keeps the first `limit` items; readers may hand back more than the caller wants. */
export function limitRaw(raw: RawDataset, limit: number | undefined): RawDataset {
  if (limit === undefined || limit >= raw.count) return raw;
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`limit: expected a positive integer, got ${limit}`);
  const per = raw.height * raw.width * raw.channels;
  return {
    ...raw,
    count: limit,
    pixels: raw.pixels.slice(0, limit * per),
    labels: raw.labels?.slice(0, limit),
  };
}

/** Checks the invariants a reader promises, so a reader bug fails loudly before anything is packed. */
export function assertRawConsistent(raw: RawDataset, source: string): void {
  const per = raw.height * raw.width * raw.channels;
  if (raw.pixels.length !== raw.count * per) {
    throw new Error(
      `${source}: internal error: ${raw.count} images of ${per} bytes need ${raw.count * per} bytes, have ${raw.pixels.length}`,
    );
  }
  if (raw.labels && raw.labels.length !== raw.count) {
    throw new Error(`${source}: internal error: ${raw.count} images but ${raw.labels.length} labels`);
  }
}
