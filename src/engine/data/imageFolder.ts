/**
 * A folder of PNG/JPEG images, searched recursively. Class labels come from the top-level subfolders
 * (label = index in the sorted subfolder names) when every image sits in one, or when asked for;
 * a folder with images both at the top level and in subfolders is imported whole, without labels, and
 * the report says so. Every image is decoded to 8-bit RGBA (see imageDecode.ts), composited over black,
 * converted to RGB or gray and centre-cropped/resized to size x size.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ClassMode } from '../../shared/engineMessages';
import type { RawDataset, SkippedItem } from './raw';
import { describeFsError, readFileChecked } from './raw';
import { resizeSquare, rgbaTo, validateSize } from './resize';
import { decodeImage } from './imageDecode';

export const DEFAULT_FOLDER_SIZE = 32;
const IMAGE_EXT = /\.(png|jpe?g)$/i;
/** How many unreadable files a --strict refusal lists by name. */
const STRICT_LISTED = 20;

export interface ImageFolderOptions {
  /** Output side length in pixels (square, centre crop). Default 32. */
  size?: number;
  /** One gray channel instead of RGB. */
  grayscale?: boolean;
  /** Refuse the import when any image cannot be read, naming each one and why. */
  strict?: boolean;
  /** Labels from class subfolders: 'auto' (default) only when no image sits at the top level. */
  classes?: ClassMode;
  /** Stop after this many good images. */
  limit?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export function isImageFileName(name: string): boolean {
  return IMAGE_EXT.test(name);
}

interface Listed {
  files: { path: string; label?: number }[];
  classNames?: string[];
  /** Top-level images when classes come from subfolders by request: they have no label to give. */
  skipped: SkippedItem[];
  /** What was decided about labels, for the import report. */
  notes: string[];
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

function listNames(names: string[]): string {
  return names.length <= 8 ? names.join(', ') : `${names.slice(0, 8).join(', ')}, ...`;
}

/** The images of a folder in a deterministic order, with class labels from top-level subfolders. */
export function listImageFolder(dir: string, mode: ClassMode = 'auto'): Listed {
  const top = listDir(dir);
  const classes = top.dirs.map((d) => ({ dir: d, files: imagesUnder(d) })).filter((c) => c.files.length > 0);
  const nested = classes.reduce((n, c) => n + c.files.length, 0);
  if (mode === 'subfolders' && classes.length === 0) {
    const found = `${top.files.length} at the top level`;
    throw new Error(`${dir}: class labels from subfolders were asked for, but no subfolder holds images (${found})`);
  }
  const useClasses = mode === 'subfolders' || (mode === 'auto' && classes.length > 0 && top.files.length === 0);
  if (!useClasses) {
    const notes: string[] = [];
    if (nested > 0 && top.files.length > 0) {
      notes.push(
        `${top.files.length} images at the top level and ${nested} in subfolders: imported all without class labels ` +
          '(labels come from subfolders only when every image is in one; ' +
          '--classes subfolders skips the top-level images instead)',
      );
    } else if (nested > 0) {
      notes.push(`${nested} images in ${classes.length} subfolder(s) imported without class labels (--classes none)`);
    }
    return { files: [...top.files, ...classes.flatMap((c) => c.files)].map((path) => ({ path })), skipped: [], notes };
  }
  const classNames = classes.map((c) => basename(c.dir));
  const hint = mode === 'auto' ? ' (--classes none imports without labels)' : '';
  const notes = [`class labels from ${classNames.length} subfolder(s): ${listNames(classNames)}${hint}`];
  if (top.files.length > 0) notes.push(`${top.files.length} top-level images skipped: they are in no class subfolder`);
  return {
    files: classes.flatMap((c, label) => c.files.map((path) => ({ path, label }))),
    classNames,
    skipped: top.files.map((file) => ({
      file,
      reason: 'at the top level, in no class subfolder, so it has no label (--classes subfolders)',
    })),
    notes,
  };
}

/** The --strict refusal: every unreadable file by name, with why. */
function strictRefusal(broken: SkippedItem[], seen: number): Error {
  const lines = broken.slice(0, STRICT_LISTED).map((b) => `  ${b.file}: ${b.reason}`);
  if (broken.length > STRICT_LISTED) lines.push(`  ... and ${broken.length - STRICT_LISTED} more`);
  const head = `${broken.length} of ${seen} images cannot be read, so nothing was imported (--strict)`;
  return new Error(`${head}:\n${lines.join('\n')}`);
}

const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

export async function readImageFolder(dir: string, opts: ImageFolderOptions = {}): Promise<RawDataset> {
  const size = opts.size ?? DEFAULT_FOLDER_SIZE;
  validateSize(size);
  const channels: 1 | 3 = opts.grayscale ? 1 : 3;
  const listed = listImageFolder(dir, opts.classes);
  const total = listed.files.length;
  if (total === 0) throw new Error(`${dir}: no .png, .jpg or .jpeg images found in it or its subfolders`);
  const capacity = Math.min(total, opts.limit ?? total);
  const per = size * size * channels;
  const pixels = new Uint8Array(capacity * per);
  const labels = listed.classNames ? new Int32Array(capacity) : undefined;
  const broken: SkippedItem[] = [];
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
      const converted = rgbaTo(img.rgba, img.width * img.height, channels);
      resizeSquare(converted, img.height, img.width, channels, size, pixels.subarray(good * per, (good + 1) * per));
      if (labels) labels[good] = label!;
      good += 1;
    } catch (err) {
      const reason = err instanceof Error ? err.message.replace(`${path}: `, '') : String(err);
      broken.push({ file: path, reason });
    }
    done += 1;
    opts.onProgress?.(done, total);
  }
  if (opts.strict && broken.length > 0) throw strictRefusal(broken, done);
  return {
    pixels: good === capacity ? pixels : pixels.slice(0, good * per),
    labels: labels && (good === capacity ? labels : labels.slice(0, good)),
    count: good,
    height: size,
    width: size,
    channels,
    classNames: listed.classNames,
    skipped: [...listed.skipped, ...broken],
    notes: listed.notes,
  };
}
