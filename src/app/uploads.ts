/**
 * Web mode's file uploads in pieces: begin (the size), chunks in order, end. The browser sends a
 * few MB at a time and can show progress; nothing has to fit in one WebSocket message. Chunks go to
 * a hidden part file in the uploads folder that is renamed to its final name only when every byte
 * has arrived, so a dropped upload never looks like a complete file. Part files left by a killed
 * server are removed a day later.
 *
 * Each upload belongs to the connection that began it (an UploadOwner): only that connection can
 * continue it, and when the connection closes its unfinished uploads are discarded at once, so a
 * closed tab holds no file handles. Open uploads are capped per connection and overall.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FolderUploads } from './folderUploads';

const PART_PREFIX = '.part-';
const STALE_MS = 24 * 3600 * 1000;

/** Open uploads one connection may have; the renderer sends one file at a time. */
export const MAX_UPLOADS_PER_OWNER = 8;
/** Open uploads over all connections (each holds a file handle). */
export const MAX_UPLOADS = 32;

interface Session {
  owner: UploadOwner;
  fileName: string;
  bytes: number;
  received: number;
  part: string;
  fd: number;
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

export class UploadSessions {
  private readonly sessions = new Map<string, Session>();
  /** Folder uploads (issue 15), owned by the same connections. */
  readonly folders: FolderUploads;

  constructor(private readonly dir: string) {
    this.folders = new FolderUploads(dir);
  }

  /** A new connection's handle on its own uploads. */
  owner(): UploadOwner {
    return new UploadOwner(this);
  }

  /** Starts an upload of `bytes` bytes; the final file keeps a cleaned-up `fileName`. */
  begin(owner: UploadOwner, fileName: string, bytes: number): { uploadId: string } {
    if (owner.closed) throw new Error('this connection is closed; its uploads were discarded');
    const mine = [...this.sessions.values()].filter((s) => s.owner === owner).length;
    if (mine >= MAX_UPLOADS_PER_OWNER) {
      throw new Error(
        `upload of ${fileName}: ${mine} uploads are already open on this connection ` +
          `(at most ${MAX_UPLOADS_PER_OWNER}); finish or cancel one first`,
      );
    }
    if (this.sessions.size >= MAX_UPLOADS) {
      throw new Error(
        `upload of ${fileName}: ${this.sessions.size} uploads are already open on this server ` +
          `(at most ${MAX_UPLOADS}); try again when one has finished`,
      );
    }
    mkdirSync(this.dir, { recursive: true });
    this.checkFreeSpace(fileName, bytes);
    this.removeStaleParts();
    const uploadId = randomBytes(12).toString('hex');
    const part = join(this.dir, `${PART_PREFIX}${uploadId}`);
    const fd = openSync(part, 'wx');
    this.sessions.set(uploadId, { owner, fileName: basename(fileName), bytes, received: 0, part, fd });
    return { uploadId };
  }

  /** Appends `data` at `offset`, which must be where the previous chunk ended. */
  chunk(owner: UploadOwner, uploadId: string, offset: number, data: Buffer): { received: number } {
    const s = this.session(owner, uploadId);
    if (offset !== s.received)
      throw new Error(
        `upload ${uploadId}: chunk at byte ${offset}, expected byte ${s.received} (chunks must arrive in order)`,
      );
    if (s.received + data.byteLength > s.bytes) {
      this.abort(owner, uploadId);
      throw new Error(
        `upload of ${s.fileName}: ${s.received + data.byteLength} bytes sent, more than the ${s.bytes} announced; upload discarded`,
      );
    }
    let off = 0;
    while (off < data.byteLength) off += writeSync(s.fd, data, off, data.byteLength - off);
    s.received += data.byteLength;
    return { received: s.received };
  }

  /** Completes the upload: all bytes must have arrived. Returns the file's path in the uploads folder. */
  end(owner: UploadOwner, uploadId: string, finalName: (fileName: string) => string): { path: string } {
    const s = this.session(owner, uploadId);
    if (s.received !== s.bytes)
      throw new Error(
        `upload of ${s.fileName}: ${s.received} of ${s.bytes} bytes arrived; send the rest before finishing`,
      );
    fsyncSync(s.fd);
    closeSync(s.fd);
    this.sessions.delete(uploadId);
    const path = join(this.dir, finalName(s.fileName));
    renameSync(s.part, path);
    return { path };
  }

  /** Drops one of `owner`'s uploads and its part file (unknown ids are ignored). */
  abort(owner: UploadOwner, uploadId: string): void {
    const s = this.sessions.get(uploadId);
    if (s?.owner === owner) this.drop(uploadId, s);
  }

  /** Drops every upload of `owner`. */
  abortAll(owner: UploadOwner): void {
    for (const [id, s] of [...this.sessions]) if (s.owner === owner) this.drop(id, s);
  }

  /** Drops every open upload (server shutdown). */
  close(): void {
    for (const [id, s] of [...this.sessions]) this.drop(id, s);
    this.folders.close();
  }

  /** Open uploads (all owners). */
  get size(): number {
    return this.sessions.size;
  }

  private drop(uploadId: string, s: Session): void {
    this.sessions.delete(uploadId);
    closeSync(s.fd);
    rmSync(s.part, { force: true });
  }

  private session(owner: UploadOwner, uploadId: string): Session {
    const s = this.sessions.get(uploadId);
    // Another connection's upload is reported as unknown: its id tells this one nothing.
    if (!s || s.owner !== owner) {
      const why = 'finished, discarded, or the server restarted';
      throw new Error(`no upload ${uploadId} in progress (${why}); start the upload again`);
    }
    return s;
  }

  /** Refuses an upload the disk cannot hold, counting the bytes still due to the open uploads. */
  private checkFreeSpace(fileName: string, bytes: number): void {
    const st = statfsSync(this.dir);
    const free = Number(st.bavail) * Number(st.bsize);
    let promised = 0;
    for (const s of this.sessions.values()) promised += s.bytes - s.received;
    if (bytes > free - promised) {
      const others = promised > 0 ? ` (${promised} bytes of it promised to uploads in progress)` : '';
      throw new Error(
        `upload of ${fileName}: ${bytes} bytes (${mib(bytes)}) announced, but the disk of ${this.dir} ` +
          `has ${free} bytes (${mib(free)}) free${others}; free some space or upload a smaller file`,
      );
    }
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

/** One connection's uploads: the handlers act through it, the transport closes it with the connection. */
export class UploadOwner {
  closed = false;

  constructor(private readonly sessions: UploadSessions) {}

  begin(fileName: string, bytes: number): { uploadId: string } {
    return this.sessions.begin(this, fileName, bytes);
  }

  chunk(uploadId: string, offset: number, data: Buffer): { received: number } {
    return this.sessions.chunk(this, uploadId, offset, data);
  }

  end(uploadId: string, finalName: (fileName: string) => string): { path: string } {
    return this.sessions.end(this, uploadId, finalName);
  }

  abort(uploadId: string): void {
    this.sessions.abort(this, uploadId);
  }

  /** Discards every unfinished upload of this connection and refuses new ones. */
  close(): void {
    this.closed = true;
    this.sessions.abortAll(this);
    this.sessions.folders.abortAll(this);
  }

  /** This connection's folder uploads (issue 15). */
  folderBegin(name: string, files: number, bytes: number): { folderId: string } {
    if (this.closed) throw new Error('this connection is closed; its uploads were discarded');
    return this.sessions.folders.begin(this, name, files, bytes);
  }

  folderChunk(folderId: string, relPath: string, offset: number, data: Buffer, final: boolean): { received: number } {
    return this.sessions.folders.chunk(this, folderId, relPath, offset, data, final);
  }

  folderEnd(folderId: string, finalName: (name: string) => string): { path: string } {
    return this.sessions.folders.end(this, folderId, finalName);
  }

  folderAbort(folderId: string): void {
    this.sessions.folders.abort(this, folderId);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes standard padded base64, refusing anything else: Buffer.from(s, 'base64') skips stray
 * characters silently, which would store bytes the sender never meant.
 */
export function decodeBase64Strict(text: string, what: string): Buffer {
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (text.length % 4 !== 0 || !BASE64.test(text)) {
    const bad = /[^A-Za-z0-9+/=]/.exec(text);
    const why = bad
      ? `character ${JSON.stringify(bad[0])} at position ${bad.index} is not in the base64 alphabet`
      : text.length % 4 !== 0
        ? `its length ${text.length} is not a multiple of 4 (padded base64 expected)`
        : "'=' padding may only end the text, at most two of them";
    throw new Error(`${what}: invalid base64 (${why})`);
  }
  const data = Buffer.from(text, 'base64');
  const expected = (text.length / 4) * 3 - pad;
  if (data.byteLength !== expected) {
    throw new Error(`${what}: invalid base64 (decodes to ${data.byteLength} bytes, expected ${expected})`);
  }
  return data;
}
