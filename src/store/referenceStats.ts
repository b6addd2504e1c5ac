/**
 * The cache of datasets' reference statistics (issue 12): a row per key names a file under <data>/cache
 * that the caller wrote (atomically) before recording it. A row and its file go together.
 */
import { createHash } from 'node:crypto';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { ReferenceStatsRecord } from '../shared/records';
import { now, type Row, type StoreDb } from './db';

const toRecord = (r: Row): ReferenceStatsRecord => ({
  key: String(r.key),
  path: String(r.path),
  bytes: Number(r.bytes),
  count: Number(r.count),
  createdAt: String(r.created_at),
});

export class ReferenceStats {
  private readonly s;

  constructor(private readonly sql: StoreDb) {
    const d = sql.conn;
    this.s = {
      upsert: d.prepare(`INSERT OR REPLACE INTO reference_stats (key, path, bytes, count, created_at)
        VALUES (@key, @path, @bytes, @count, @createdAt)`),
      byKey: d.prepare('SELECT * FROM reference_stats WHERE key = ?'),
      list: d.prepare('SELECT * FROM reference_stats ORDER BY created_at, key'),
      delete: d.prepare('DELETE FROM reference_stats WHERE key = ?'),
    };
  }

  /** Where the file of a key goes: a name derived from the key (keys hold characters no file name may). */
  pathFor(key: string): string {
    const id = createHash('sha256').update(key).digest('hex').slice(0, 32);
    return join(this.sql.layout.cache, `refstats-${id}.bin`);
  }

  /** The entry of a key, if its file is still there with the size recorded (otherwise compute it again). */
  get(key: string): ReferenceStatsRecord | undefined {
    const r = this.s.byKey.get(key) as Row | undefined;
    if (!r) return undefined;
    const rec = toRecord(r);
    return existsSync(rec.path) && statSync(rec.path).size === rec.bytes ? rec : undefined;
  }

  /**
   * Records the file the caller wrote at `path` (under the cache folder) for `key`, with the number of images
   * the statistics came from. A file the key named before is removed.
   */
  put(e: { key: string; path: string; count: number }): ReferenceStatsRecord {
    const root = resolve(this.sql.layout.cache) + sep;
    const path = resolve(e.path);
    const what = `reference statistics '${e.key}'`;
    if (!path.startsWith(root)) throw new Error(`${what}: ${e.path} is not under the cache folder ${root}`);
    if (!Number.isInteger(e.count) || e.count < 1) {
      throw new Error(`${what}: count ${e.count} is not a positive integer`);
    }
    if (!existsSync(path)) throw new Error(`${what}: ${path} does not exist (write the file before recording it)`);
    const bytes = statSync(path).size;
    const old = this.s.byKey.get(e.key) as Row | undefined;
    this.s.upsert.run({ key: e.key, path, bytes, count: e.count, createdAt: now() });
    if (old && String(old.path) !== path) rmSync(String(old.path), { force: true });
    return toRecord(this.s.byKey.get(e.key) as Row);
  }

  /** Removes the row, then its file (a crash between leaves an orphan file, never a row without one). */
  delete(key: string): boolean {
    const r = this.s.byKey.get(key) as Row | undefined;
    if (!r) return false;
    this.s.delete.run(key);
    rmSync(String(r.path), { force: true });
    return true;
  }

  list(): ReferenceStatsRecord[] {
    return (this.s.list.all() as Row[]).map(toRecord);
  }
}
