/**
 * Web mode's folder uploads (issue 15): a folder picked in the browser arrives file by file, each in chunks, into a
 * hidden part folder in <data>/uploads that is renamed to its final name only when every announced file and byte
 * has arrived, so an import never reads half a folder. Relative paths keep class subfolders; one that would
 * leave the folder (`..`, an absolute path, a drive letter) is refused. Each upload belongs to the connection
 * that began it, as single-file uploads do (uploads.ts), and goes when that connection closes.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { randomBytes } from 'node:crypto';

const PART_PREFIX = '.part-dir-';
const STALE_MS = 24 * 3600 * 1000;
/** Open folder uploads over all connections. */
export const MAX_FOLDER_UPLOADS = 8;

interface FolderSession {
  owner: object;
  name: string;
  files: number;
  bytes: number;
  dir: string;
  filesDone: number;
  received: number;
  current: { relPath: string; fd: number; received: number } | null;
  seen: Set<string>;
}

/** A relative path inside the folder, or an error naming it. */
export function folderEntryPath(root: string, relPath: string): string {
  const parts = relPath.split('/');
  const bad =
    relPath.startsWith('/') ||
    /^[A-Za-z]:/.test(relPath) ||
    relPath.includes('\\') ||
    relPath.includes('\0') ||
    parts.length > 32 ||
    parts.some((p) => p === '' || p === '.' || p === '..' || p.length > 255);
  const path = resolve(root, ...parts);
  const rel = relative(resolve(root), path);
  if (bad || rel.startsWith('..') || rel.startsWith(sep) || rel === '') {
    throw new Error(
      `folder upload: '${relPath}' is not a relative path inside the folder (no '..', '\\\\', ` +
        'absolute or empty parts); nothing of it was written',
    );
  }
  return path;
}

export class FolderUploads {
  private readonly sessions = new Map<string, FolderSession>();

  constructor(private readonly dir: string) {}

  begin(owner: object, name: string, files: number, bytes: number): { folderId: string } {
    if (this.sessions.size >= MAX_FOLDER_UPLOADS) {
      throw new Error(
        `folder upload of ${name}: ${this.sessions.size} folder uploads are open (at most ` +
          `${MAX_FOLDER_UPLOADS}); try again when one has finished`,
      );
    }
    mkdirSync(this.dir, { recursive: true });
    const free = (() => {
      const st = statfsSync(this.dir);
      return Number(st.bavail) * Number(st.bsize);
    })();
    if (bytes > free) {
      throw new Error(
        `folder upload of ${name}: ${bytes} bytes announced, but the disk of ${this.dir} has ` +
          `${free} bytes free; free some space or upload a smaller folder`,
      );
    }
    this.removeStale();
    const folderId = randomBytes(12).toString('hex');
    const dir = join(this.dir, `${PART_PREFIX}${folderId}`);
    mkdirSync(dir);
    this.sessions.set(folderId, {
      owner,
      name,
      files,
      bytes,
      dir,
      filesDone: 0,
      received: 0,
      current: null,
      seen: new Set(),
    });
    return { folderId };
  }

  chunk(
    owner: object,
    folderId: string,
    relPath: string,
    offset: number,
    data: Buffer,
    final: boolean,
  ): { received: number } {
    const s = this.session(owner, folderId);
    try {
      if (!s.current) {
        if (offset !== 0) throw new Error(`folder upload: ${relPath} starts at byte ${offset}, expected 0`);
        if (s.seen.has(relPath)) throw new Error(`folder upload: ${relPath} was already sent`);
        if (s.filesDone >= s.files)
          throw new Error(`folder upload of ${s.name}: more files than the ${s.files} announced`);
        const path = folderEntryPath(s.dir, relPath);
        mkdirSync(resolve(path, '..'), { recursive: true });
        s.current = { relPath, fd: openSync(path, 'wx'), received: 0 };
        s.seen.add(relPath);
      }
      const cur = s.current;
      if (cur.relPath !== relPath)
        throw new Error(`folder upload: ${relPath} began before ${cur.relPath} was finished`);
      if (offset !== cur.received)
        throw new Error(`folder upload: ${relPath} chunk at byte ${offset}, expected ${cur.received}`);
      if (s.received + data.byteLength > s.bytes) {
        throw new Error(`folder upload of ${s.name}: more bytes than the ${s.bytes} announced`);
      }
      let off = 0;
      while (off < data.byteLength) off += writeSync(cur.fd, data, off, data.byteLength - off);
      cur.received += data.byteLength;
      s.received += data.byteLength;
      if (final) {
        closeSync(cur.fd);
        s.current = null;
        s.filesDone++;
      }
      return { received: s.received };
    } catch (err) {
      this.drop(folderId, s);
      throw new Error(`${(err as Error).message}; the folder upload was discarded`);
    }
  }

  /** Completes the folder (every file and byte arrived) and returns its path in the uploads folder. */
  end(owner: object, folderId: string, finalName: (name: string) => string): { path: string } {
    const s = this.session(owner, folderId);
    if (s.current || s.filesDone !== s.files || s.received !== s.bytes) {
      const got = `${s.filesDone} of ${s.files} files, ${s.received} of ${s.bytes} bytes`;
      this.drop(folderId, s);
      throw new Error(`folder upload of ${s.name}: ${got} arrived; upload the folder again`);
    }
    this.sessions.delete(folderId);
    const path = join(this.dir, finalName(s.name));
    renameSync(s.dir, path);
    return { path };
  }

  abort(owner: object, folderId: string): void {
    const s = this.sessions.get(folderId);
    if (s?.owner === owner) this.drop(folderId, s);
  }

  abortAll(owner: object): void {
    for (const [id, s] of [...this.sessions]) if (s.owner === owner) this.drop(id, s);
  }

  close(): void {
    for (const [id, s] of [...this.sessions]) this.drop(id, s);
  }

  get size(): number {
    return this.sessions.size;
  }

  private session(owner: object, folderId: string): FolderSession {
    const s = this.sessions.get(folderId);
    if (!s || s.owner !== owner) {
      throw new Error(
        `no folder upload ${folderId} in progress (finished, discarded, or the server restarted); ` +
          'upload the folder again',
      );
    }
    return s;
  }

  private drop(folderId: string, s: FolderSession): void {
    this.sessions.delete(folderId);
    if (s.current) closeSync(s.current.fd);
    rmSync(s.dir, { recursive: true, force: true });
  }

  private removeStale(): void {
    const now = Date.now();
    const live = new Set([...this.sessions.values()].map((s) => s.dir));
    for (const name of readdirSync(this.dir)) {
      if (!name.startsWith(PART_PREFIX)) continue;
      const p = join(this.dir, name);
      if (live.has(p)) continue;
      try {
        if (now - statSync(p).mtimeMs > STALE_MS) rmSync(p, { recursive: true, force: true });
      } catch {
        // Removed meanwhile.
      }
    }
  }
}
