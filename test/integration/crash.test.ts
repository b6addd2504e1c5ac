/**
 * The store's crash-safety bar: SIGKILL a training at many random moments — the CLI (the store's
 * writer) during metric flushes and checkpoint writes, and the engine child process during checkpoint
 * writes — then check after each kill that the database is intact, every listed checkpoint loads, the
 * run is 'interrupted' with its last good checkpoint and resumes; at the end the run completes with
 * one continuous metric history (each step exactly once).
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunStore } from '../../src/store/runStore';
import { readCheckpoint } from '../../src/engine/train/checkpoint';

const BIN = resolve(__dirname, '../../bin/sadpm.mjs');
const home = mkdtempSync(join(tmpdir(), 'sadpm-crash-'));
const env = { ...process.env, EGL_PLATFORM: 'surfaceless', SADPM_HOME: home };
const STEPS = 36;
const KILLS = 10;
const SEED = Number(process.env.SADPM_CRASH_SEED ?? 20240601);
/** RunRecorder's flush interval in the CLI (RunService default). */
const FLUSH_MS = 500;
const args = [
  '--preset',
  'tiny',
  '--T',
  '100',
  '--batch',
  '2',
  '--checkpoint-every',
  '2',
  '--log-every',
  '1',
  '--sample-n',
  '2',
  '--sample-steps',
  '2',
  '--gap-t0',
  '4',
  '--gap-batch',
  '2',
];

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Mode =
  'cli-during-flush' | 'cli-during-checkpoint-write' | 'engine-during-checkpoint-write' | 'engine-after-checkpoint';
const MODES: Mode[] = [
  'cli-during-flush',
  'cli-during-checkpoint-write',
  'engine-during-checkpoint-write',
  'engine-after-checkpoint',
];

/** The engine process the CLI forked (the CLI has other children, e.g. tsx's esbuild service). */
function engineOf(pid: number): number | undefined {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .find((c) => {
      try {
        return /hostEntry|engineHost/.test(readFileSync(`/proc/${c}/cmdline`, 'utf8'));
      } catch {
        return false;
      }
    });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

interface Cycle {
  code: number | null;
  signal: NodeJS.Signals | null;
  killed: 'cli' | 'engine' | null;
  progress: { step: number; at: number }[];
  killAt: number;
  enginePid: number | null;
  stderr: string;
}

/** Runs one `sadpm train|resume`, and kills the CLI or its engine child as `mode` says. */
function runOnce(cmd: string[], mode: Mode | null, rng: () => number): Promise<Cycle> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [BIN, ...cmd, '--json'], { env });
  const cycle: Cycle = { code: null, signal: null, killed: null, progress: [], killAt: 0, enginePid: null, stderr: '' };
  let buf = '';
  let watcher: FSWatcher | null = null;
  let armed = false;
  // Which progress line / checkpoint triggers the kill, and how long after it.
  const afterProgress = 1 + Math.floor(rng() * 5);
  const afterCheckpoints = Math.floor(rng() * 2);
  const delay = Math.floor(rng() * (mode === 'cli-during-flush' ? 2 * FLUSH_MS : 400));
  let checkpointsSeen = 0;
  let tmpSeen = 0;

  const kill = (who: 'cli' | 'engine') => {
    if (cycle.killed || child.exitCode !== null) return;
    const engine = engineOf(child.pid!);
    cycle.enginePid = engine ?? null;
    if (who === 'engine') {
      if (engine === undefined) return;
      process.kill(engine, 'SIGKILL');
    } else {
      child.kill('SIGKILL');
    }
    cycle.killed = who;
    cycle.killAt = Date.now();
    watcher?.close();
  };

  child.stderr.on('data', (b: Buffer) => (cycle.stderr += b.toString()));
  child.stdout.on('data', (b: Buffer) => {
    buf += b.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      const msg = JSON.parse(line) as { type: string; step?: number; runDir?: string };
      if (
        msg.type === 'started' &&
        mode &&
        (mode === 'cli-during-checkpoint-write' || mode === 'engine-during-checkpoint-write')
      ) {
        // Kill the moment a checkpoint's temp file appears: the write is under way.
        watcher = watch(join(msg.runDir!, 'checkpoints'), (_ev, name) => {
          if (!name || !String(name).endsWith('.tmp')) return;
          tmpSeen += 1;
          if (tmpSeen > afterCheckpoints) kill(mode === 'engine-during-checkpoint-write' ? 'engine' : 'cli');
        });
      }
      if (msg.type === 'progress') {
        cycle.progress.push({ step: msg.step!, at: Date.now() });
        if (mode === 'cli-during-flush' && !armed && cycle.progress.length >= afterProgress) {
          armed = true;
          setTimeout(() => kill('cli'), delay);
        }
      }
      if (msg.type === 'checkpoint') {
        checkpointsSeen += 1;
        if (mode === 'engine-after-checkpoint' && !armed && checkpointsSeen > afterCheckpoints) {
          armed = true;
          setTimeout(() => kill('engine'), delay);
        }
      }
    }
  });
  return new Promise((res) => {
    child.on('close', (code, signal) => {
      watcher?.close();
      cycle.code = code;
      cycle.signal = signal;
      res(cycle);
    });
  });
}

/** What every kill must leave: an intact database, loadable checkpoints, a resumable interrupted run. */
function checkStore(runId: number, cycle: Cycle): { stored: number[]; lastCk: number | null } {
  const store = RunStore.open(home);
  try {
    store.runs.recoverInterrupted();
    expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(store.db.pragma('foreign_key_check')).toEqual([]);
    const run = store.runs.get(runId)!;
    const cks = store.checkpoints.list(runId);
    for (const c of cks) {
      const data = readCheckpoint(c.path);
      expect(data.step).toBe(c.step);
      expect(c.bytes).toBe(readFileSync(c.path).length);
    }
    const last = cks.at(-1);
    expect(run.status, JSON.stringify(cycle)).toBe('interrupted');
    expect(run.failureReason).toMatch(
      last ? new RegExp(`last good checkpoint: step ${last.step}\\b`) : /no checkpoint was written yet/,
    );
    // The stored history is contiguous from step 1, and reaches the last checkpoint.
    const stored = store.metrics.series(runId, 'loss', 1e9).steps;
    expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => i + 1));
    if (last) expect(stored.length).toBeGreaterThanOrEqual(last.step);
    // What the CLI had received but not written is at most one flush interval's worth.
    const seen = cycle.progress.map((p) => p.step);
    const lost = cycle.progress.filter((p) => p.step > (stored.at(-1) ?? 0));
    if (cycle.killed === 'engine') {
      // The CLI survives an engine crash and flushes everything it received.
      expect(lost, `seen ${seen}`).toEqual([]);
    } else {
      for (const p of lost) expect(cycle.killAt - p.at, `step ${p.step} lost`).toBeLessThanOrEqual(FLUSH_MS + 400);
    }
    return { stored, lastCk: last?.step ?? null };
  } finally {
    store.close();
  }
}

describe('crash safety', () => {
  it(`survives ${KILLS} SIGKILLs at random moments and completes with one continuous history`, async () => {
    const rng = mulberry32(SEED);
    const t0 = Date.now();
    const log: string[] = [];
    let kills = 0;
    let first = true;
    let completed = false;
    let cycles = 0;
    while (kills < KILLS && cycles < KILLS * 2) {
      cycles += 1;
      const mode = MODES[Math.floor(rng() * MODES.length)]!;
      const cmd = first ? ['train', ...args, '--steps', String(STEPS), '--name', 'crash'] : ['resume', '1'];
      const c = await runOnce(cmd, mode, rng);
      first = false;
      if (!c.killed) {
        // The run ended before the trigger came (e.g. completed): nothing was killed this time.
        expect(c.code, c.stderr).toBe(0);
        completed = true;
        log.push(`cycle ${cycles}: ${mode} did not fire; completed`);
        break;
      }
      kills += 1;
      if (c.killed === 'cli') {
        expect(c.signal).toBe('SIGKILL');
        // The orphaned engine notices its parent is gone and exits on its own.
        if (c.enginePid)
          expect(await waitFor(() => !alive(c.enginePid!), 15_000), `engine ${c.enginePid} outlived the CLI`).toBe(
            true,
          );
      } else {
        // The CLI reports the interrupted run and exits with an error.
        expect(c.code, `${log.join('\n')}\n${mode}: progress ${c.progress.map((p) => p.step)}; ${c.stderr}`).toBe(1);
        expect(c.stderr).toMatch(/run #1 interrupted: the engine process was killed \(SIGKILL\)/);
      }
      const { stored, lastCk } = checkStore(1, c);
      const progress = c.progress.map((p) => p.step).join(',');
      const at = `stored to ${stored.at(-1) ?? 0}; last checkpoint ${lastCk}`;
      log.push(`kill ${kills} (${mode}): progress ${progress}; ${at}`);
    }
    if (!completed) {
      const r = spawnSync(process.execPath, [BIN, 'resume', '1', '--json'], {
        env,
        encoding: 'utf8',
        timeout: 180_000,
      });
      expect(r.status, r.stderr).toBe(0);
    }
    const store = RunStore.open(home);
    try {
      expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
      const run = store.runs.get(1)!;
      expect(run).toMatchObject({ status: 'completed', step: STEPS });
      for (const name of ['loss', 'lr', 'gradNorm', 'msPerStep']) {
        expect(store.metrics.series(1, name, 1e9).steps, name).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
      }
      const cks = store.checkpoints.list(1);
      expect(cks.at(-1)!.step).toBe(STEPS);
      for (const c of cks) expect(readCheckpoint(c.path).step).toBe(c.step);
      // No half-written checkpoint is left behind once the run resumed and finished.
      expect(readdirSync(join(run.runDir, 'checkpoints')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      expect(existsSync(join(run.runDir, 'config.json'))).toBe(true);
    } finally {
      store.close();
    }
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(`crash test (seed ${SEED}): ${kills} kills in ${cycles} cycles, ${secs} s\n${log.join('\n')}`);
    expect(kills).toBeGreaterThanOrEqual(8);
  }, 400_000);
});
