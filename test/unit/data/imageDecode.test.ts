/**
 * Decoding checks the size an image declares before inflating anything (decompression bombs), and names
 * truncated files as truncated instead of surfacing the codecs' internal texts.
 */
import { once } from 'node:events';
import { join } from 'node:path';
import { createDeflate } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../../src/engine/data/imageDecode';
import { readImageFolder } from '../../../src/engine/data/imageFolder';
import { jpegBytes, pngBytes, solidRgba, tempDir, write } from './helpers';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A valid 8-bit gray PNG of side x side black pixels. Deflate squeezes the 268 MB of rows of a 16384²
 * image into ~260 KB: the bomb. Compressed as a stream so building it takes little memory.
 */
async function pngBomb(side: number): Promise<Buffer> {
  const rows = 256;
  const block = Buffer.alloc((side + 1) * rows);
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (c: Buffer) => parts.push(c));
  for (let i = 0; i < side / rows; i++) if (!deflate.write(block)) await once(deflate, 'drain');
  deflate.end();
  await once(deflate, 'end');
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // gray
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunks = [chunk('IHDR', ihdr), chunk('IDAT', Buffer.concat(parts)), chunk('IEND', Buffer.alloc(0))];
  return Buffer.concat([signature, ...chunks]);
}

/** A JPEG whose frame header (SOF0) is rewritten to declare another size. */
function jpegDeclaring(width: number, height: number): Buffer {
  const buf = Buffer.from(jpegBytes(8, 8, solidRgba(8, 8, [50, 60, 70, 255])));
  for (let o = 2; o < buf.length;) {
    const marker = buf[o + 1]!;
    if (marker === 0xc0) {
      buf.writeUInt16BE(height, o + 5);
      buf.writeUInt16BE(width, o + 7);
      return buf;
    }
    o += 2 + buf.readUInt16BE(o + 2);
  }
  throw new Error('no SOF0 in the test JPEG');
}

/** Written out here so the test states the documented limit, not whatever the code says. */
const LIMIT = '64 Mpx (8192x8192)';
const peakRssBytes = (): number => process.resourceUsage().maxRSS * 1024;

describe('image decoding limits', () => {
  // First in the file, so the process's peak memory so far is low and a decode would show in it.
  it('refuses a 261 KB PNG that declares 16384x16384 before inflating it: peak memory stays small', async () => {
    const bomb = await pngBomb(16384);
    expect(bomb.length).toBeLessThan(400_000);
    const dir = tempDir();
    const file = write(join(dir, 'bomb.png'), bomb);
    write(join(dir, 'ok.png'), pngBytes(4, 4, solidRgba(4, 4, [1, 2, 3, 255])));
    const before = peakRssBytes();
    const raw = await readImageFolder(dir, { size: 4 });
    const grew = peakRssBytes() - before;
    expect(raw.count).toBe(1);
    expect(raw.skipped).toEqual([
      { file, reason: `image of 16384x16384 (256 Mpx) is over the limit of ${LIMIT}; refused before decoding` },
    ]);
    // Decoding it took 2.47 GB; reading the file and its header takes about its size.
    expect(grew).toBeLessThan(64 * 2 ** 20);
    await expect(readImageFolder(dir, { size: 4, strict: true })).rejects.toThrow(`${file}: image of 16384x16384`);
  });

  it('refuses a JPEG whose frame header declares more than the limit, before decoding', () => {
    const over = `image of 12000x9000 (103 Mpx) is over the limit of ${LIMIT}`;
    expect(() => decodeImage(jpegDeclaring(12000, 9000))).toThrow(over);
    expect(() => decodeImage(jpegDeclaring(65535, 65535))).toThrow('image of 65535x65535 (4096 Mpx) is over the limit');
  });

  it('names a PNG or JPEG cut short as truncated, with no codec internals', () => {
    const png = pngBytes(8, 8, solidRgba(8, 8, [9, 8, 7, 255]));
    for (const cut of [20, 40, png.length - 20, png.length - 5]) {
      expect(() => decodeImage(png.subarray(0, cut))).toThrow(/^truncated PNG \(/);
    }
    expect(() => decodeImage(png.subarray(0, png.length - 2))).toThrow(
      `truncated PNG (the file ends inside the 'IEND' chunk: ${png.length - 2} bytes of the ${png.length} it needs)`,
    );
    const jpg = jpegBytes(8, 8, solidRgba(8, 8, [9, 8, 7, 255]));
    const early = 'truncated JPEG (the file ends after 100 bytes, before the image data)';
    expect(() => decodeImage(jpg.subarray(0, 100))).toThrow(early);
    expect(() => decodeImage(jpg.subarray(0, jpg.length - 10))).toThrow(
      `truncated JPEG (the file ends after ${jpg.length - 10} bytes, before the end-of-image marker)`,
    );
    for (const bad of [png.subarray(0, 40), jpg.subarray(0, jpg.length - 10)]) {
      expect(() => decodeImage(bad)).not.toThrow(/waitng|marker was not found|unknown JPEG marker/);
    }
    // Whole files still decode.
    expect(decodeImage(png)).toMatchObject({ width: 8, height: 8 });
    expect(decodeImage(jpg)).toMatchObject({ width: 8, height: 8 });
  });
});
