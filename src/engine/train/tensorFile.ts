/**
 * The framing of the engine's binary state files: 8-byte magic, uint32 LE header length, a JSON header
 * (padded with spaces so the data is 4-byte aligned), then float32 LE arrays listed in the header by group.
 * Written to a temp name and renamed (a crash leaves the previous file intact); every read is checked
 * against the declared sizes. The run checkpoint (checkpoint.ts) predates this module and frames itself
 * the same way.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from '../../io/atomicFile';

export interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export interface TensorGroup {
  names: string[];
  shapes: number[][];
  arrays: Float32Array[];
}

/** Writes header + groups; `header.groups` is filled in here. Returns the file size. */
export function writeTensorFile(
  path: string,
  magic: string,
  header: Record<string, unknown>,
  groups: Record<string, TensorGroup>,
): number {
  if (magic.length !== 8) throw new Error(`tensor file: magic must be 8 characters, got '${magic}'`);
  let offset = 0;
  const entries: Record<string, TensorEntry[]> = {};
  const blobs: Uint8Array[] = [];
  for (const [g, group] of Object.entries(groups)) {
    entries[g] = group.arrays.map((arr, i) => {
      const shape = group.shapes[i]!;
      const expected = shape.reduce((a, b) => a * b, 1);
      if (arr.length !== expected) {
        throw new Error(`${path}: ${g}[${group.names[i]}] has ${arr.length} values, expected ${expected}`);
      }
      const e = { name: group.names[i]!, shape, offset, length: arr.length };
      offset += arr.length;
      blobs.push(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
      return e;
    });
  }
  const headerBytes = Buffer.from(JSON.stringify({ ...header, groups: entries }), 'utf8');
  const pad = (4 - ((12 + headerBytes.length) % 4)) % 4;
  const prefix = Buffer.alloc(12);
  prefix.write(magic, 0, 'ascii');
  prefix.writeUInt32LE(headerBytes.length + pad, 8);
  const chunks = [prefix, headerBytes, Buffer.alloc(pad, 0x20), ...blobs];
  writeFileAtomic(path, chunks);
  return chunks.reduce((a, c) => a + c.byteLength, 0);
}

function readExactly(fd: number, pos: number, len: number, path: string): Buffer {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  if (got !== len) throw new Error(`${path}: truncated (expected ${len} bytes at offset ${pos}, got ${got})`);
  return buf;
}

/** The JSON header (unvalidated) and where the data starts. `what` names the file kind in errors. */
export function readTensorFileHeader(
  path: string,
  magic: string,
  what: string,
): { header: unknown; dataOffset: number; fileBytes: number } {
  if (!existsSync(path)) throw new Error(`${what} ${path}: file not found`);
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 12) throw new Error(`${what} ${path}: not a ${what} (file is ${size} bytes)`);
    const prefix = readExactly(fd, 0, 12, path);
    if (prefix.toString('ascii', 0, 8) !== magic) {
      const got = prefix.toString('latin1', 0, 8);
      throw new Error(`${what} ${path}: not a ${what} (bad magic '${got}', expected '${magic}')`);
    }
    const hlen = prefix.readUInt32LE(8);
    if (12 + hlen > size) {
      throw new Error(`${what} ${path}: truncated header (${hlen} bytes declared, file is ${size})`);
    }
    try {
      const header: unknown = JSON.parse(readExactly(fd, 12, hlen, path).toString('utf8'));
      return { header, dataOffset: 12 + hlen, fileBytes: size };
    } catch (err) {
      throw new Error(`${what} ${path}: corrupt header (${(err as Error).message})`);
    }
  } finally {
    closeSync(fd);
  }
}

/** The arrays of the listed groups, after checking the file size against the entries. */
export function readTensorGroups(
  path: string,
  what: string,
  dataOffset: number,
  fileBytes: number,
  groups: Record<string, TensorEntry[]>,
): Record<string, Float32Array[]> {
  const all = Object.values(groups).flat();
  const totalFloats = all.reduce((a, e) => a + e.length, 0);
  for (const e of all) {
    if (e.offset < 0 || e.offset + e.length > totalFloats || e.length !== e.shape.reduce((a, b) => a * b, 1)) {
      const where = `offset ${e.offset}, length ${e.length}, shape [${e.shape.join(', ')}]`;
      throw new Error(`${what} ${path}: bad tensor entry '${e.name}' (${where})`);
    }
  }
  if (fileBytes !== dataOffset + totalFloats * 4) {
    const expected = dataOffset + totalFloats * 4;
    throw new Error(`${what} ${path}: truncated or padded (expected ${expected} bytes, file is ${fileBytes})`);
  }
  const fd = openSync(path, 'r');
  let data: Buffer;
  try {
    data = readExactly(fd, dataOffset, totalFloats * 4, path);
  } finally {
    closeSync(fd);
  }
  const floats = new Float32Array(data.buffer, data.byteOffset, totalFloats);
  const out: Record<string, Float32Array[]> = {};
  for (const [g, list] of Object.entries(groups)) out[g] = list.map((e) => floats.slice(e.offset, e.offset + e.length));
  return out;
}
