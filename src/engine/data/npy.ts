/**
 * NumPy .npy files: "\x93NUMPY", version (major, minor), header length (uint16 LE in v1, uint32 LE in
 * v2/v3), then a Python dict literal such as {'descr': '|u1', 'fortran_order': False, 'shape': (N, H, W, C), }.
 * The dict is parsed with targeted patterns rather than a general Python-literal parser: numpy always
 * writes these three keys in this form.
 */
import type { RawDataset } from './raw';
import { readFileChecked } from './raw';
import { checkPixelLimit } from './imageDecode';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

export interface NpyArray {
  descr: string;
  shape: number[];
  /** The raw little/big-endian element bytes, C order. */
  data: Buffer;
}

export function parseNpy(path: string, buf: Buffer): NpyArray {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) {
    throw new Error(`${path}: not a .npy file (expected the magic "\\x93NUMPY" at the start)`);
  }
  const major = buf[6]!;
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new Error(`${path}: truncated: expected at least 12 bytes, got ${buf.length}`);
    headerLen = buf.readUInt32LE(8);
    headerStart = 12;
  } else {
    throw new Error(`${path}: .npy format version ${major}.${buf[7]} is not supported (expected 1, 2 or 3)`);
  }
  const dataStart = headerStart + headerLen;
  if (buf.length < dataStart)
    throw new Error(`${path}: truncated: expected ${dataStart} header bytes, got ${buf.length}`);
  const header = buf.subarray(headerStart, dataStart).toString(major === 3 ? 'utf8' : 'latin1');

  const descr = /['"]descr['"]\s*:\s*['"]([^'"]+)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`${path}: malformed .npy header (expected descr, fortran_order and shape): ${header.trim()}`);
  }
  if (fortran === 'True')
    throw new Error(`${path}: fortran_order True is not supported; save the array in C order (np.ascontiguousarray)`);
  const parts = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const shape = parts.map((s) => {
    const v = /^\d+L?$/.test(s) ? Number.parseInt(s, 10) : NaN;
    if (!Number.isSafeInteger(v)) throw new Error(`${path}: malformed .npy shape (${shapeText})`);
    return v;
  });
  return { descr, shape, data: buf.subarray(dataStart) };
}

const ITEM_SIZE: Record<string, number> = { u1: 1, i1: 1, u2: 2, i2: 2, u4: 4, i4: 4, u8: 8, i8: 8 };

function checkLength(path: string, arr: NpyArray, itemSize: number): void {
  const n = arr.shape.reduce((a, b) => a * b, 1);
  const expected = n * itemSize;
  const shape = `(${arr.shape.join(', ')})`;
  if (arr.data.length < expected)
    throw new Error(`${path}: truncated: shape ${shape} needs ${expected} data bytes, got ${arr.data.length}`);
  if (arr.data.length > expected)
    throw new Error(`${path}: ${arr.data.length - expected} unexpected trailing bytes after shape ${shape} data`);
}

/** uint8 is byte-order free, so '<u1' and '>u1' (which some writers emit) are the same as numpy's '|u1'. */
function isUint8(descr: string): boolean {
  return /^[|<>=]?u1$/.test(descr);
}

export function readNpy(path: string): RawDataset {
  const arr = parseNpy(path, readFileChecked(path, '.npy file'));
  if (!isUint8(arr.descr)) {
    throw new Error(
      `${path}: dtype '${arr.descr}' is not supported, expected '|u1' (uint8); convert with arr.astype(np.uint8)`,
    );
  }
  let count: number, height: number, width: number, channels: number;
  if (arr.shape.length === 3) {
    [count, height, width] = arr.shape as [number, number, number];
    channels = 1;
  } else if (arr.shape.length === 4) {
    [count, height, width, channels] = arr.shape as [number, number, number, number];
  } else {
    throw new Error(`${path}: shape (${arr.shape.join(', ')}) is not supported, expected (N, H, W) or (N, H, W, C)`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new Error(
      `${path}: ${channels} channels in shape (${arr.shape.join(', ')}), expected 1 or 3 (NHWC; an NCHW array needs np.transpose(a, (0, 2, 3, 1)))`,
    );
  }
  if (count < 1 || height < 1 || width < 1) throw new Error(`${path}: empty array of shape (${arr.shape.join(', ')})`);
  try {
    checkPixelLimit(width, height, 'each image');
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  checkLength(path, arr, 1);
  return { pixels: new Uint8Array(arr.data), count, height, width, channels, skipped: [] };
}

/** Labels as a 1-D integer .npy (any of u1..i8, either byte order), as np.save writes them for a label vector. */
export function readNpyLabels(path: string, count: number): Int32Array {
  const arr = parseNpy(path, readFileChecked(path, '.npy labels file'));
  const m = /^([|<>=]?)([ui][1248])$/.exec(arr.descr);
  if (!m)
    throw new Error(
      `${path}: labels dtype '${arr.descr}' is not supported, expected an integer type such as '<i8' or '|u1'`,
    );
  const kind = m[2]!;
  const big = m[1] === '>';
  const size = ITEM_SIZE[kind]!;
  if (arr.shape.length !== 1)
    throw new Error(`${path}: labels shape (${arr.shape.join(', ')}) is not supported, expected (N,)`);
  checkLength(path, arr, size);
  if (arr.shape[0] !== count)
    throw new Error(`${path}: label count mismatch: ${arr.shape[0]} labels for ${count} images`);
  const out = new Int32Array(count);
  const d = arr.data;
  for (let i = 0; i < count; i++) {
    const o = i * size;
    let v: number;
    switch (kind) {
      case 'u1':
        v = d.readUInt8(o);
        break;
      case 'i1':
        v = d.readInt8(o);
        break;
      case 'u2':
        v = big ? d.readUInt16BE(o) : d.readUInt16LE(o);
        break;
      case 'i2':
        v = big ? d.readInt16BE(o) : d.readInt16LE(o);
        break;
      case 'u4':
        v = big ? d.readUInt32BE(o) : d.readUInt32LE(o);
        break;
      case 'i4':
        v = big ? d.readInt32BE(o) : d.readInt32LE(o);
        break;
      default:
        v = Number(
          kind === 'u8'
            ? big
              ? d.readBigUInt64BE(o)
              : d.readBigUInt64LE(o)
            : big
              ? d.readBigInt64BE(o)
              : d.readBigInt64LE(o),
        );
    }
    if (v < 0 || v > 1_000_000)
      throw new Error(`${path}: label ${v} at index ${i} is not a class index (expected 0..1000000)`);
    out[i] = v;
  }
  return out;
}
