/**
 * The one SQLite connection of a RunStore: opened with WAL, foreign keys and a busy timeout, migrated by
 * PRAGMA user_version, and the one write-transaction helper every part of the store goes through.
 */
import Database from 'better-sqlite3';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';
import { dataLayout, ensureDataFolders, type DataLayout } from './dataDir';

export type Row = Record<string, unknown>;

export interface StoreOptions {
  readonly?: boolean;
  /** How long a write waits for another connection's lock before SQLITE_BUSY (SADPM_DB_BUSY_TIMEOUT_MS, 5000). */
  busyTimeoutMs?: number;
  /** A size cap on the database (SADPM_DB_MAX_BYTES): writes past it fail with SQLITE_FULL, like a full disk. */
  maxBytes?: number;
}

function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}=${raw}: expected a positive whole number`);
  return v;
}

export const now = (): string => new Date().toISOString();

export class StoreDb {
  readonly conn: Database.Database;
  readonly layout: DataLayout;
  private readonly rollbackHooks: (() => void)[] = [];
  private readonly statements = new Map<string, Database.Statement>();

  constructor(root: string, opts: StoreOptions = {}) {
    this.layout = dataLayout(root);
    ensureDataFolders(this.layout);
    try {
      const readonly = opts.readonly === true;
      // A bundled CLI (the remote GPU machine, no node_modules) names the native addon it carries.
      const nativeBinding = process.env.SADPM_SQLITE_NODE || undefined;
      this.conn = new Database(this.layout.db, { readonly, fileMustExist: readonly, nativeBinding });
    } catch (err) {
      throw new Error(`cannot open the run database ${this.layout.db}: ${(err as Error).message}`);
    }
    try {
      const busyMs = opts.busyTimeoutMs ?? envInt(process.env, 'SADPM_DB_BUSY_TIMEOUT_MS') ?? 5000;
      this.conn.pragma(`busy_timeout = ${busyMs}`);
      // Check the version before anything that writes (switching to WAL rewrites the file header).
      this.assertKnownVersion();
      if (!opts.readonly) this.useWal(busyMs);
      this.conn.pragma('foreign_keys = ON');
      // WAL with synchronous=NORMAL is durable against process crashes; a power loss can drop the
      // last transactions but never corrupts the database.
      this.conn.pragma('synchronous = NORMAL');
      this.migrate();
      const maxBytes = opts.maxBytes ?? envInt(process.env, 'SADPM_DB_MAX_BYTES');
      if (maxBytes !== undefined) {
        const page = this.conn.pragma('page_size', { simple: true }) as number;
        this.conn.pragma(`max_page_count = ${Math.max(1, Math.floor(maxBytes / page))}`);
      }
    } catch (err) {
      this.conn.close();
      throw err;
    }
  }

  close(): void {
    if (this.conn.open) this.conn.close();
  }

  schemaVersion(): number {
    return this.conn.pragma('user_version', { simple: true }) as number;
  }

  private assertKnownVersion(): void {
    const version = this.schemaVersion();
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `the run database ${this.layout.db} has schema version ${version}, but this version of SA-DPM Studio knows ` +
          `versions up to ${SCHEMA_VERSION}: it was written by a newer release. Update SA-DPM Studio, or point ` +
          `--data-dir / SADPM_HOME at another folder. The database was not changed.`,
      );
    }
  }

  /**
   * Switches a new database to WAL. SQLite answers SQLITE_BUSY at once, without the busy handler, when another
   * connection holds a lock during the switch (processes opening a new folder together), so it is retried here
   * for up to the busy timeout. A database already in WAL mode needs no switch.
   */
  private useWal(busyMs: number): void {
    const deadline = Date.now() + busyMs;
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      try {
        if (this.conn.pragma('journal_mode', { simple: true }) === 'wal') return;
        this.conn.pragma('journal_mode = WAL');
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
      }
    }
  }

  /**
   * Brings the schema up to SCHEMA_VERSION, one migration per transaction. The version is read again under the
   * write lock: two processes that open a new data folder at once (two `sadpm train` started together) both see
   * version 0 before either migrates, and the second must find the first one's work rather than repeat it.
   */
  private migrate(): void {
    if (this.schemaVersion() >= SCHEMA_VERSION) return;
    for (;;) {
      const current = this.conn
        .transaction(() => {
          this.assertKnownVersion();
          const v = this.schemaVersion();
          if (v >= SCHEMA_VERSION) return true;
          this.conn.exec(MIGRATIONS[v]!);
          this.conn.pragma(`user_version = ${v + 1}`);
          return false;
        })
        .immediate();
      if (current) return;
    }
  }

  /**
   * One write transaction that takes the lock up front (BEGIN IMMEDIATE: a locked database fails before
   * any work is done). Inside another transaction it is a savepoint. If it rolls back, what the parts
   * cached from rows written in it may be gone, so their rollback hooks run.
   */
  write<T>(fn: () => T): T {
    try {
      return this.conn.transaction(fn).immediate();
    } catch (err) {
      for (const hook of this.rollbackHooks) hook();
      throw err;
    }
  }

  /** Reads from one snapshot (a deferred transaction), e.g. two columns while a writer appends. */
  read<T>(fn: () => T): T {
    return this.conn.transaction(fn)();
  }

  onRollback(hook: () => void): void {
    this.rollbackHooks.push(hook);
  }

  /** A statement prepared once per SQL text (for SQL built at run time, e.g. from a filter). */
  cached(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.conn.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }
}
