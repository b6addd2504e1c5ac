/** Builders for small dataset inputs, written into a per-test temp folder. */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { afterEach } from 'vitest';

const made: string[] = [];

/** A fresh temp folder removed after the current test. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sadpm-data-'));
  made.push(d);
  return d;
}

afterEach(() => {
  while (made.length) rmSync(made.pop()!, { recursive: true, force: true });
});

export function write(path: string, data: Uint8Array | string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  return path;
}

/** IDX bytes: magic (0, 0, dtype, ndims) + uint32 BE dims + data. */
export function idxBytes(dims: number[], data: Uint8Array, dtype = 0x08): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = dtype;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, data]);
}

/** Deterministic bytes so tests can check exact pixel placement. */
export function ramp(n: number, mul = 7, add = 3): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * mul + add) & 0xff;
  return out;
}

/** .npy bytes with numpy's header layout (padded so data starts on a 64-byte boundary). */
export function npyBytes(
  descr: string,
  shape: number[],
  data: Uint8Array,
  opts: { version?: 1 | 2 | 3; fortran?: boolean } = {},
): Buffer {
  const version = opts.version ?? 1;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - pre - 1, ' ') + '\n';
  const head = Buffer.alloc(pre);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]).copy(head);
  head[6] = version;
  head[7] = 0;
  if (version === 1) head.writeUInt16LE(dict.length, 8);
  else head.writeUInt32LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1'), data]);
}

/** A solid RGBA image buffer. */
export function solidRgba(w: number, h: number, rgba: [number, number, number, number]): Buffer {
  const b = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) b.set(rgba, i * 4);
  return b;
}

export function pngBytes(
  w: number,
  h: number,
  rgba: Buffer,
  opts: { colorType?: 0 | 2 | 4 | 6; bitDepth?: 8 | 16; inputColorType?: 0 | 2 | 4 | 6 } = {},
): Buffer {
  return PNG.sync.write({ width: w, height: h, data: rgba } as unknown as PNG, {
    colorType: opts.colorType ?? 6,
    bitDepth: opts.bitDepth ?? 8,
    inputColorType: opts.inputColorType ?? 6,
  });
}

export function jpegBytes(w: number, h: number, rgba: Buffer, quality = 95): Buffer {
  return jpeg.encode({ width: w, height: h, data: rgba }, quality).data;
}
