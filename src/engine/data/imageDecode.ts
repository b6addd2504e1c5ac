/**
 * PNG and JPEG decoding with the checks the codecs leave out. The size an image declares in its header
 * (PNG IHDR, JPEG SOF) is checked before anything is inflated: a 261 KB PNG can declare 16384x16384
 * pixels and take gigabytes to decode. A file cut short is named as truncated instead of surfacing the
 * codec's internal text ("read requests waitng on finished stream").
 * Errors carry the reason only; callers prefix the file name.
 */
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';

/**
 * The largest image accepted: 64 Mpx (8192x8192, or any shape with as many pixels). Decoding one takes
 * ~256 MiB of RGBA plus the codec's buffers; far beyond any size a diffusion model here trains at.
 */
export const MAX_IMAGE_PIXELS = 8192 * 8192;
export const MAX_IMAGE_LIMIT_TEXT = '64 Mpx (8192x8192)';

export interface DecodedImage {
  width: number;
  height: number;
  /** 8-bit RGBA, row-major. */
  rgba: Uint8Array;
}

/** Refuses a declared size over the pixel limit; `what` says whose size it is, e.g. 'image'. */
export function checkPixelLimit(width: number, height: number, what = 'image'): void {
  if (width * height > MAX_IMAGE_PIXELS) {
    const mpx = ((width * height) / 2 ** 20).toFixed(0);
    const size = `${width}x${height} (${mpx} Mpx)`;
    throw new Error(`${what} of ${size} is over the limit of ${MAX_IMAGE_LIMIT_TEXT}; refused before decoding`);
  }
}

function checkImageDimensions(width: number, height: number): void {
  if (width < 1 || height < 1) throw new Error(`empty image (${width}x${height})`);
  checkPixelLimit(width, height);
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function isPng(buf: Uint8Array): boolean {
  return buf.length >= 8 && PNG_SIGNATURE.every((b, i) => buf[i] === b);
}

export function isJpeg(buf: Uint8Array): boolean {
  return buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;
}

function u32(buf: Uint8Array, o: number): number {
  return ((buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!) >>> 0;
}

function u16(buf: Uint8Array, o: number): number {
  return (buf[o]! << 8) | buf[o + 1]!;
}

/**
 * Walks the PNG's chunks (no decoding): the IHDR size, and whether the file holds every chunk up to
 * IEND. Throws for a file that ends early or does not start with IHDR.
 */
export function pngHeader(buf: Uint8Array): { width: number; height: number } {
  if (buf.length < 33) throw new Error(`truncated PNG (${buf.length} bytes, too short for its header)`);
  const type = (o: number) => String.fromCharCode(buf[o]!, buf[o + 1]!, buf[o + 2]!, buf[o + 3]!);
  if (type(12) !== 'IHDR') throw new Error(`corrupt PNG (the first chunk is '${type(12)}', expected 'IHDR')`);
  const size = { width: u32(buf, 16), height: u32(buf, 20) };
  let o = 8;
  for (;;) {
    if (o + 8 > buf.length) {
      throw new Error(`truncated PNG (the file ends after ${buf.length} bytes, before the IEND chunk)`);
    }
    const len = u32(buf, o);
    const name = type(o + 4);
    const end = o + 12 + len;
    if (end > buf.length) {
      const where = `inside the '${name}' chunk: ${buf.length} bytes of the ${end} it needs`;
      throw new Error(`truncated PNG (the file ends ${where})`);
    }
    if (name === 'IEND') return size;
    o = end;
  }
}

/**
 * The frame size from the JPEG's SOF marker, found by walking the marker segments before the scan.
 * Throws when the file ends before the frame header or before the end-of-image marker. Undefined when
 * the segments do not chain (some encoders drop a byte): jpeg-js copes with that, and applies the same
 * pixel limit itself while it parses the frame header.
 */
export function jpegHeader(buf: Uint8Array): { width: number; height: number } | undefined {
  let o = 2;
  let size: { width: number; height: number } | undefined;
  while (o + 4 <= buf.length) {
    if (buf[o] !== 0xff) return undefined;
    const marker = buf[o + 1]!;
    if (marker === 0xff) {
      o += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      o += 2;
      continue;
    }
    const len = u16(buf, o + 2);
    // SOF0..SOF15 hold the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (o + 9 > buf.length) break;
      size = { height: u16(buf, o + 5), width: u16(buf, o + 7) };
    }
    if (marker === 0xda) {
      if (!size) throw new Error('corrupt JPEG (image data before the frame header)');
      if (!hasEndMarker(buf, o)) {
        throw new Error(`truncated JPEG (the file ends after ${buf.length} bytes, before the end-of-image marker)`);
      }
      return size;
    }
    o += 2 + len;
  }
  throw new Error(`truncated JPEG (the file ends after ${buf.length} bytes, before the image data)`);
}

/** True when an end-of-image marker (FF D9) follows `from`; cameras may append bytes after it. */
function hasEndMarker(buf: Uint8Array, from: number): boolean {
  for (let i = buf.length - 2; i > from; i--) if (buf[i] === 0xff && buf[i + 1] === 0xd9) return true;
  return false;
}

/** The codecs' own texts, said plainly where we know what they mean. */
function codecReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const endsEarly = /read requests waitng|unexpected end|marker was not found|unexpected eof/i;
  if (endsEarly.test(msg)) return 'the pixel data ends early';
  return msg;
}

/** Decodes by content (magic bytes), not by extension, so a mislabelled .jpg that is really a PNG still loads. */
export function decodeImage(buf: Uint8Array): DecodedImage {
  if (isPng(buf)) {
    const { width, height } = pngHeader(buf);
    checkImageDimensions(width, height);
    try {
      const png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
      return { width: png.width, height: png.height, rgba: png.data };
    } catch (err) {
      throw new Error(`truncated or corrupt PNG (${codecReason(err)})`);
    }
  }
  if (isJpeg(buf)) {
    const size = jpegHeader(buf);
    if (size) checkImageDimensions(size.width, size.height);
    try {
      const img = jpeg.decode(buf, {
        useTArray: true,
        formatAsRGBA: true,
        tolerantDecoding: false,
        maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
        maxMemoryUsageInMB: 1024,
      });
      return { width: img.width, height: img.height, rgba: img.data };
    } catch (err) {
      throw new Error(`truncated or corrupt JPEG (${codecReason(err)})`);
    }
  }
  throw new Error('not a PNG or JPEG (unrecognised leading bytes)');
}
