import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listImageFolder, readImageFolder } from '../../../src/engine/data/imageFolder';
import { jpegBytes, pngBytes, solidRgba, tempDir, write } from './helpers';

/** Every pixel of image i (all channels) as one array. */
function image(raw: { pixels: Uint8Array; height: number; width: number; channels: number }, i: number): number[] {
  const per = raw.height * raw.width * raw.channels;
  return Array.from(raw.pixels.subarray(i * per, (i + 1) * per));
}

function allNear(values: number[], rgb: number[], tol: number): boolean {
  return values.every((v, k) => Math.abs(v - rgb[k % rgb.length]!) <= tol);
}

describe('image folder reader', () => {
  it('decodes PNG variants and JPEG, sorted by name, resized to the target size', async () => {
    const dir = tempDir();
    const c: [number, number, number, number] = [200, 100, 50, 255];
    write(join(dir, 'b_rgba.png'), pngBytes(12, 12, solidRgba(12, 12, c)));
    write(join(dir, 'a_rgb.png'), pngBytes(12, 12, solidRgba(12, 12, c), { colorType: 2 }));
    write(join(dir, 'c_gray.png'), pngBytes(12, 12, solidRgba(12, 12, [90, 90, 90, 255]), { colorType: 0 }));
    write(join(dir, 'd_grayalpha.png'), pngBytes(12, 12, solidRgba(12, 12, [90, 90, 90, 255]), { colorType: 4 }));
    const g16 = new Uint16Array(12 * 12 * 4).map((_, k) => (k % 4 === 3 ? 65535 : 40000));
    write(join(dir, 'e_16bit.png'), pngBytes(12, 12, Buffer.from(g16.buffer), { bitDepth: 16, colorType: 2 }));
    write(join(dir, 'f_photo.JPG'), jpegBytes(16, 16, solidRgba(16, 16, c)));
    write(join(dir, 'notes.txt'), 'ignored');
    write(join(dir, '.hidden.png'), 'ignored too');

    const raw = await readImageFolder(dir, { size: 8 });
    expect(raw).toMatchObject({ count: 6, height: 8, width: 8, channels: 3, skipped: [] });
    expect(raw.labels).toBeUndefined();
    expect(allNear(image(raw, 0), [200, 100, 50], 0)).toBe(true); // a_rgb
    expect(allNear(image(raw, 1), [200, 100, 50], 0)).toBe(true); // b_rgba
    expect(allNear(image(raw, 2), [90, 90, 90], 0)).toBe(true); // c_gray
    expect(allNear(image(raw, 3), [90, 90, 90], 0)).toBe(true); // d_grayalpha
    expect(allNear(image(raw, 4), [156], 0)).toBe(true); // 16-bit 40000/65535 scaled to 8 bits
    expect(allNear(image(raw, 5), [200, 100, 50], 3)).toBe(true); // JPEG is lossy
  });

  it('composites transparency over black', async () => {
    const dir = tempDir();
    write(join(dir, 'half.png'), pngBytes(4, 4, solidRgba(4, 4, [200, 100, 50, 128])));
    write(join(dir, 'clear.png'), pngBytes(4, 4, solidRgba(4, 4, [255, 255, 255, 0])));
    const raw = await readImageFolder(dir, { size: 4 });
    expect(allNear(image(raw, 0), [0, 0, 0], 0)).toBe(true); // clear.png sorts first
    expect(allNear(image(raw, 1), [100, 50, 25], 1)).toBe(true);
  });

  it('centre-crops the shorter side before resizing', async () => {
    const dir = tempDir();
    // 30x10: black side bands, a white 10x10 centre.
    const rgba = solidRgba(30, 10, [0, 0, 0, 255]);
    for (let y = 0; y < 10; y++) for (let x = 10; x < 20; x++) rgba.set([255, 255, 255, 255], (y * 30 + x) * 4);
    write(join(dir, 'wide.png'), pngBytes(30, 10, rgba));
    const raw = await readImageFolder(dir, { size: 5 });
    expect(allNear(image(raw, 0), [255, 255, 255], 0)).toBe(true);
  });

  it('converts to one gray channel with the grayscale option (BT.601 luma)', async () => {
    const dir = tempDir();
    write(join(dir, 'x.png'), pngBytes(6, 6, solidRgba(6, 6, [200, 100, 50, 255])));
    const raw = await readImageFolder(dir, { size: 3, grayscale: true });
    expect(raw.channels).toBe(1);
    expect(image(raw, 0)).toEqual(new Array(9).fill(Math.round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)));
  });

  it('labels by top-level subfolder (sorted, searched recursively) when every image is in one', async () => {
    const dir = tempDir();
    const px = (v: number): Buffer => pngBytes(4, 4, solidRgba(4, 4, [v, v, v, 255]));
    write(join(dir, 'dogs', 'd1.png'), px(10));
    write(join(dir, 'cats', 'inner', 'c2.png'), px(20));
    write(join(dir, 'cats', 'c1.png'), px(30));
    write(join(dir, 'empty', 'readme.md'), 'no images here');
    const listed = listImageFolder(dir);
    expect(listed.classNames).toEqual(['cats', 'dogs']);
    const raw = await readImageFolder(dir, { size: 4 });
    expect(raw.classNames).toEqual(['cats', 'dogs']);
    expect(Array.from(raw.labels!)).toEqual([0, 0, 1]);
    expect(raw.pixels[0]).toBe(30); // cats/c1.png before cats/inner/c2.png
    expect(raw.pixels[48]).toBe(20);
    expect(raw.skipped).toEqual([]);
    expect(raw.notes).toEqual(['class labels from 2 subfolder(s): cats, dogs (--classes none imports without labels)']);
    // Asked for no labels: the same images, unlabelled.
    const none = await readImageFolder(dir, { size: 4, classes: 'none' });
    expect(none).toMatchObject({ count: 3, labels: undefined, classNames: undefined });
  });

  it('imports images at the top level and in a subfolder all, without labels, and says so', async () => {
    // The case: 19 images at the top level and 1 in a subfolder imported 1 image.
    const dir = tempDir();
    const px = (v: number): Buffer => pngBytes(4, 4, solidRgba(4, 4, [v, v, v, 255]));
    for (let i = 0; i < 19; i++) write(join(dir, `img${String(i).padStart(2, '0')}.png`), px(i));
    write(join(dir, 'extra', 'late.png'), px(200));
    const raw = await readImageFolder(dir, { size: 4 });
    expect(raw.count).toBe(20);
    expect(raw.labels).toBeUndefined();
    expect(raw.skipped).toEqual([]);
    expect(raw.pixels[19 * 48]).toBe(200); // the subfolder's image comes after the top-level ones
    const said = /^19 images at the top level and 1 in subfolders: imported all without class labels/;
    expect(raw.notes).toEqual([expect.stringMatching(said)]);
  });

  it('uses subfolders as classes when asked, skipping top-level images with a reason', async () => {
    const dir = tempDir();
    const px = (v: number): Buffer => pngBytes(4, 4, solidRgba(4, 4, [v, v, v, 255]));
    write(join(dir, 'a', '1.png'), px(1));
    write(join(dir, 'b', '1.png'), px(2));
    write(join(dir, 'loose.png'), px(3));
    const raw = await readImageFolder(dir, { size: 4, classes: 'subfolders' });
    expect(Array.from(raw.labels!)).toEqual([0, 1]);
    const reason = expect.stringMatching(/in no class subfolder/);
    expect(raw.skipped).toEqual([{ file: join(dir, 'loose.png'), reason }]);
    // --strict is about unreadable files: the label rule asked for is not one.
    const strict = readImageFolder(dir, { size: 4, classes: 'subfolders', strict: true });
    await expect(strict).resolves.toMatchObject({ count: 2 });
    const flat = tempDir();
    write(join(flat, 'x.png'), px(1));
    const none = `${flat}: class labels from subfolders were asked for, but no subfolder holds images`;
    await expect(readImageFolder(flat, { classes: 'subfolders' })).rejects.toThrow(none);
  });

  it('skips corrupt images with a reason, or refuses them in strict mode', async () => {
    const dir = tempDir();
    const good = pngBytes(4, 4, solidRgba(4, 4, [1, 2, 3, 255]));
    write(join(dir, 'a.png'), good);
    const broken = Buffer.from(good);
    broken.writeUInt8(broken.readUInt8(broken.length - 20) ^ 0xff, broken.length - 20);
    write(join(dir, 'b_corrupt.png'), broken);
    write(join(dir, 'c_trunc.jpg'), jpegBytes(8, 8, solidRgba(8, 8, [9, 9, 9, 255])).subarray(0, 100));
    write(join(dir, 'd_text.jpeg'), 'this is not an image');
    write(join(dir, 'e.png'), good);

    const raw = await readImageFolder(dir, { size: 4 });
    expect(raw.count).toBe(2);
    expect(raw.skipped.map((s) => s.file)).toEqual([
      join(dir, 'b_corrupt.png'),
      join(dir, 'c_trunc.jpg'),
      join(dir, 'd_text.jpeg'),
    ]);
    expect(raw.skipped[2]!.reason).toMatch(/not a PNG or JPEG/);
    expect(raw.pixels.length).toBe(2 * 4 * 4 * 3);

    // --strict names every broken file and why, and nothing else.
    const err = await readImageFolder(dir, { size: 4, strict: true }).then(
      () => null,
      (e: Error) => e.message,
    );
    expect(err).toBe(
      [
        '3 of 5 images cannot be read, so nothing was imported (--strict):',
        `  ${join(dir, 'b_corrupt.png')}: truncated or corrupt PNG (unrecognised content at end of stream)`,
        `  ${join(dir, 'c_trunc.jpg')}: truncated JPEG (the file ends after 100 bytes, before the image data)`,
        `  ${join(dir, 'd_text.jpeg')}: not a PNG or JPEG (unrecognised leading bytes)`,
      ].join('\n'),
    );
  });

  it('stops after limit good images and reports progress', async () => {
    const dir = tempDir();
    for (let i = 0; i < 5; i++) write(join(dir, `${i}.png`), pngBytes(2, 2, solidRgba(2, 2, [i, i, i, 255])));
    const calls: [number, number][] = [];
    const raw = await readImageFolder(dir, { size: 2, limit: 3, onProgress: (d, t) => calls.push([d, t]) });
    expect(raw.count).toBe(3);
    expect(raw.pixels[2 * 12]).toBe(2);
    expect(calls).toEqual([
      [1, 5],
      [2, 5],
      [3, 5],
    ]);
  });

  it('can be cancelled', async () => {
    const dir = tempDir();
    write(join(dir, 'a.png'), pngBytes(2, 2, solidRgba(2, 2, [1, 1, 1, 255])));
    const ac = new AbortController();
    ac.abort();
    await expect(readImageFolder(dir, { signal: ac.signal })).rejects.toThrow();
  });

  it('fails clearly on an empty or missing folder', async () => {
    const dir = tempDir();
    write(join(dir, 'readme.txt'), 'x');
    await expect(readImageFolder(dir)).rejects.toThrow(`${dir}: no .png, .jpg or .jpeg images found`);
    await expect(readImageFolder(join(dir, 'nope'))).rejects.toThrow(/image folder not found/);
  });
});
