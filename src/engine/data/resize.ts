/**
 * Pixel transforms shared by the readers: centre-crop + resample to a square, RGBA → RGB/gray, RGB → gray.
 * Downsampling uses exact area averaging (each source pixel weighted by how much of it an output pixel
 * covers) because bilinear sampling alone aliases badly at the 4–8x reductions typical here (photos
 * down to 32 px); upsampling uses bilinear, where area averaging would give blocky nearest-neighbour.
 */
import type { RawDataset } from './raw';

interface Taps {
  /** For output position j, taps start[j] .. start[j+1]-1 of `index`/`weight`. */
  start: Int32Array;
  index: Int32Array;
  weight: Float32Array;
}

/** 1-D resampling taps from source span [offset, offset+len) to `out` samples. */
function axisTaps(offset: number, len: number, out: number): Taps {
  const scale = len / out;
  const idx: number[] = [];
  const wts: number[] = [];
  const start = new Int32Array(out + 1);
  for (let j = 0; j < out; j++) {
    start[j] = idx.length;
    if (scale >= 1) {
      const a = j * scale;
      const b = a + scale;
      for (let k = Math.floor(a); k < Math.ceil(b) && k < len; k++) {
        const cover = Math.min(b, k + 1) - Math.max(a, k);
        if (cover > 1e-9) {
          idx.push(offset + k);
          wts.push(cover / scale);
        }
      }
    } else {
      const x = Math.min(Math.max((j + 0.5) * scale - 0.5, 0), len - 1);
      const k0 = Math.floor(x);
      const f = x - k0;
      idx.push(offset + k0);
      wts.push(1 - f);
      if (f > 0) {
        idx.push(offset + Math.min(k0 + 1, len - 1));
        wts.push(f);
      }
    }
  }
  start[out] = idx.length;
  return { start, index: Int32Array.from(idx), weight: Float32Array.from(wts) };
}

/**
 * Crops the centre square of an HxWxC image (the shorter side's length) and resamples it to size x size.
 * `dst` (size*size*C) may be given to write in place, e.g. straight into a dataset's pixel buffer.
 */
export function resizeSquare(
  src: ArrayLike<number>,
  height: number,
  width: number,
  channels: number,
  size: number,
  dst: Uint8Array = new Uint8Array(size * size * channels),
): Uint8Array {
  const side = Math.min(height, width);
  const offY = Math.floor((height - side) / 2);
  const offX = Math.floor((width - side) / 2);
  const tx = axisTaps(offX, side, size);
  const ty = axisTaps(offY, side, size);
  const c = channels;
  // Horizontal pass over the cropped rows only.
  const tmp = new Float32Array(side * size * c);
  for (let y = 0; y < side; y++) {
    const rowIn = (offY + y) * width * c;
    const rowOut = y * size * c;
    for (let j = 0; j < size; j++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let t = tx.start[j]!; t < tx.start[j + 1]!; t++)
          acc += tx.weight[t]! * src[rowIn + tx.index[t]! * c + ch]!;
        tmp[rowOut + j * c + ch] = acc;
      }
    }
  }
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let t = ty.start[i]!; t < ty.start[i + 1]!; t++)
          acc += ty.weight[t]! * tmp[((ty.index[t]! - offY) * size + j) * c + ch]!;
        dst[(i * size + j) * c + ch] = clampByte(acc);
      }
    }
  }
  return dst;
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** ITU-R BT.601 luma, the weighting most grayscale datasets (and PIL's convert('L')) use. */
export function luma(r: number, g: number, b: number): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

/**
 * RGBA (8-bit, as both codecs return it) → RGB or gray, compositing over black. Black rather than white
 * because compositing over black is premultiplication, so the later area average is the correct
 * average of the visible colour and transparent borders don't bleed a colour halo into the image.
 */
export function rgbaTo(rgba: ArrayLike<number>, pixels: number, channels: 1 | 3): Uint8Array {
  const out = new Uint8Array(pixels * channels);
  for (let p = 0; p < pixels; p++) {
    const a = rgba[p * 4 + 3]! / 255;
    const r = rgba[p * 4]! * a;
    const g = rgba[p * 4 + 1]! * a;
    const b = rgba[p * 4 + 2]! * a;
    if (channels === 3) {
      out[p * 3] = Math.round(r);
      out[p * 3 + 1] = Math.round(g);
      out[p * 3 + 2] = Math.round(b);
    } else {
      out[p] = clampByte(luma(r, g, b));
    }
  }
  return out;
}

/** Resamples every image of a dataset to size x size (centre crop); a no-op when already that size. */
export function resizeRaw(raw: RawDataset, size: number): RawDataset {
  if (raw.height === size && raw.width === size) return raw;
  const inPer = raw.height * raw.width * raw.channels;
  const outPer = size * size * raw.channels;
  const pixels = new Uint8Array(raw.count * outPer);
  for (let i = 0; i < raw.count; i++) {
    resizeSquare(
      raw.pixels.subarray(i * inPer, (i + 1) * inPer),
      raw.height,
      raw.width,
      raw.channels,
      size,
      pixels.subarray(i * outPer, (i + 1) * outPer),
    );
  }
  return { ...raw, pixels, height: size, width: size };
}

export function grayscaleRaw(raw: RawDataset): RawDataset {
  if (raw.channels === 1) return raw;
  const n = raw.count * raw.height * raw.width;
  const pixels = new Uint8Array(n);
  for (let p = 0; p < n; p++)
    pixels[p] = clampByte(luma(raw.pixels[p * 3]!, raw.pixels[p * 3 + 1]!, raw.pixels[p * 3 + 2]!));
  return { ...raw, pixels, channels: 1 };
}

export function validateSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > 1024)
    throw new Error(`size: expected an integer in 1..1024, got ${size}`);
}
