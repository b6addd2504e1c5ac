/**
 * A minimal streaming tar (ustar) writer, gzip-compressed: enough for run bundles, which hold
 * plain files of any size. Each file is streamed from disk, so checkpoints are never held in memory.
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { createGzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';

export interface TarEntry {
  /** Path inside the archive (forward slashes). */
  name: string;
  /** A file on disk, or the content itself. */
  file?: string;
  data?: Buffer;
}

function header(name: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(512, 0);
  let prefix = '';
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    // ustar splits long names at a slash: prefix (155) + name (100).
    const cut = name.lastIndexOf('/', name.length - 1 - 0);
    const at = name.slice(0, cut).length <= 155 && name.length - cut - 1 <= 100 ? cut : -1;
    if (at < 0) throw new Error(`tar: path too long for an archive entry: ${name}`);
    prefix = name.slice(0, at);
    base = name.slice(at + 1);
  }
  h.write(base, 0, 100, 'utf8');
  h.write('0000644\0', 100, 8, 'ascii');
  h.write('0000000\0', 108, 8, 'ascii');
  h.write('0000000\0', 116, 8, 'ascii');
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 12, 'ascii');
  h.write(
    Math.floor(mtime / 1000)
      .toString(8)
      .padStart(11, '0') + '\0',
    136,
    12,
    'ascii',
  );
  h.write('        ', 148, 8, 'ascii');
  h.write('0', 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

async function* tarStream(entries: TarEntry[]): AsyncGenerator<Buffer> {
  for (const e of entries) {
    const size = e.data ? e.data.length : statSync(e.file!).size;
    yield header(e.name, size, Date.now());
    if (e.data) yield e.data;
    else {
      let seen = 0;
      for await (const chunk of createReadStream(e.file!)) {
        seen += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      if (seen !== size) throw new Error(`tar: ${e.file} changed size while being archived`);
    }
    const pad = (512 - (size % 512)) % 512;
    if (pad) yield Buffer.alloc(pad, 0);
  }
  yield Buffer.alloc(1024, 0);
}

/** Writes a .tar.gz to `path` (the caller renames it into place). */
export async function writeTarGz(path: string, entries: TarEntry[]): Promise<void> {
  await pipeline(Readable.from(tarStream(entries)), createGzip({ level: 6 }), createWriteStream(path));
}
