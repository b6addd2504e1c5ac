/**
 * What a process does when it opens the store to work with it (the CLI and the app alike): mark runs
 * whose owner died as interrupted, remove the temp files a kill -9 left, and record checkpoints that
 * reached the disk but not the store (the file was renamed into place just before a kill, or the
 * database was full). Checkpoint headers are the engine's format, which the store does not read.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { RunStore } from '../store/runStore';
import { isTagAlive } from '../store/owner';
import { errorCode } from '../store/storeErrors';
import { sweepTempFiles } from '../store/tempFiles';
import { RESUMABLE_STATUSES, type CheckpointRecord, type RunRecord } from '../shared/records';
import { parseRunConfig } from '../shared/config';
import { listCheckpoints, readCheckpointHeader } from '../engine/train/checkpoint';

/** Fields a resume may change (`sadpm resume --steps/--backend`): a checkpoint from before still fits. */
const RESUME_FIELDS = ['steps', 'backend'] as const;

/**
 * `.<name>.<writer pid>.<n>.tmp` (src/io/atomicFile): a write that never got renamed, e.g.
 * `.ckpt-0000010.sadpm-ck.4242.1.tmp`.
 */
const ATOMIC_TEMP = /^\..+\.(\d+)\.\d+\.tmp$/;

/** The folders of a run that the engine writes atomically into. */
const RUN_SUBDIRS = ['', 'checkpoints', 'samples', 'gap'];

export interface Adoption {
  adopted: CheckpointRecord[];
  ignored: { path: string; why: string }[];
  removedTemps: string[];
}

/** Temp files in a run's folders whose writer is gone; the caller knows no run of this folder is active. */
export function removeStaleTempFiles(runDir: string): string[] {
  const removed: string[] = [];
  for (const sub of RUN_SUBDIRS) {
    const dir = join(runDir, sub);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) {
      const m = ATOMIC_TEMP.exec(f);
      if (!m || isTagAlive(Number(m[1]))) continue;
      rmSync(join(dir, f), { force: true });
      removed.push(join(dir, f));
    }
  }
  return removed;
}

function comparable(config: unknown): Record<string, unknown> {
  const c: Record<string, unknown> = { ...parseRunConfig(config) };
  for (const k of RESUME_FIELDS) delete c[k];
  return c;
}

/** Why a checkpoint file cannot be the run's, or null when it is. */
type Expected = Record<string, unknown>;

function mismatch(file: { step: number; path: string }, run: RunRecord, expected: Expected): string | null {
  let h: ReturnType<typeof readCheckpointHeader>;
  try {
    h = readCheckpointHeader(file.path);
  } catch (err) {
    return (err as Error).message;
  }
  if (h.step !== file.step) return `its header says step ${h.step}, its name step ${file.step}`;
  if (h.step > run.totalSteps) return `step ${h.step} is past the run's ${run.totalSteps} steps`;
  const floats = Object.values(h.groups)
    .flat()
    .reduce((a, e) => a + e.length, 0);
  const bytes = h.dataOffset + 4 * floats;
  if (h.fileBytes !== bytes) return `truncated (expected ${bytes} bytes, file is ${h.fileBytes})`;
  let got: Record<string, unknown>;
  try {
    got = comparable(h.config);
  } catch (err) {
    return `its stored config is invalid (${(err as Error).message.split('\n')[0]})`;
  }
  const differs = Object.keys({ ...expected, ...got }).find((k) => !isDeepStrictEqual(expected[k], got[k]));
  if (differs) {
    const [a, b] = [JSON.stringify(got[differs]), JSON.stringify(expected[differs])];
    return `it was written with another config (${differs}: ${a}, the run has ${b})`;
  }
  return null;
}

/**
 * Why resuming from `step` would leave a hole in the run's metric history, or null when every step the
 * engine logged up to it is recorded. The engine logs every logEvery-th step, its last step, and the
 * first step after it starts (from the last recorded checkpoint, or 0): the latter is recorded when
 * anything after that checkpoint is.
 */
type Cadence = { logEvery: number; steps: number };

function metricGap(run: RunRecord, step: number, config: Cadence, lastCk: number): string | null {
  const recorded = run.step;
  if (recorded >= step) return null;
  const onCadence = step !== config.steps && recorded >= Math.floor(step / config.logEvery) * config.logEvery;
  if (onCadence && recorded > Math.max(lastCk, 0)) return null;
  return (
    `the metrics logged before it (after step ${recorded}) were not recorded before the process stopped; ` +
    'resume recomputes them from the last recorded checkpoint instead, for one continuous history'
  );
}

/**
 * Records the checkpoint files of a run that are newer than its last recorded one and valid for it
 * (header, step, size and config checked) and whose preceding metrics are recorded, and removes its
 * stale temp files. Only for runs that no process is training (resumable statuses); other files are
 * left alone and reported (a resume that passes their step replaces them).
 */
export function adoptCheckpoints(store: RunStore, run: RunRecord): Adoption {
  const out: Adoption = { adopted: [], ignored: [], removedTemps: [] };
  if (!RESUMABLE_STATUSES.includes(run.status)) return out;
  out.removedTemps = removeStaleTempFiles(run.runDir);
  const last = store.checkpoints.latest(run.id)?.step ?? -1;
  const newer = listCheckpoints(run.runDir).filter((f) => f.step > last);
  if (newer.length === 0) return out;
  const expected = comparable(run.config);
  const valid: { step: number; path: string; bytes: number; metrics: Record<string, number> }[] = [];
  for (const f of newer) {
    const bad = mismatch(f, run, expected);
    const h = bad ? null : readCheckpointHeader(f.path);
    const why = bad ?? metricGap(run, f.step, parseRunConfig(h!.config), last);
    if (why) out.ignored.push({ path: f.path, why });
    else valid.push({ step: f.step, path: f.path, bytes: h!.fileBytes, metrics: h!.metrics });
  }
  if (valid.length === 0) return out;
  store.db
    .transaction(() => {
      for (const v of valid) out.adopted.push(store.checkpoints.add({ runId: run.id, kind: 'full', ...v }));
      const latest = valid.at(-1)!.step;
      // The interruption note names the last good checkpoint: now this one.
      if (run.status === 'interrupted' && run.failureReason) {
        const note = `last good checkpoint: step ${latest} (found on disk at recovery)`;
        const reason = /last good checkpoint: step \d+|no checkpoint was written yet/.test(run.failureReason)
          ? run.failureReason.replace(/last good checkpoint: step \d+|no checkpoint was written yet/, note)
          : `${run.failureReason}; ${note}`;
        store.runs.setStatus(run.id, 'interrupted', reason);
      }
    })
    .immediate();
  return out;
}

export interface Recovery {
  interrupted: number[];
  sweptTemps: { path: string; bytes: number }[];
  adoption: Map<number, Adoption>;
  /** Steps that failed (e.g. a locked or full database); the process goes on without them. */
  problems: string[];
}

/**
 * Runs at each start of a process that works with the store. Each step is independent: a store that
 * cannot be written right now still opens, so the user can look at it.
 */
export function recoverStore(store: RunStore): Recovery {
  const r: Recovery = { interrupted: [], sweptTemps: [], adoption: new Map(), problems: [] };
  const attempt = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      const code = errorCode(err);
      r.problems.push(`${what} failed: ${(err as Error).message}${code ? ` (${code})` : ''}`);
    }
  };
  attempt('marking interrupted runs', () => (r.interrupted = store.runs.recoverInterrupted()));
  attempt(`sweeping temp files in ${store.layout.datasets}`, () => (r.sweptTemps = sweepTempFiles(store.layout)));
  attempt('adopting checkpoints of interrupted runs', () => {
    // Covariance runs write the head's checkpoints, which the training checks below do not describe.
    for (const run of store.runs.list({ status: ['interrupted'], kind: 'train', limit: 1_000_000 })) {
      attempt(`adopting checkpoints of run #${run.id}`, () => {
        const a = adoptCheckpoints(store, run);
        if (a.adopted.length || a.ignored.length || a.removedTemps.length) r.adoption.set(run.id, a);
      });
    }
  });
  return r;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** Log lines for a recovery (nothing when there was nothing to do). */
export function describeRecovery(r: Recovery, resumeHint: string): string[] {
  const lines: string[] = [];
  if (r.interrupted.length) {
    lines.push(
      `found ${r.interrupted.length} run(s) whose process stopped without finishing: ` +
        `${r.interrupted.map((id) => `#${id}`).join(', ')}; marked interrupted (${resumeHint})`,
    );
  }
  for (const t of r.sweptTemps) {
    lines.push(`removed ${t.path} (${mib(t.bytes)}): a temp file of an import or export that was killed`);
  }
  for (const [id, a] of r.adoption) lines.push(...describeAdoption(id, a));
  for (const p of r.problems) lines.push(p);
  return lines;
}

export function describeAdoption(runId: number, a: Adoption): string[] {
  return [
    ...a.adopted.map((c) => `run #${runId}: recorded checkpoint step ${c.step} (${c.path}), written before it stopped`),
    ...a.ignored.map((i) => `run #${runId}: ignored ${i.path}: ${i.why}`),
    ...a.removedTemps.map((p) => `run #${runId}: removed ${p}: a file write that never finished`),
  ];
}
