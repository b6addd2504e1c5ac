/** Imported datasets: the packed file and its preview live under <data>/datasets, referenced by path. */
import type Database from 'better-sqlite3';
import type { DatasetRecord } from '../shared/records';
import { now, type Row, type StoreDb } from './db';
import { toDataset } from './rows';

export type NewDataset = Omit<DatasetRecord, 'id' | 'createdAt'>;

export class Datasets {
  private readonly s;

  constructor(sql: StoreDb) {
    const d = sql.conn;
    this.s = {
      insert: d.prepare(`INSERT INTO datasets (name, source, format, count, height, width, channels, checksum, path,
        preview_path, bytes, class_counts, class_names, good, skipped, created_at)
        VALUES (@name, @source, @format, @count, @height, @width, @channels, @checksum, @path, @previewPath, @bytes,
        @classCounts, @classNames, @good, @skipped, @createdAt)`),
      byId: d.prepare('SELECT * FROM datasets WHERE id = ?'),
      byName: d.prepare('SELECT * FROM datasets WHERE name = ?'),
      byChecksum: d.prepare('SELECT * FROM datasets WHERE checksum = ?'),
      byPath: d.prepare('SELECT * FROM datasets WHERE path = ?'),
      list: d.prepare('SELECT * FROM datasets ORDER BY id'),
      delete: d.prepare('DELETE FROM datasets WHERE id = ?'),
    };
  }

  add(ds: NewDataset): DatasetRecord {
    const info = this.s.insert.run({
      ...ds,
      classCounts: ds.classCounts ? JSON.stringify(ds.classCounts) : null,
      classNames: ds.classNames ? JSON.stringify(ds.classNames) : null,
      skipped: JSON.stringify(ds.skipped),
      createdAt: now(),
    });
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(id: number): DatasetRecord | undefined {
    return this.one(this.s.byId, id);
  }

  byChecksum(checksum: string): DatasetRecord | undefined {
    return this.one(this.s.byChecksum, checksum);
  }

  byPath(path: string): DatasetRecord | undefined {
    return this.one(this.s.byPath, path);
  }

  /** A dataset by id ('3' or '#3') or by name. */
  find(ref: string): DatasetRecord | undefined {
    const m = /^#?(\d+)$/.exec(ref.trim());
    if (m) return this.get(Number(m[1]));
    return this.one(this.s.byName, ref);
  }

  list(): DatasetRecord[] {
    return (this.s.list.all() as Row[]).map(toDataset);
  }

  delete(id: number): void {
    this.s.delete.run(id);
  }

  private one(stmt: Database.Statement, key: unknown): DatasetRecord | undefined {
    const r = stmt.get(key) as Row | undefined;
    return r ? toDataset(r) : undefined;
  }
}
