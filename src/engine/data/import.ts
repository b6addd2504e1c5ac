/**
 * Import = read any supported source, normalise it (limit, grayscale, resize) and write one packed file.
 * The packed file is written atomically at the very end, so a failed import leaves nothing at `out`
 * (and an existing file there untouched).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { findBuiltin, generateBuiltin } from './builtin';
import { cifarBatchDir, readCifar10 } from './cifar';
import { pairedLabelNames, readIdx } from './idx';
import { isImageFileName, readImageFolder } from './imageFolder';
import { readNpy, readNpyLabels } from './npy';
import type { DatasetFormat, DatasetHeader } from './packed';
import { makeHeader, PACKED_EXTENSION, readPackedDataset, writePackedDataset } from './packed';
import type { RawDataset, SkippedItem } from './raw';
import type { ClassMode } from '../../shared/engineMessages';
import { assertRawConsistent, isDirectory, limitRaw } from './raw';
import { grayscaleRaw, resizeRaw, validateSize } from './resize';
import { extractZip, zipContentRoot } from './zip';

export type ImportFormat = 'auto' | DatasetFormat;

export interface ImportOptions {
  /** A file, a folder, or 'builtin:<name>'. */
  input: string;
  format: ImportFormat;
  /** Path of the packed file to write; must end in .sadpm-ds. */
  out: string;
  /** Square side length; images are centre-cropped and resampled. Folders default to 32, others keep their size. */
  size?: number;
  grayscale?: boolean;
  /** Refuse the import when any image cannot be read (naming each) instead of skipping it. */
  strict?: boolean;
  /** Image folders: where class labels come from (see imageFolder.ts). */
  classes?: ClassMode;
  /** Labels file for idx (overrides the standard pairing) or npy (a 1-D integer array). */
  labelsPath?: string;
  /** Keep at most this many images (the first ones, in the reader's order). For builtin: how many to generate. */
  limit?: number;
  /** CIFAR-10 folders: also import test_batch.bin. */
  includeTest?: boolean;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** The dataset's name and source when the input is a stand-in (a .zip's extracted folder). */
  origin?: { name: string; source: string };
}

export interface ImportResult {
  header: DatasetHeader;
  report: { good: number; skipped: SkippedItem[]; notes: string[] };
}

/** The header keeps a bounded list so it stays small; the import report has every entry. */
const MAX_SKIPPED_IN_HEADER = 1000;

const IDX_IMAGES = /images[-.]idx3[-.]ubyte(\.gz)?$/i;

function findIdxImagesIn(dir: string): string | undefined {
  const names = readdirSync(dir)
    .filter((f) => IDX_IMAGES.test(f))
    .sort();
  if (names.length === 0) return undefined;
  const train = names.find((f) => f.toLowerCase().startsWith('train-'));
  if (train) return join(dir, train);
  if (names.length === 1) return join(dir, names[0]!);
  throw new Error(`${dir}: several IDX image files (${names.join(', ')}); pass the one to import`);
}

/** Resolves 'auto' and, for folders holding IDX files, the file the import really reads. */
export function detectFormat(input: string): { format: Exclude<ImportFormat, 'auto'>; path: string } {
  if (input.startsWith('builtin:')) return { format: 'builtin', path: input };
  if (!existsSync(input)) throw new Error(`${input}: not found (expected a dataset file or folder, or builtin:<name>)`);
  if (isDirectory(input)) {
    if (cifarBatchDir(input)) return { format: 'cifar10', path: input };
    const idx = findIdxImagesIn(input);
    if (idx) return { format: 'idx', path: idx };
    return { format: 'folder', path: input };
  }
  const name = basename(input).toLowerCase();
  if (/-ubyte(\.gz)?$/.test(name) || /\.idx\d-ubyte/.test(name)) return { format: 'idx', path: input };
  if (name.endsWith('.npy')) return { format: 'npy', path: input };
  if (name.endsWith('.bin')) return { format: 'cifar10', path: input };
  if (name.endsWith(PACKED_EXTENSION)) return { format: 'packed', path: input };
  if (isImageFileName(name))
    throw new Error(`${input}: a single image is not a dataset; pass the folder that holds the images`);
  throw new Error(
    `${input}: cannot tell the dataset format from the name; pass the format explicitly (idx, cifar10, folder, npy) or a .zip of them`,
  );
}

function idxLabelsFor(imagesPath: string, explicit: string | undefined): string | undefined {
  if (explicit !== undefined) return explicit;
  for (const name of pairedLabelNames(imagesPath) ?? []) {
    const p = join(dirname(imagesPath), name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function datasetName(path: string, format: string): string {
  if (format === 'builtin') return findBuiltin(path).name;
  const base = basename(path.replace(/[\\/]+$/, '')).replace(/\.gz$/i, '');
  const ext = extname(base);
  return (ext ? base.slice(0, -ext.length) : base) || base;
}

async function readSource(
  format: Exclude<ImportFormat, 'auto'>,
  path: string,
  opts: ImportOptions,
): Promise<RawDataset> {
  if (opts.labelsPath !== undefined && format !== 'idx' && format !== 'npy') {
    throw new Error(`labelsPath is only used with idx or npy inputs, not ${format}`);
  }
  if (opts.classes !== undefined && format !== 'folder') {
    const why = `not ${format}: its labels come from its files`;
    throw new Error(`classes (${opts.classes}) is only used with image folders, ${why}`);
  }
  switch (format) {
    case 'folder':
      if (!isDirectory(path)) throw new Error(`${path}: expected a folder of images`);
      return readImageFolder(path, {
        size: opts.size,
        grayscale: opts.grayscale,
        strict: opts.strict,
        classes: opts.classes,
        limit: opts.limit,
        onProgress: opts.onProgress,
        signal: opts.signal,
      });
    case 'idx':
      return readIdx(path, { labelsPath: idxLabelsFor(path, opts.labelsPath) });
    case 'cifar10':
      return readCifar10(path, { includeTest: opts.includeTest });
    case 'npy': {
      const raw = readNpy(path);
      return opts.labelsPath === undefined ? raw : { ...raw, labels: readNpyLabels(opts.labelsPath, raw.count) };
    }
    case 'builtin': {
      const ds = generateBuiltin(path, { count: opts.limit });
      const { count, height, width, channels, classNames } = ds.info;
      return { pixels: ds.pixels, labels: ds.labels, count, height, width, channels, classNames, skipped: [] };
    }
    case 'packed': {
      const ds = readPackedDataset(path);
      const { count, height, width, channels, classNames } = ds.info;
      return {
        pixels: ds.pixels,
        labels: ds.labels,
        count,
        height,
        width,
        channels,
        classNames,
        skipped: ds.info.skipped,
      };
    }
  }
}

/**
 * A .zip input (issue 15): extracted next to the output (`<out>.unzip`, which the store's start-up sweep removes
 * if this process is killed), imported as the folder it holds, then removed.
 */
async function importZip(opts: ImportOptions): Promise<ImportResult> {
  const dest = `${opts.out}.unzip`;
  rmSync(dest, { recursive: true, force: true });
  try {
    await extractZip(opts.input, dest, { signal: opts.signal });
    const root = zipContentRoot(dest, readdirSync(dest, { withFileTypes: true }));
    const origin = { name: datasetName(opts.input, 'zip'), source: resolve(opts.input) };
    return await importDataset({ ...opts, input: root, origin });
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
}

export async function importDataset(opts: ImportOptions): Promise<ImportResult> {
  if (!opts.out.endsWith(PACKED_EXTENSION))
    throw new Error(`${opts.out}: the output file must end in ${PACKED_EXTENSION}`);
  if (!opts.origin && /\.zip$/i.test(opts.input) && existsSync(opts.input) && !isDirectory(opts.input)) {
    if (opts.format !== 'auto' && opts.format !== 'folder') {
      throw new Error(`${opts.input}: a .zip is read as the folder it holds; import it with format auto or folder`);
    }
    return importZip({ ...opts, format: 'auto' });
  }
  if (opts.size !== undefined) validateSize(opts.size);
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1)) {
    throw new Error(`limit: expected a positive integer, got ${opts.limit}`);
  }
  const { format, path } =
    opts.format === 'auto' ? detectFormat(opts.input) : { format: opts.format, path: opts.input };
  if (format === 'builtin') findBuiltin(path);
  else if (format !== 'folder' && format !== 'cifar10' && isDirectory(path)) {
    throw new Error(`${path}: is a folder; the ${format} format expects a file`);
  }

  let raw = await readSource(format, path, opts);
  opts.signal?.throwIfAborted();
  if (raw.height !== raw.width && opts.size === undefined) throw notSquare(path, format, raw);
  raw = limitRaw(raw, opts.limit);
  if (opts.grayscale) raw = grayscaleRaw(raw);
  if (opts.size !== undefined) raw = resizeRaw(raw, opts.size);
  assertRawConsistent(raw, path);
  if (raw.count === 0) {
    const why = raw.skipped
      .slice(0, 3)
      .map((s) => `${s.file}: ${s.reason}`)
      .join('; ');
    throw new Error(`${path}: no usable images (${raw.skipped.length} skipped${why ? `, e.g. ${why}` : ''})`);
  }
  if (format !== 'folder') opts.onProgress?.(raw.count, raw.count);

  const skippedInHeader =
    raw.skipped.length <= MAX_SKIPPED_IN_HEADER
      ? raw.skipped
      : [
          ...raw.skipped.slice(0, MAX_SKIPPED_IN_HEADER),
          { file: '...', reason: `and ${raw.skipped.length - MAX_SKIPPED_IN_HEADER} more` },
        ];
  const info = makeHeader(raw, {
    name: opts.origin?.name ?? datasetName(path, format),
    source: opts.origin?.source ?? (format === 'builtin' ? findBuiltin(path).id : resolve(path)),
    format,
    skipped: skippedInHeader,
  });
  opts.signal?.throwIfAborted();
  const header = writePackedDataset(opts.out, { info, pixels: raw.pixels, labels: raw.labels });
  return { header, report: { good: raw.count, skipped: raw.skipped, notes: raw.notes ?? [] } };
}

/** Training needs square images; refused here so no run fails later on a dataset that can never fit. */
function notSquare(path: string, format: string, raw: RawDataset): Error {
  const { count, height, width, channels } = raw;
  const npy = format === 'npy';
  const shape = `(${count}, ${height}, ${width}, ${channels})`;
  const what = npy ? `shape (N, H, W, C) = ${shape}` : `image size ${height}x${width}`;
  const expected = npy ? 'NHWC uint8 with H == W' : 'square images (height == width)';
  const fix = 'or give a size (--size S) to centre-crop and resize to SxS';
  return new Error(`${path}: ${what} is not square: expected ${expected}; ${fix}`);
}
