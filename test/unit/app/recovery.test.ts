/**
 * What the next start does after a kill -9: import temp files in <data>/datasets are swept (only those
 * whose processes are gone), and checkpoint files that reached a run's folder but not the store are
 * validated and recorded, so that resume continues from them; a stray checkpoint temp file is removed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunStore } from '../../../src/store/runStore';
import { ownerTag } from '../../../src/store/owner';
import { describeRecovery, recoverStore } from '../../../src/app/recovery';
import { RunService } from '../../../src/app/runService';
import { createServices } from '../../../src/app/services';
import { openStore } from '../../../src/cli/storeAccess';
import { parseArgs } from '../../../src/cli/args';
import { resolveRunConfig, type RunConfig } from '../../../src/shared/config';
import { parseCovConfig } from '../../../src/shared/covConfig';
import { checkpointFileName, writeCheckpoint } from '../../../src/engine/train/checkpoint';
import { fakeSpawner, type FakeEngineLog } from './fakeEngine';
import { tmpDir } from '../store/helpers';

vi.mock('electron', () => ({}));

/** A pid that no process has now: a child that already exited. */
const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
const deadTag = ownerTag({ pid: deadPid, start: 'some boot:12345' });

const cfg = (over: Partial<RunConfig> = {}) =>
  resolveRunConfig({ preset: 'tiny', T: 50, gapT0: 20, steps: 20, checkpointEvery: 5, batch: 2, logEvery: 1, ...over });

/** A valid one-weight checkpoint, written elsewhere and copied into place (as a rename before a kill leaves it). */
function checkpointFile(dest: string, step: number, config: RunConfig): void {
  const scratch = join(tmpDir('sadpm-ck-'), 'ck.sadpm-ck');
  const one = [new Float32Array([step])];
  writeCheckpoint(scratch, {
    step,
    config,
    backend: 'fake',
    adamCount: step,
    names: ['w'],
    shapes: [[1]],
    params: one,
    ema: one,
    adamM: one,
    adamV: one,
    metrics: { loss: 1 / step },
  });
  mkdirSync(join(dest, '..'), { recursive: true });
  copyFileSync(scratch, dest);
}

function record(store: RunStore, runId: number, step: number, path: string): void {
  store.checkpoints.add({ runId, step, kind: 'full', path, bytes: statSync(path).size, metrics: {} });
}

const stores: RunStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});
function open(root = tmpDir()): RunStore {
  const s = RunStore.open(root);
  stores.push(s);
  return s;
}

describe('sweeping import and export temp files', () => {
  it('removes the temp files of dead imports and exports only, and says so', () => {
    const store = open();
    const ds = store.layout.datasets;
    const deadExport = join(store.layout.exports, `.run-1-x.tar.gz.${deadPid}.1.tmp`);
    const liveExport = join(store.layout.exports, `.run-2-x.tar.gz.${process.pid}.1.tmp`);
    writeFileSync(deadExport, Buffer.alloc(3 * 2 ** 20));
    writeFileSync(liveExport, 'x');
    const dead = [
      `.import-${deadTag}-m1abc.sadpm-ds`,
      `.import-${deadTag}-m1abc.png`,
      // The engine's atomic-write temp of the packed file, killed mid-write.
      `..import-${deadTag}-m1abd.sadpm-ds.${deadPid}.1.tmp`,
      // Named by an older release: a bare pid.
      `.import-${deadPid}-m1abe.sadpm-ds`,
      // This process's pid, but another start time: a recycled pid, not the owner.
      `.import-${process.pid}-deadbeef-m1abf.sadpm-ds`,
    ];
    const kept = [
      `.import-${ownerTag()}-m1ac0.sadpm-ds`,
      `..import-${deadTag}-m1ac1.sadpm-ds.${process.pid}.3.tmp`,
      '.hidden-user-file',
      'mnist-0123abcd.sadpm-ds',
    ];
    for (const f of [...dead, ...kept]) writeFileSync(join(ds, f), Buffer.alloc(3 * 2 ** 20));
    const r = recoverStore(store);
    expect(r.sweptTemps.map((t) => t.path).sort()).toEqual([...dead.map((f) => join(ds, f)), deadExport].sort());
    expect(r.sweptTemps.every((t) => t.bytes === 3 * 2 ** 20)).toBe(true);
    expect(readdirSync(ds).sort()).toEqual([...kept].sort());
    expect(existsSync(liveExport)).toBe(true);
    const lines = describeRecovery(r, 'resume them');
    expect(lines).toHaveLength(dead.length + 1);
    const what = 'a temp file of an import or export that was killed';
    expect(lines[0]).toMatch(new RegExp(`^removed .*/datasets/\\.\\.?import-.* \\(3\\.0 MiB\\): ${what}$`));
    // Nothing left to do the next time.
    expect(recoverStore(store).sweptTemps).toEqual([]);
  });

  it('is what the CLI and the app do when they open the store, and both log it', async () => {
    const root = tmpDir();
    mkdirSync(join(root, 'datasets'), { recursive: true });
    const leftover = join(root, 'datasets', `.import-${deadTag}-m1abc.sadpm-ds`);
    writeFileSync(leftover, 'x');
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const store = openStore(parseArgs(['runs', '--data-dir', root]));
    stores.push(store);
    const line = `removed ${leftover} (0.0 MiB): a temp file of an import or export that was killed`;
    expect(err.mock.calls.map((c) => String(c[0]))).toEqual([`${line}\n`]);
    err.mockRestore();
    expect(existsSync(leftover)).toBe(false);

    writeFileSync(leftover, 'x');
    const logged: string[] = [];
    const spawn = fakeSpawner({ spawned: 0, commands: [] });
    const services = createServices({ dataDir: root, spawn, mode: 'web', log: (l) => logged.push(l) });
    await services.close();
    expect(logged).toEqual([line]);
    expect(existsSync(leftover)).toBe(false);
  });
});

describe('adopting checkpoints written but not recorded', () => {
  function interruptedRun(store: RunStore, over: Partial<RunConfig> = {}) {
    const config = cfg(over);
    const run = store.runs.create({ name: 'killed', config, appVersion: 'test' });
    store.runs.markRunning(run.id, { pid: deadPid, start: 'some boot:12345' });
    const ckDir = join(run.runDir, 'checkpoints');
    const at = (step: number) => join(ckDir, checkpointFileName(step));
    checkpointFile(at(5), 5, config);
    record(store, run.id, 5, at(5));
    return { run, config, ckDir, at };
  }

  it('records a valid newer checkpoint of an interrupted run, notes the others, removes stray temps', async () => {
    const store = open();
    const { run, config, ckDir, at } = interruptedRun(store);
    checkpointFile(at(10), 10, config);
    // The process flushed the metrics up to step 10, then died.
    store.runs.setProgress(run.id, 10, 0.1);
    // Step 11's metrics were never recorded: resuming from it would leave a hole in the history.
    checkpointFile(at(11), 11, config);
    writeFileSync(at(12), 'not a checkpoint at all');
    checkpointFile(at(13), 11, config);
    checkpointFile(at(15), 15, { ...config, lambda: 0.5 });
    const staleTemp = join(ckDir, `.${checkpointFileName(16)}.${deadPid}.1.tmp`);
    writeFileSync(staleTemp, 'half a checkpoint');
    mkdirSync(join(run.runDir, 'samples'));
    const staleSample = join(run.runDir, 'samples', `.step-0000010-ddim2-ema-seed0-n2.png.${deadPid}.4.tmp`);
    writeFileSync(staleSample, 'half a png');
    const liveTemp = join(ckDir, `.${checkpointFileName(17)}.${process.pid}.1.tmp`);
    writeFileSync(liveTemp, 'being written');

    const r = recoverStore(store);
    expect(r.interrupted).toEqual([run.id]);
    const a = r.adoption.get(run.id)!;
    expect(a.adopted.map((c) => c.step)).toEqual([10]);
    expect(a.ignored.map((i) => [i.path, i.why])).toEqual([
      [
        at(11),
        'the metrics logged before it (after step 10) were not recorded before the process stopped; ' +
          'resume recomputes them from the last recorded checkpoint instead, for one continuous history',
      ],
      [at(12), expect.stringMatching(/not a SA-DPM checkpoint/)],
      [at(13), 'its header says step 11, its name step 13'],
      [at(15), 'it was written with another config (lambda: 0.5, the run has 1)'],
    ]);
    expect(a.removedTemps).toEqual([staleTemp, staleSample]);
    expect(existsSync(staleTemp)).toBe(false);
    expect(existsSync(staleSample)).toBe(false);
    expect(existsSync(liveTemp)).toBe(true);
    const lines = describeRecovery(r, 'resume');
    expect(lines).toContain(`run #${run.id}: recorded checkpoint step 10 (${at(10)}), written before it stopped`);
    const other = 'it was written with another config (lambda: 0.5, the run has 1)';
    expect(lines).toContain(`run #${run.id}: ignored ${at(15)}: ${other}`);
    expect(lines).toContain(`run #${run.id}: removed ${staleTemp}: a file write that never finished`);
    expect(lines).toContain(`run #${run.id}: removed ${staleSample}: a file write that never finished`);

    const got = store.runs.get(run.id)!;
    expect(got.status).toBe('interrupted');
    expect(got.failureReason).toMatch(/last good checkpoint: step 10 \(found on disk at recovery\)$/);
    expect(store.checkpoints.list(run.id).map((c) => c.step)).toEqual([5, 10]);
    const bytes = statSync(at(10)).size;
    expect(store.checkpoints.latest(run.id)).toMatchObject({ path: at(10), bytes, metrics: { loss: 0.1 } });

    // Resume continues from the adopted checkpoint.
    const log: FakeEngineLog = { spawned: 0, commands: [] };
    const service = new RunService(store, fakeSpawner(log), { flushMs: 5 });
    const outcome = await service.enqueue(run.id, { resume: true });
    expect(outcome.status).toBe('completed');
    expect(log.commands[0]).toMatchObject({ cmd: 'train', resumeFrom: at(10) });
    expect(store.metrics.series(run.id, 'loss', 1000).steps).toEqual(Array.from({ length: 10 }, (_, i) => i + 11));
  });

  it('stopped or failed run: resume records a newer checkpoint whose metrics are recorded, starts there', async () => {
    const store = open();
    const { run, config, at } = interruptedRun(store, { logEvery: 4 });
    store.runs.setStatus(run.id, 'failed', 'the run database could not be written');
    // Written by a resume with --steps 30 (a field a resume may change); metrics logged every 4 steps, up to 8.
    checkpointFile(at(9), 9, { ...config, steps: 30 });
    store.runs.setProgress(run.id, 8, 0.125);
    const log: FakeEngineLog = { spawned: 0, commands: [] };
    const service = new RunService(store, fakeSpawner(log), { flushMs: 5 });
    // Only interrupted runs are looked at when the store opens.
    expect(recoverStore(store).adoption.size).toBe(0);
    await service.enqueue(run.id, { resume: true });
    expect(log.commands[0]).toMatchObject({ cmd: 'train', resumeFrom: at(9) });
  });

  it('goes by the logging cadence: a checkpoint off it counts when the last logged step before it is recorded', () => {
    const cases: [number, number, boolean][] = [
      // [checkpoint step, metrics recorded up to, adopted]
      [13, 10, true],
      [13, 9, false],
      [15, 10, false],
      [15, 15, true],
      // The first step after a start is logged too: nothing recorded after the last checkpoint (5).
      [7, 5, false],
    ];
    for (const [step, recorded, adopted] of cases) {
      const store = open();
      const config = cfg({ logEvery: 5 });
      const run = store.runs.create({ name: 'cadence', config, appVersion: 'test' });
      const at = (s: number) => join(run.runDir, 'checkpoints', checkpointFileName(s));
      checkpointFile(at(5), 5, config);
      record(store, run.id, 5, at(5));
      checkpointFile(at(step), step, config);
      store.runs.setProgress(run.id, recorded, 1);
      store.runs.setStatus(run.id, 'interrupted', 'killed; last good checkpoint: step 5');
      const a = recoverStore(store).adoption.get(run.id)!;
      expect(
        a.adopted.map((c) => c.step),
        `checkpoint ${step}, recorded ${recorded}`,
      ).toEqual(adopted ? [step] : []);
      expect(store.runs.get(run.id)!.failureReason).toBe(
        adopted
          ? `killed; last good checkpoint: step ${step} (found on disk at recovery)`
          : 'killed; last good checkpoint: step 5',
      );
    }
  });

  it('leaves runs that a live process trains alone', () => {
    const store = open();
    const { run, config, at } = interruptedRun(store);
    store.runs.markRunning(run.id, { pid: process.pid, start: '' });
    checkpointFile(at(10), 10, config);
    const r = recoverStore(store);
    expect(r.interrupted).toEqual([]);
    expect(r.adoption.size).toBe(0);
    expect(store.checkpoints.list(run.id).map((c) => c.step)).toEqual([5]);
  });

  it('leaves the checkpoints of an interrupted covariance run to its own trainer', () => {
    const store = open();
    const { run: base, config, at } = interruptedRun(store);
    store.runs.setStatus(base.id, 'completed');
    const cov = parseCovConfig({ kind: 'sn', steps: 20, base: { runDir: base.runDir, checkpoint: at(5), step: 5 } });
    const child = store.runs.create({
      name: 'sn head',
      config,
      appVersion: 'test',
      kind: 'cov',
      parentId: base.id,
      cov,
    });
    store.runs.markRunning(child.id, { pid: deadPid, start: 'some boot:12345' });
    // A file the training checks would take for one of this run's: its config is the run's (the base's).
    checkpointFile(join(child.runDir, 'checkpoints', checkpointFileName(10)), 10, config);
    store.runs.setProgress(child.id, 10, 1);
    const r = recoverStore(store);
    expect(r.interrupted).toEqual([child.id]);
    expect(r.adoption.size).toBe(0);
    expect(store.checkpoints.list(child.id)).toEqual([]);
  });
});
