/**
 * The packed dataset file (`.sadpm-ds`): one file per dataset so training reads a single blob instead of
 * decoding thousands of images every run.
 *
 *   bytes 0..7    ASCII "SADPMDS1"
 *   bytes 8..11   uint32 LE  H = header length
 *   next H bytes  UTF-8 JSON header (DatasetHeader)
 *   then          pixels: count*height*width*channels uint8, NHWC row-major
 *   then          labels: count int32 LE, only when header.hasLabels
 *
 * The checksum (sha256 of the pixel bytes followed by the label bytes) catches a file that was copied
 * half-way or bit-rotted; the exact length check catches truncation before the checksum is even computed.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { z } from 'zod';
import { writeFileAtomic } from '../../io/atomicFile';
import { describeFsError, readFileChecked } from './raw';

export const PACKED_MAGIC = 'SADPMDS1';
export const PACKED_EXTENSION = '.sadpm-ds';
const PREFIX = 12;
/** A header is a few KB even with thousands of skipped entries; a huge length means a corrupt file. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;

export const DatasetFormat = z.enum(['idx', 'cifar10', 'folder', 'npy', 'builtin', 'packed']);
export type DatasetFormat = z.infer<typeof DatasetFormat>;

export const DatasetHeaderSchema = z.object({
  version: z.literal(1),
  name: z.string(),
  count: z.number().int().min(1),
  height: z.number().int().min(1).max(4096),
  width: z.number().int().min(1).max(4096),
  channels: z.union([z.literal(1), z.literal(3)]),
  hasLabels: z.boolean(),
  numClasses: z.number().int().min(1).optional(),
  classNames: z.array(z.string()).optional(),
  source: z.string(),
  format: DatasetFormat,
  checksum: z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 hex digest'),
  createdAt: z.string(),
  skipped: z.array(z.object({ file: z.string(), reason: z.string() })),
});
export type DatasetHeader = z.infer<typeof DatasetHeaderSchema>;

export interface PackedDataset {
  info: DatasetHeader;
  pixels: Uint8Array;
  labels?: Int32Array;
}

/** Labels as they are stored: int32 little-endian whatever the host's byte order. */
export function labelBytes(labels: Int32Array): Uint8Array {
  const out = new Uint8Array(labels.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < labels.length; i++) view.setInt32(i * 4, labels[i]!, true);
  return out;
}

export function datasetChecksum(pixels: Uint8Array, labels?: Int32Array): string {
  const h = createHash('sha256');
  h.update(pixels);
  if (labels) h.update(labelBytes(labels));
  return h.digest('hex');
}

/** Checks the header against itself and against the payload sizes; `where` prefixes every message. */
function checkConsistency(info: DatasetHeader, where: string, pixels?: Uint8Array, labels?: Int32Array): void {
  if (info.classNames && info.numClasses !== undefined && info.classNames.length !== info.numClasses) {
    throw new Error(
      `${where}: bad header field classNames: ${info.classNames.length} names for numClasses ${info.numClasses}`,
    );
  }
  if (!info.hasLabels && (info.numClasses !== undefined || info.classNames)) {
    throw new Error(`${where}: bad header field hasLabels: false, but numClasses/classNames are set`);
  }
  if (pixels) {
    const want = info.count * info.height * info.width * info.channels;
    if (pixels.length !== want) {
      throw new Error(
        `${where}: ${info.count} images of ${info.height}x${info.width}x${info.channels} need ${want} pixel bytes, got ${pixels.length}`,
      );
    }
  }
  if (info.hasLabels && labels === undefined && pixels)
    throw new Error(`${where}: hasLabels is true but no labels were given`);
  if (!info.hasLabels && labels !== undefined) throw new Error(`${where}: labels were given but hasLabels is false`);
  if (labels) {
    if (labels.length !== info.count) throw new Error(`${where}: ${info.count} images but ${labels.length} labels`);
    const limit = info.numClasses ?? Number.MAX_SAFE_INTEGER;
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i]!;
      if (l < 0 || l >= limit) {
        throw new Error(`${where}: label ${l} of image ${i} is outside 0..${limit - 1}`);
      }
    }
  }
}

/**
 * Writes `ds` atomically (temp file + rename). The checksum is recomputed from the payload, so a caller
 * cannot write a header that disagrees with its bytes; the header actually written is returned.
 */
export function writePackedDataset(path: string, ds: PackedDataset): DatasetHeader {
  const info: DatasetHeader = { ...ds.info, checksum: datasetChecksum(ds.pixels, ds.labels) };
  const parsed = DatasetHeaderSchema.safeParse(info);
  if (!parsed.success) throw new Error(`${path}: refusing to write a bad header: ${formatZodError(parsed.error)}`);
  checkConsistency(info, path, ds.pixels, ds.labels);
  const headerBytes = Buffer.from(JSON.stringify(info), 'utf8');
  const prefix = Buffer.alloc(PREFIX);
  prefix.write(PACKED_MAGIC, 0, 'ascii');
  prefix.writeUInt32LE(headerBytes.length, 8);
  const chunks: Uint8Array[] = [prefix, headerBytes, ds.pixels];
  if (ds.labels) chunks.push(labelBytes(ds.labels));
  writeFileAtomic(path, chunks);
  return info;
}

function formatZodError(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

function parseHeader(path: string, headerBytes: Uint8Array): DatasetHeader {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(headerBytes).toString('utf8'));
  } catch (err) {
    throw new Error(`${path}: header is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const parsed = DatasetHeaderSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${path}: bad header field ${formatZodError(parsed.error)}`);
  return parsed.data;
}

function checkPrefix(path: string, buf: Uint8Array, fileSize: number): number {
  const head = Buffer.from(buf.subarray(0, Math.min(8, fileSize))).toString('latin1');
  if (fileSize < PREFIX && fileSize > 0 && PACKED_MAGIC.startsWith(head)) {
    throw new Error(`${path}: truncated: expected at least ${PREFIX} bytes, got ${fileSize}`);
  }
  if (fileSize < PREFIX || head !== PACKED_MAGIC) {
    throw new Error(`${path}: not a SA-DPM packed dataset (expected the magic "${PACKED_MAGIC}" at the start)`);
  }
  const headerLen = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).readUInt32LE(8);
  if (headerLen > MAX_HEADER_BYTES)
    throw new Error(`${path}: header length ${headerLen} is implausible; the file is corrupt`);
  if (fileSize < PREFIX + headerLen) {
    throw new Error(
      `${path}: truncated: expected at least ${PREFIX + headerLen} bytes for the header, got ${fileSize}`,
    );
  }
  return headerLen;
}

/** Reads only the header (a few KB), e.g. to show a dataset's size without loading its pixels. */
export function readPackedHeader(path: string): DatasetHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new Error(describeFsError(path, 'packed dataset file', err));
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new Error(`${path}: is a directory, expected a packed dataset file`);
    const prefix = new Uint8Array(PREFIX);
    const got = readSync(fd, prefix, 0, PREFIX, 0);
    const headerLen = checkPrefix(path, prefix, got < PREFIX ? got : st.size);
    const headerBytes = new Uint8Array(headerLen);
    let off = 0;
    while (off < headerLen) {
      const n = readSync(fd, headerBytes, off, headerLen - off, PREFIX + off);
      if (n === 0)
        throw new Error(`${path}: truncated: expected ${PREFIX + headerLen} header bytes, got ${PREFIX + off}`);
      off += n;
    }
    const info = parseHeader(path, headerBytes);
    checkConsistency(info, path);
    return info;
  } finally {
    closeSync(fd);
  }
}

export function readPackedDataset(path: string): PackedDataset {
  const buf = readFileChecked(path, 'packed dataset file');
  const headerLen = checkPrefix(path, buf, buf.length);
  const info = parseHeader(path, buf.subarray(PREFIX, PREFIX + headerLen));
  checkConsistency(info, path);
  const pixelLen = info.count * info.height * info.width * info.channels;
  const labelLen = info.hasLabels ? info.count * 4 : 0;
  const expected = PREFIX + headerLen + pixelLen + labelLen;
  if (buf.length < expected) throw new Error(`${path}: truncated: expected ${expected} bytes, got ${buf.length}`);
  if (buf.length > expected)
    throw new Error(
      `${path}: ${buf.length - expected} unexpected trailing bytes (expected ${expected} bytes, got ${buf.length})`,
    );
  const start = PREFIX + headerLen;
  // Copies give the dataset its own compact buffers (the file buffer may be pooled or larger than needed).
  const pixels = new Uint8Array(buf.subarray(start, start + pixelLen));
  let labels: Int32Array | undefined;
  if (info.hasLabels) {
    labels = new Int32Array(info.count);
    for (let i = 0; i < info.count; i++) labels[i] = buf.readInt32LE(start + pixelLen + i * 4);
  }
  const actual = datasetChecksum(pixels, labels);
  if (actual !== info.checksum) {
    throw new Error(
      `${path}: checksum mismatch: header says ${info.checksum}, content hashes to ${actual}; the file is corrupt`,
    );
  }
  checkConsistency(info, path, pixels, labels);
  return { info, pixels, labels };
}

/** Builds the header for freshly read data; the checksum is filled in here and again on write. */
export function makeHeader(
  data: {
    pixels: Uint8Array;
    labels?: Int32Array;
    count: number;
    height: number;
    width: number;
    channels: 1 | 3;
    classNames?: string[];
  },
  meta: {
    name: string;
    source: string;
    format: DatasetFormat;
    skipped?: { file: string; reason: string }[];
    numClasses?: number;
  },
): DatasetHeader {
  const hasLabels = data.labels !== undefined;
  let numClasses: number | undefined;
  if (hasLabels) {
    numClasses = meta.numClasses ?? data.classNames?.length;
    if (numClasses === undefined) {
      let max = -1;
      for (const l of data.labels!) if (l > max) max = l;
      numClasses = max + 1;
    }
  }
  return {
    version: 1,
    name: meta.name,
    count: data.count,
    height: data.height,
    width: data.width,
    channels: data.channels,
    hasLabels,
    ...(numClasses !== undefined ? { numClasses } : {}),
    ...(hasLabels && data.classNames ? { classNames: data.classNames } : {}),
    source: meta.source,
    format: meta.format,
    checksum: datasetChecksum(data.pixels, data.labels),
    createdAt: new Date().toISOString(),
    skipped: meta.skipped ?? [],
  };
}
