/**
 * CIFAR-10 binary version: each record is 1 label byte then a 32x32 image stored planar
 * (1024 R, 1024 G, 1024 B). Records are repacked to NHWC so every dataset looks the same downstream.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RawDataset } from './raw';
import { describeFsError, isDirectory, readFileChecked } from './raw';

const SIDE = 32;
const PLANE = SIDE * SIDE;
const RECORD = 1 + 3 * PLANE;
export const CIFAR10_CLASS_NAMES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];
/** The folder name inside the official cifar-10-binary.tar.gz. */
const INNER_DIR = 'cifar-10-batches-bin';

export interface CifarOptions {
  /** Append test_batch.bin after the training batches (off by default so the test split stays unseen). */
  includeTest?: boolean;
}

function batchNumber(name: string): number {
  return Number(/^data_batch_(\d+)\.bin$/.exec(name)?.[1] ?? NaN);
}

/** The batch folder for `dir`: itself, or the official archive's inner folder. Undefined when neither has batches. */
export function cifarBatchDir(dir: string): string | undefined {
  const hasBatches = (d: string): boolean => {
    try {
      return readdirSync(d).some((f) => Number.isFinite(batchNumber(f)));
    } catch {
      return false;
    }
  };
  if (hasBatches(dir)) return dir;
  const inner = join(dir, INNER_DIR);
  return hasBatches(inner) ? inner : undefined;
}

/** The batch files a CIFAR-10 input stands for, in a fixed order (data_batch_1..N, then test_batch). */
export function cifarFiles(input: string, opts: CifarOptions = {}): string[] {
  if (!isDirectory(input)) return [input];
  const dir = cifarBatchDir(input);
  if (!dir)
    throw new Error(`${input}: no CIFAR-10 batches found: expected data_batch_*.bin files in it (or in ${INNER_DIR}/)`);
  const files = readdirSync(dir)
    .filter((f) => Number.isFinite(batchNumber(f)))
    .sort((a, b) => batchNumber(a) - batchNumber(b))
    .map((f) => join(dir, f));
  if (opts.includeTest) {
    const test = join(dir, 'test_batch.bin');
    if (!existsSync(test)) throw new Error(`${dir}: test_batch.bin was requested but is not there`);
    files.push(test);
  }
  return files;
}

function readClassNames(dir: string): string[] {
  const meta = join(dir, 'batches.meta.txt');
  if (!existsSync(meta)) return CIFAR10_CLASS_NAMES.slice();
  let text: string;
  try {
    text = readFileSync(meta, 'utf8');
  } catch (err) {
    throw new Error(describeFsError(meta, 'class names file', err));
  }
  const names = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return names.length > 0 ? names : CIFAR10_CLASS_NAMES.slice();
}

export function readCifar10(input: string, opts: CifarOptions = {}): RawDataset {
  const files = cifarFiles(input, opts);
  const buffers = files.map((f) => {
    const buf = readFileChecked(f, 'CIFAR-10 batch file');
    if (buf.length === 0 || buf.length % RECORD !== 0) {
      throw new Error(
        `${f}: not a CIFAR-10 binary batch: length ${buf.length} is not a multiple of ${RECORD} (1 label byte + 3072 pixel bytes per record)` +
          (buf.length > 0 ? `; ${buf.length % RECORD} bytes left over, the file may be truncated` : ''),
      );
    }
    return { file: f, buf };
  });
  const metaDir = isDirectory(input) ? (cifarBatchDir(input) ?? input) : dirname(input);
  const classNames = readClassNames(metaDir);
  const count = buffers.reduce((a, b) => a + b.buf.length / RECORD, 0);
  const pixels = new Uint8Array(count * 3 * PLANE);
  const labels = new Int32Array(count);
  let i = 0;
  for (const { file, buf } of buffers) {
    const n = buf.length / RECORD;
    for (let r = 0; r < n; r++, i++) {
      const rec = r * RECORD;
      const label = buf[rec]!;
      if (label >= classNames.length) {
        throw new Error(
          `${file}: record ${r} has label ${label}, expected 0..${classNames.length - 1}; not a CIFAR-10 batch?`,
        );
      }
      labels[i] = label;
      const out = i * 3 * PLANE;
      for (let p = 0; p < PLANE; p++) {
        pixels[out + p * 3] = buf[rec + 1 + p]!;
        pixels[out + p * 3 + 1] = buf[rec + 1 + PLANE + p]!;
        pixels[out + p * 3 + 2] = buf[rec + 1 + 2 * PLANE + p]!;
      }
    }
  }
  return { pixels, labels, count, height: SIDE, width: SIDE, channels: 3, classNames, skipped: [] };
}
