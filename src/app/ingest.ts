/**
 * Ingestion of a remote run's engine messages (issue 16): a task on a cluster appends `sadpm --json` messages
 * to engine.jsonl in its run folder; the studio reads what was appended since last time, by byte offset, and
 * records it through the same RunRecorder as a local run, so metrics, checkpoints, samples and gap curves land
 * the same way.
 *
 * Exactly once: the messages of one read and the new offset are written in one transaction, so a restart of
 * the studio (or a failed write) continues from the last recorded line, never repeating or skipping one. A
 * line still being written (no newline yet) waits for the next read. A 'started' message begins an attempt:
 * what was recorded after its step is dropped (`runs.rewind`), as before a local resume, so a requeued task
 * that resumes from its checkpoint leaves one continuous history.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { EngineMessageSchema, type EngineMessage } from '../shared/engineMessages';
import type { RunStore } from '../store/runStore';
import type { AttemptEnd } from '../store/remoteRuns';
import { RunRecorder, type StoreTrouble } from '../store/recorder';

/** Bytes read at most per call; a longer backlog is read over several calls. */
export const DEFAULT_CHUNK_BYTES = 4 * 2 ** 20;

export interface IngestResult {
  /** The messages recorded, in order (for the run.message events). */
  messages: EngineMessage[];
  /** Lines that were not engine messages, described (they are skipped, not retried). */
  skipped: string[];
  /** The offset now recorded. */
  offset: number;
  /** More complete lines wait past this read's limit. */
  more: boolean;
  /** How the current attempt ended, as its messages said; null while it runs (or before it started). */
  end: AttemptEnd | null;
  /** The file was shorter than the recorded offset: it was replaced, and read again from its start. */
  restarted: boolean;
}

export interface IngestOptions {
  /** The messages file, as this machine reads it (the shared folder, or the copy pulled over ssh). */
  file: string;
  /** Turns a path the task wrote (its run folder on the cluster) into this machine's. */
  mapPath?: (path: string) => string;
  /** Runs inside the transaction, after the messages: e.g. the run's status derived from `end` and Slurm's. */
  settle?: (end: AttemptEnd | null) => void;
}

/** A write failed while recording: nothing of this read was stored; the next read starts at the same offset. */
export class IngestStoreError extends Error {}

/** The same message with its file paths (run folder, checkpoint, grid, gap curve) mapped. */
export function mapMessagePaths(msg: EngineMessage, map: (p: string) => string): EngineMessage {
  switch (msg.type) {
    case 'started':
    case 'finished':
      return { ...msg, runDir: map(msg.runDir) };
    case 'checkpoint':
    case 'samples':
      return { ...msg, path: map(msg.path) };
    case 'gap':
      return msg.path === undefined ? msg : { ...msg, path: map(msg.path) };
    default:
      return msg;
  }
}

/** A path mapper from the cluster's run folder to this machine's (identity when they are the same). */
export function folderMapper(from: string, to: string): (p: string) => string {
  const a = from.replace(/\/+$/, '');
  const b = to.replace(/\/+$/, '');
  if (a === b) return (p) => p;
  return (p) => (p === a ? b : p.startsWith(`${a}/`) ? b + p.slice(a.length) : p);
}

export class MessageIngestor {
  /** The recorder of each run's current attempt, kept between reads (it carries the last metrics seen). */
  private readonly recorders = new Map<number, RunRecorder>();

  constructor(
    private readonly store: RunStore,
    private readonly chunkBytes = DEFAULT_CHUNK_BYTES,
  ) {}

  /** Records the complete lines appended to the run's messages file since its recorded offset. */
  ingest(runId: number, opts: IngestOptions): IngestResult {
    const remote = this.store.remote.get(runId);
    if (!remote) throw new Error(`run #${runId} is not a remote run: it has no messages file to ingest`);
    let offset = remote.offset;
    let end = remote.attemptEnd;
    const empty = { messages: [], skipped: [], offset, more: false, end, restarted: false };
    let size: number;
    try {
      size = statSync(opts.file).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return empty;
      throw err;
    }
    let restarted = false;
    if (size < offset) {
      // Only a replaced file shrinks (the task appends): its own history is the truth, from its first line.
      restarted = true;
      offset = 0;
    }
    if (size === offset) return { ...empty, offset, restarted };
    const want = Math.min(size - offset, this.chunkBytes);
    const buf = readAt(opts.file, offset, want);
    let cut = buf.lastIndexOf(0x0a) + 1;
    const skipped: string[] = [];
    if (cut === 0) {
      if (want < this.chunkBytes) return { ...empty, offset, restarted };
      // One line longer than a whole read is no engine message: skip to its end (the next read finds it).
      skipped.push(`bytes ${offset}-${offset + want} of ${opts.file}: a line longer than ${this.chunkBytes} bytes`);
      cut = want;
    }
    const lines = splitLines(buf.subarray(0, cut), offset, opts.file, skipped);
    const messages: EngineMessage[] = [];
    let trouble: StoreTrouble | null = null;
    const onTrouble = (t: StoreTrouble) => {
      if (t.kind !== 'recovered') trouble ??= t;
    };
    const fresh = () => new RunRecorder(this.store, runId, { flushMs: 60_000, onTrouble });
    let recorder = this.recorders.get(runId) ?? fresh();
    const used = new Set<RunRecorder>([recorder]);
    try {
      this.store.writeTransaction(() => {
        for (const raw of lines) {
          const msg = opts.mapPath ? mapMessagePaths(raw, opts.mapPath) : raw;
          if (msg.type === 'started') {
            // A new attempt: what the last one recorded past its starting point is recomputed.
            recorder.flush();
            this.store.runs.rewind(runId, msg.step);
            recorder = fresh();
            used.add(recorder);
            end = null;
          }
          recorder.handle(msg);
          if (msg.type === 'finished') {
            end = { status: msg.reason === 'completed' ? 'completed' : 'stopped', reason: null };
          }
          if (msg.type === 'failed') end = { status: 'failed', reason: msg.reason };
          messages.push(msg);
        }
        recorder.flush();
        if (trouble) throw new IngestStoreError(trouble.message);
        this.store.remote.setIngested(runId, offset + cut, end);
        opts.settle?.(end);
      });
    } catch (err) {
      // Nothing of this read is stored: the recorders' view of it goes too, and the next read starts over.
      for (const r of used) r.discard();
      this.recorders.delete(runId);
      if (err instanceof IngestStoreError) throw err;
      throw new IngestStoreError(`recording the messages of run #${runId} failed: ${(err as Error).message}`);
    }
    this.recorders.set(runId, recorder);
    return { messages, skipped, offset: offset + cut, more: offset + cut < size, end, restarted };
  }

  /** The run needs no more reads (its task ended for good and everything is recorded). */
  forget(runId: number): void {
    this.recorders.get(runId)?.discard();
    this.recorders.delete(runId);
  }
}

function readAt(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Complete lines as engine messages; anything else is described in `skipped` with its byte offset. */
function splitLines(buf: Buffer, base: number, file: string, skipped: string[]): EngineMessage[] {
  const out: EngineMessage[] = [];
  let at = 0;
  while (at < buf.length) {
    let nl = buf.indexOf(0x0a, at);
    if (nl < 0) nl = buf.length;
    const text = buf.subarray(at, nl).toString('utf8').trim();
    if (text !== '') {
      const where = `${file} at byte ${base + at}`;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        skipped.push(`${where}: not JSON: ${JSON.stringify(text.slice(0, 120))}`);
      }
      if (json !== undefined) {
        const m = EngineMessageSchema.safeParse(json);
        if (m.success) out.push(m.data);
        else skipped.push(`${where}: not an engine message (${m.error.issues[0]?.message ?? 'invalid'})`);
      }
    }
    at = nl + 1;
  }
  return out;
}
