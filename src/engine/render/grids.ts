/**
 * Sample grids as PNG (pngjs). Layout like torchvision's make_grid: cells of (h * scale) x (w * scale)
 * pixels, `padding` pixels between cells and around the border, filled with `background`.
 * Grayscale (c = 1) is expanded to RGB; c = 3 is RGB; c = 4 drops alpha (composited on nothing).
 */
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../../io/atomicFile';
import { ADVANCE, drawText, textWidth, GLYPH_H } from './bitmapFont';

export interface GridOptions {
  /** Columns; default ceil(sqrt(n)). */
  cols?: number;
  /** Pixels between cells and around the border. Default 2. */
  padding?: number;
  /** Nearest-neighbour upscale factor for each image. Default 1. */
  scale?: number;
  /** Gray level (0..255) of padding and empty cells. Default 255 (white). */
  background?: number;
  /** A line of text drawn in a band above the grid (5x7 bitmap font). */
  caption?: string;
  /** A label centred above each column (a checkpoint's step, a frame's t), in a band below the caption. */
  colLabels?: readonly string[];
}

/** Pixels above and below the column labels' line. */
const LABEL_PAD = 3;

/** Height of the band of column labels (0 without labels). */
export function labelBandHeight(opts: Pick<GridOptions, 'colLabels'>): number {
  return opts.colLabels && opts.colLabels.length > 0 ? GLYPH_H + 2 * LABEL_PAD : 0;
}

/** Caption lines that fit the grid's width at font scale 1, broken at spaces. */
function wrapCaption(text: string, width: number, pad: number): string[] {
  const maxChars = Math.max(1, Math.floor((width - 2 * pad + 1) / ADVANCE));
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (next.length <= maxChars) line = next;
    else {
      if (line) lines.push(line);
      line = word.length > maxChars ? word.slice(0, maxChars) : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * The caption band above the grid: its lines, their font scale (up to 3 when one line fits) and
 * its height (lines of 7 px + 2 px spacing, padding above and below).
 */
export function captionBand(
  caption: string | undefined,
  width: number,
  padding = 2,
): { height: number; scale: number; lines: string[]; pad: number } {
  if (!caption) return { height: 0, scale: 1, lines: [], pad: 0 };
  const pad = Math.max(2, padding);
  const lines = wrapCaption(caption, width, pad);
  const scale =
    lines.length === 1
      ? Math.max(1, Math.min(3, Math.floor((width - 2 * pad) / Math.max(1, textWidth(lines[0]!, 1)))))
      : 1;
  return { height: lines.length * (GLYPH_H + 2) * scale - 2 * scale + 2 * pad, scale, lines, pad };
}

export interface GridLayout {
  cols: number;
  rows: number;
  width: number;
  height: number;
}

function posInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`grid: ${name} must be a positive integer, got ${v}`);
}

export function gridLayout(n: number, h: number, w: number, opts: GridOptions = {}): GridLayout {
  posInt('n', n);
  posInt('height', h);
  posInt('width', w);
  const cols = Math.min(opts.cols ?? Math.ceil(Math.sqrt(n)), n);
  posInt('cols', cols);
  const padding = opts.padding ?? 2;
  if (!Number.isInteger(padding) || padding < 0)
    throw new Error(`grid: padding must be an integer >= 0, got ${padding}`);
  const scale = opts.scale ?? 1;
  posInt('scale', scale);
  const rows = Math.ceil(n / cols);
  const width = cols * (w * scale + padding) + padding;
  return {
    cols,
    rows,
    width,
    height:
      rows * (h * scale + padding) + padding + captionBand(opts.caption, width, padding).height + labelBandHeight(opts),
  };
}

/** Nearest-neighbour upscale that makes small images readable in a grid (16 px → 64 px). */
export function gridScale(imageSize: number): number {
  return imageSize < 32 ? 4 : imageSize < 64 ? 2 : 1;
}

/** Encodes n images (uint8 NHWC) as one RGB PNG grid. */
export function makeGridPng(
  images: Uint8Array,
  n: number,
  h: number,
  w: number,
  c: number,
  opts: GridOptions = {},
): Buffer {
  if (c !== 1 && c !== 3 && c !== 4) throw new Error(`grid: channels must be 1, 3 or 4, got ${c}`);
  const { cols, width, height } = gridLayout(n, h, w, opts);
  if (images.length !== n * h * w * c) {
    throw new Error(`grid: got ${images.length} values, expected ${n * h * w * c} for ${n} images of ${h}x${w}x${c}`);
  }
  const padding = opts.padding ?? 2;
  const scale = opts.scale ?? 1;
  const bg = opts.background ?? 255;
  if (!Number.isInteger(bg) || bg < 0 || bg > 255)
    throw new Error(`grid: background must be an integer in 0..255, got ${bg}`);

  const png = new PNG({ width, height, colorType: 2, inputColorType: 6, inputHasAlpha: true });
  const data = png.data; // RGBA
  for (let p = 0; p < width * height; p++) {
    data[4 * p] = bg;
    data[4 * p + 1] = bg;
    data[4 * p + 2] = bg;
    data[4 * p + 3] = 255;
  }
  const band = captionBand(opts.caption, width, padding);
  const ink: [number, number, number] = bg > 127 ? [20, 20, 20] : [235, 235, 235];
  band.lines.forEach((line, i) =>
    drawText(data, width, band.pad, band.pad + i * (GLYPH_H + 2) * band.scale, line, band.scale, ink),
  );
  const cellW = w * scale;
  const cellH = h * scale;
  // A label wider than its cell is cut to the characters that fit.
  const fit = Math.max(1, Math.floor((cellW + 1) / ADVANCE));
  opts.colLabels?.slice(0, cols).forEach((label, col) => {
    const text = label.slice(0, fit);
    const x = padding + col * (cellW + padding) + Math.floor((cellW - textWidth(text, 1)) / 2);
    drawText(data, width, x, band.height + LABEL_PAD, text, 1, ink);
  });
  const top = band.height + labelBandHeight(opts);
  for (let i = 0; i < n; i++) {
    const ox = padding + (i % cols) * (cellW + padding);
    const oy = top + padding + Math.floor(i / cols) * (cellH + padding);
    const base = i * h * w * c;
    for (let y = 0; y < cellH; y++) {
      const sy = Math.floor(y / scale);
      let dst = 4 * ((oy + y) * width + ox);
      for (let x = 0; x < cellW; x++, dst += 4) {
        const src = base + (sy * w + Math.floor(x / scale)) * c;
        const r = images[src]!;
        data[dst] = r;
        data[dst + 1] = c === 1 ? r : images[src + 1]!;
        data[dst + 2] = c === 1 ? r : images[src + 2]!;
      }
    }
  }
  return PNG.sync.write(png, { colorType: 2, inputColorType: 6, inputHasAlpha: true });
}

/** Writes the grid PNG atomically (temp file + rename). */
export function writeGridPng(
  path: string,
  images: Uint8Array,
  n: number,
  h: number,
  w: number,
  c: number,
  opts: GridOptions = {},
): void {
  writeFileAtomic(path, makeGridPng(images, n, h, w, c, opts));
}

/**
 * The images of a grid PNG that makeGridPng wrote with these options (uint8 NHWC): the inverse of its layout,
 * reading one source pixel per scaled cell. Grayscale comes back from the red channel; alpha was not kept.
 */
export function readGridPixels(
  png: Buffer,
  n: number,
  h: number,
  w: number,
  c: number,
  opts: GridOptions = {},
): Uint8Array {
  if (c !== 1 && c !== 3) throw new Error(`grid: only 1 or 3 channels can be read back from a grid, got ${c}`);
  const { cols, width, height } = gridLayout(n, h, w, opts);
  const img = PNG.sync.read(png);
  if (img.width !== width || img.height !== height) {
    const expected = `${width}x${height} for ${n} images of ${h}x${w} in ${cols} columns`;
    throw new Error(`grid: the PNG is ${img.width}x${img.height}, expected ${expected}`);
  }
  const padding = opts.padding ?? 2;
  const scale = opts.scale ?? 1;
  const top = captionBand(opts.caption, width, padding).height + labelBandHeight(opts);
  const out = new Uint8Array(n * h * w * c);
  for (let i = 0; i < n; i++) {
    const ox = padding + (i % cols) * (w * scale + padding);
    const oy = top + padding + Math.floor(i / cols) * (h * scale + padding);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const src = 4 * ((oy + y * scale) * width + ox + x * scale);
        const dst = ((i * h + y) * w + x) * c;
        for (let ch = 0; ch < c; ch++) out[dst + ch] = img.data[src + ch]!;
      }
    }
  }
  return out;
}
