import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { importDataset } from '../../../src/engine/data/import';
import { extractZip, zipEntryPath } from '../../../src/engine/data/zip';
import { readPackedDataset } from '../../../src/engine/data/packed';
import { sweepTempFiles } from '../../../src/store/tempFiles';
import { dataLayout, ensureDataFolders } from '../../../src/store/dataDir';
import { pngBytes, solidRgba, tempDir } from './helpers';

const png = (shade: number) => new Uint8Array(pngBytes(8, 8, solidRgba(8, 8, [shade, 255 - shade, 40, 255])));

function writeZip(dir: string, name: string, entries: Record<string, Uint8Array>, level: 0 | 6 = 6): string {
  const path = join(dir, name);
  writeFileSync(path, zipSync(entries, { level }));
  return path;
}

describe('.zip as an import input', () => {
  it('imports the image folder a zip holds, labels from its class subfolders, named after the zip', async () => {
    const dir = tempDir();
    const zip = writeZip(dir, 'pets.zip', {
      'pets/cat/a.png': png(10),
      'pets/cat/b.png': png(20),
      'pets/dog/c.png': png(200),
      '__MACOSX/pets/cat/._a.png': strToU8('resource fork'),
      'pets/dog/._c.png': strToU8('resource fork'),
    });
    const out = join(dir, 'pets.sadpm-ds');
    const res = await importDataset({ input: zip, format: 'auto', out, size: 8 });
    expect(res.report.good).toBe(3);
    expect(res.report.skipped).toEqual([]);
    expect(res.header).toMatchObject({
      name: 'pets',
      source: zip,
      count: 3,
      hasLabels: true,
      classNames: ['cat', 'dog'],
    });
    expect(Array.from(readPackedDataset(out).labels!)).toEqual([0, 0, 1]);
    // The extraction folder is gone.
    expect(readdirSync(dir).sort()).toEqual(['pets.sadpm-ds', 'pets.zip']);
  });

  it('reads stored (level 0) archives and ones whose files sit at the top', async () => {
    const dir = tempDir();
    const zip = writeZip(dir, 'flat.zip', { 'x.png': png(1), 'y.png': png(2) }, 0);
    const res = await importDataset({ input: zip, format: 'auto', out: join(dir, 'flat.sadpm-ds'), size: 8 });
    expect(res.header.count).toBe(2);
    expect(res.header.name).toBe('flat');
  });

  it('refuses an entry that would land outside the folder (zip slip), writing nothing outside', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'inner'));
    for (const bad of ['../evil.png', 'ok/../../evil.png', '/tmp/evil.png', 'C:\\evil.png', '..\\evil.png']) {
      const zip = writeZip(dir, 'slip.zip', { 'good.png': png(3), [bad]: png(4) });
      const dest = join(dir, 'inner', 'x.unzip');
      await expect(extractZip(zip, dest)).rejects.toThrow(/would be written outside the extraction folder/);
      expect(existsSync(join(dir, 'evil.png'))).toBe(false);
      expect(existsSync(join(dir, 'inner', 'evil.png'))).toBe(false);
      expect(existsSync(dest)).toBe(false);
    }
    expect(() => zipEntryPath('/data/x', 'a/./b.png', 'z.zip')).not.toThrow();
    expect(zipEntryPath('/data/x', 'a/./b.png', 'z.zip')).toBe('/data/x/a/b.png');
  });

  it('stops at the entry-count and size limits, counting the bytes that really arrive', async () => {
    const dir = tempDir();
    const many = writeZip(
      dir,
      'many.zip',
      Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`f${i}.png`, png(i)])),
    );
    await expect(extractZip(many, join(dir, 'a'), { limits: { entries: 4, totalBytes: 1e9 } })).rejects.toThrow(
      /more than 4 files/,
    );
    // 1 MB of zeros deflates to ~1 KB: the limit applies to what it inflates to.
    const bomb = writeZip(dir, 'bomb.zip', { 'zeros.bin': new Uint8Array(1_000_000) });
    await expect(extractZip(bomb, join(dir, 'b'), { limits: { entries: 10, totalBytes: 100_000 } })).rejects.toThrow(
      /more than 0\.0 GiB once extracted/,
    );
    expect(existsSync(join(dir, 'a'))).toBe(false);
    expect(existsSync(join(dir, 'b'))).toBe(false);
  });

  it('names a file that is not a zip, and an empty archive', async () => {
    const dir = tempDir();
    const fake = join(dir, 'fake.zip');
    writeFileSync(fake, 'this is not a zip archive at all');
    await expect(importDataset({ input: fake, format: 'auto', out: join(dir, 'o.sadpm-ds') })).rejects.toThrow(
      /fake\.zip: (not a readable zip archive|no files in the archive)/,
    );
    const empty = writeZip(dir, 'empty.zip', {});
    await expect(importDataset({ input: empty, format: 'auto', out: join(dir, 'o.sadpm-ds') })).rejects.toThrow(
      /empty\.zip: no files in the archive/,
    );
    await expect(importDataset({ input: empty, format: 'npy', out: join(dir, 'o.sadpm-ds') })).rejects.toThrow(
      /import it with format auto or folder/,
    );
  });

  it('the start-up sweep removes the extraction folder a killed import left', () => {
    const root = tempDir();
    const layout = dataLayout(root);
    ensureDataFolders(layout);
    // Pid 2^22 + 1 is above Linux's pid_max default: no such process.
    const left = join(layout.datasets, `.import-${2 ** 22 + 1}-k3x.sadpm-ds.unzip`);
    mkdirSync(join(left, 'sub'), { recursive: true });
    writeFileSync(join(left, 'sub', 'a.png'), png(1));
    expect(sweepTempFiles(layout).map((r) => r.path)).toEqual([left]);
    expect(existsSync(left)).toBe(false);
  });
});
