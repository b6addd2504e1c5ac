/**
 * Web mode's file uploads in pieces: begin (the size), chunks in order, end. The browser sends a
 * few MB at a time and can show progress; nothing has to fit in one WebSocket message. Chunks go to
 * a hidden part file in the uploads folder that is renamed to its final name only when every byte
 * has arrived, so a dropped upload never looks like a complete file. Part files left by a closed
 * tab or a killed server are removed a day later.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

const PART_PREFIX = '.part-';
const STALE_MS = 24 * 3600 * 1000;

interface Session {
  fileName: string;
  bytes: number;
  received: number;
  part: string;
  fd: number;
}

export class UploadSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly dir: string) {}

  /** Starts an upload of `bytes` bytes; the final file keeps a cleaned-up `fileName`. */
  begin(fileName: string, bytes: number): { uploadId: string } {
    mkdirSync(this.dir, { recursive: true });
    this.removeStaleParts();
    const uploadId = randomBytes(12).toString('hex');
    const part = join(this.dir, `${PART_PREFIX}${uploadId}`);
    const fd = openSync(part, 'wx');
    this.sessions.set(uploadId, { fileName: basename(fileName), bytes, received: 0, part, fd });
    return { uploadId };
  }

  /** Appends `data` at `offset`, which must be where the previous chunk ended. */
  chunk(uploadId: string, offset: number, data: Buffer): { received: number } {
    const s = this.session(uploadId);
    if (offset !== s.received) throw new Error(`upload ${uploadId}: chunk at byte ${offset}, expected byte ${s.received} (chunks must arrive in order)`);
    if (s.received + data.byteLength > s.bytes) {
      this.abort(uploadId);
      throw new Error(`upload of ${s.fileName}: ${s.received + data.byteLength} bytes sent, more than the ${s.bytes} announced; upload discarded`);
    }
    let off = 0;
    while (off < data.byteLength) off += writeSync(s.fd, data, off, data.byteLength - off);
    s.received += data.byteLength;
    return { received: s.received };
  }

  /** Completes the upload: all bytes must have arrived. Returns the file's path in the uploads folder. */
  end(uploadId: string, finalName: (fileName: string) => string): { path: string } {
    const s = this.session(uploadId);
    if (s.received !== s.bytes) throw new Error(`upload of ${s.fileName}: ${s.received} of ${s.bytes} bytes arrived; send the rest before finishing`);
    fsyncSync(s.fd);
    closeSync(s.fd);
    this.sessions.delete(uploadId);
    const path = join(this.dir, finalName(s.fileName));
    renameSync(s.part, path);
    return { path };
  }

  /** Drops an upload and its part file (unknown ids are ignored). */
  abort(uploadId: string): void {
    const s = this.sessions.get(uploadId);
    if (!s) return;
    this.sessions.delete(uploadId);
    closeSync(s.fd);
    rmSync(s.part, { force: true });
  }

  /** Closes every open upload (server shutdown); their part files go with the next stale sweep. */
  close(): void {
    for (const id of [...this.sessions.keys()]) this.abort(id);
  }

  private session(uploadId: string): Session {
    const s = this.sessions.get(uploadId);
    if (!s) throw new Error(`no upload ${uploadId} in progress (finished, discarded, or the server restarted); start the upload again`);
    return s;
  }

  private removeStaleParts(): void {
    const now = Date.now();
    for (const name of readdirSync(this.dir)) {
      if (!name.startsWith(PART_PREFIX)) continue;
      const p = join(this.dir, name);
      try {
        if (now - statSync(p).mtimeMs > STALE_MS) rmSync(p, { force: true });
      } catch {
        // Removed meanwhile.
      }
    }
  }
}
