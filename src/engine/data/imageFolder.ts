/**
 * A folder of PNG/JPEG images, searched recursively. When the top level holds subfolders with images,
 * each such subfolder is a class (label = index in the sorted subfolder names). Every image is decoded by
 * pngjs/jpeg-js to 8-bit RGBA (both codecs normalise gray, gray+alpha, palette and 16-bit input to that),
 * composited over black, converted to RGB or gray and centre-cropped/resized to size x size.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import type { RawDataset, SkippedItem } from './raw';
import { describeFsError, readFileChecked } from './raw';
import { resizeSquare, rgbaTo, validateSize } from './resize';

export const DEFAULT_FOLDER_SIZE = 32;
const IMAGE_EXT = /\.(png|jpe?g)$/i;
/** Guards against decompression bombs: a 100-megapixel photo is already far beyond any use here. */
const MAX_MEGAPIXELS = 100;

export interface ImageFolderOptions {
  /** Output side length in pixels (square, centre crop). Default 32. */
  size?: number;
  /** One gray channel instead of RGB. */
  grayscale?: boolean;
  /** Throw on the first unreadable image instead of skipping it. */
  strict?: boolean;
  /** Stop after this many good images. */
  limit?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface DecodedImage {
  width: number;
  height: number;
  /** 8-bit RGBA, row-major. */
  rgba: Uint8Array;
}

export function isImageFileName(name: string): boolean {
  return IMAGE_EXT.test(name);
}

/** Decodes by content (magic bytes), not by extension, so a mislabelled .jpg that is really a PNG still loads. */
export function decodeImage(buf: Uint8Array): DecodedImage {
  if (buf.length >= 8 && buf[0] === 0x89 && buf[1] === 0x50 && buf[2] === 0x4e && buf[3] === 0x47) {
    const png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
    return { width: png.width, height: png.height, rgba: png.data };
  }
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) {
    const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, tolerantDecoding: false, maxResolutionInMP: MAX_MEGAPIXELS, maxMemoryUsageInMB: 2048 });
    return { width: img.width, height: img.height, rgba: img.data };
  }
  throw new Error('not a PNG or JPEG (unrecognised leading bytes)');
}

interface Listed {
  files: { path: string; label?: number }[];
  classNames?: string[];
  /** Loose top-level images when classes come from subfolders: they have no label to give. */
  skipped: SkippedItem[];
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function listDir(dir: string): { files: string[]; dirs: string[] } {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    throw new Error(describeFsError(dir, 'image folder', err));
  }
  const files: string[] = [];
  const dirs: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue; // .DS_Store, ._foo.jpg (macOS resource forks), .git
    const p = join(dir, e.name);
    if (e.isDirectory()) dirs.push(p);
    else if (e.isFile() && isImageFileName(e.name)) files.push(p);
    else if (e.isSymbolicLink() && isImageFileName(e.name)) {
      // Symlinked files are followed; symlinked folders are not, which rules out cycles.
      try {
        if (statSync(p).isFile()) files.push(p);
      } catch {
        files.push(p); // dangling: let the decode step report it as skipped
      }
    }
  }
  return { files: files.sort(byCodeUnit), dirs: dirs.sort(byCodeUnit) };
}

function imagesUnder(dir: string): string[] {
  const { files, dirs } = listDir(dir);
  return [...files, ...dirs.flatMap(imagesUnder)];
}

/** The images of a folder in a deterministic order, with class labels from top-level subfolders. */
export function listImageFolder(dir: string): Listed {
  const top = listDir(dir);
  const classes = top.dirs.map((d) => ({ dir: d, files: imagesUnder(d) })).filter((c) => c.files.length > 0);
  if (classes.length === 0) return { files: top.files.map((path) => ({ path })), skipped: [] };
  return {
    files: classes.flatMap((c, label) => c.files.map((path) => ({ path, label }))),
    classNames: classes.map((c) => basename(c.dir)),
    skipped: top.files.map((file) => ({ file, reason: 'outside the class subfolders, so it has no label (classes come from subfolder names)' })),
  };
}

const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

export async function readImageFolder(dir: string, opts: ImageFolderOptions = {}): Promise<RawDataset> {
  const size = opts.size ?? DEFAULT_FOLDER_SIZE;
  validateSize(size);
  const channels: 1 | 3 = opts.grayscale ? 1 : 3;
  const listed = listImageFolder(dir);
  if (opts.strict && listed.skipped.length > 0) {
    throw new Error(`${listed.skipped[0]!.file}: ${listed.skipped[0]!.reason}`);
  }
  const total = listed.files.length;
  if (total === 0) throw new Error(`${dir}: no .png, .jpg or .jpeg images found in it or its subfolders`);
  const capacity = Math.min(total, opts.limit ?? total);
  const per = size * size * channels;
  const pixels = new Uint8Array(capacity * per);
  const labels = listed.classNames ? new Int32Array(capacity) : undefined;
  const skipped = [...listed.skipped];
  let good = 0;
  let done = 0;
  for (const { path, label } of listed.files) {
    if (good >= capacity) break;
    if (done % 32 === 0) {
      // Decoding is synchronous; yielding lets progress messages and a cancel request get through.
      await yieldToEventLoop();
      opts.signal?.throwIfAborted();
    }
    try {
      const img = decodeImage(readFileChecked(path, 'image'));
      if (img.width < 1 || img.height < 1) throw new Error(`empty image (${img.width}x${img.height})`);
      const converted = rgbaTo(img.rgba, img.width * img.height, channels);
      resizeSquare(converted, img.height, img.width, channels, size, pixels.subarray(good * per, (good + 1) * per));
      if (labels) labels[good] = label!;
      good += 1;
    } catch (err) {
      const reason = err instanceof Error ? err.message.replace(`${path}: `, '') : String(err);
      if (opts.strict) throw new Error(`${path}: cannot read image: ${reason}`);
      skipped.push({ file: path, reason });
    }
    done += 1;
    opts.onProgress?.(done, total);
  }
  return {
    pixels: good === capacity ? pixels : pixels.slice(0, good * per),
    labels: labels && (good === capacity ? labels : labels.slice(0, good)),
    count: good,
    height: size,
    width: size,
    channels,
    classNames: listed.classNames,
    skipped,
  };
}
