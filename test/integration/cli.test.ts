import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { EngineMessageSchema, type EngineMessage } from '../../src/shared/engineMessages';
import type { CheckpointRecord, DatasetRecord, RunRecord, SampleRecord } from '../../src/shared/records';

const BIN = resolve(__dirname, '../../bin/sadpm.mjs');
const dir = mkdtempSync(join(tmpdir(), 'sadpm-cli-'));
// One store for this file: every command finds it through SADPM_HOME.
const home = join(dir, 'home');
const env = { ...process.env, EGL_PLATFORM: 'surfaceless', SADPM_HOME: home };
const small = [
  '--preset',
  'tiny',
  '--T',
  '100',
  '--batch',
  '2',
  '--sample-n',
  '4',
  '--sample-steps',
  '5',
  '--gap-t0',
  '8',
  '--gap-batch',
  '2',
  '--log-every',
  '1',
];

function sadpm(args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...env, ...extraEnv },
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json<T>(args: string[]): T {
  const r = sadpm([...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

interface Shown {
  run: RunRecord;
  checkpoints: CheckpointRecord[];
  samples: SampleRecord[];
  metrics: string[];
  disk: { total: number; checkpoints: number };
}
const show = (ref: string) => json<Shown>(['show', ref]);

/** The metric history of a run as the store exports it. */
function exported(ref: string): Record<string, { steps: number[]; values: number[] }> {
  const out = join(dir, `export-${ref}-${Date.now()}.json`);
  const r = sadpm(['export', ref, '--format', 'json', '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(readFileSync(out, 'utf8')).metrics;
}

function messages(stdout: string): EngineMessage[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => EngineMessageSchema.parse(JSON.parse(l)));
}

function pngSize(path: string): [number, number] {
  const png = PNG.sync.read(readFileSync(path));
  return [png.width, png.height];
}

describe('sadpm CLI end to end (run store)', () => {
  let runDir = '';

  it('train --json records a run in the store: checkpoints, a sample grid, the gap curve, every metric', () => {
    const r = sadpm([
      'train',
      ...small,
      '--steps',
      '3',
      '--checkpoint-every',
      '2',
      '--name',
      'first',
      '--tags',
      'cli,smoke',
      '--notes',
      'from the test',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const msgs = messages(r.stdout);
    expect(msgs[0]).toMatchObject({ type: 'started', step: 0, totalSteps: 3, resumed: false });
    expect(msgs.filter((m) => m.type === 'progress').map((m) => m.step)).toEqual([1, 2, 3]);
    expect(msgs.filter((m) => m.type === 'checkpoint').map((m) => m.step)).toEqual([2, 3]);
    const samples = msgs.find((m) => m.type === 'samples')!;
    expect(samples.type === 'samples' && existsSync(samples.path)).toBe(true);
    // A builtin:shapes model's samples carry the shape check (3 steps: noise, so none recognised).
    expect(samples.type === 'samples' && samples.shapes).toMatchObject({ n: 4, recognised: 0, byClass: [0, 0, 0] });
    const gap = msgs.find((m) => m.type === 'gap');
    expect(gap && gap.type === 'gap' && gap.t).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(msgs.at(-1)).toMatchObject({ type: 'finished', reason: 'completed', step: 3 });
    // The store decided the folder: <home>/runs/<id>-<name>.
    runDir = msgs[0]!.type === 'started' ? msgs[0]!.runDir : '';
    expect(runDir).toBe(join(home, 'runs', '1-first'));
    expect(existsSync(join(home, 'sadpm.db'))).toBe(true);
    expect(existsSync(join(runDir, 'metrics.jsonl'))).toBe(false);

    const s = show('1');
    expect(s.run).toMatchObject({
      id: 1,
      name: 'first',
      status: 'completed',
      step: 3,
      totalSteps: 3,
      tags: ['cli', 'smoke'],
      notes: 'from the test',
      k: 2,
      T: 100,
    });
    expect(s.run.backend).toMatch(/webgpu|tensorflow|cpu/);
    expect(s.checkpoints.map((c) => c.step)).toEqual([2, 3]);
    expect(s.checkpoints.every((c) => existsSync(c.path) && c.path.startsWith(runDir))).toBe(true);
    expect(s.samples.map((x) => [x.step, x.n, x.ema])).toEqual([[3, 4, true]]);
    expect(s.metrics).toEqual(expect.arrayContaining(['loss', 'simple', 'sa', 'gradNorm', 'lr', 'msPerStep']));
    expect(s.disk.checkpoints).toBeGreaterThan(0);
    const m = exported('1');
    expect(m.loss!.steps).toEqual([1, 2, 3]);
    const progressLoss = msgs.filter((x) => x.type === 'progress').map((x) => (x.type === 'progress' ? x.loss : NaN));
    expect(m.loss!.values).toEqual(progressLoss);
  });

  it('sample writes a grid PNG of the requested size, reproducibly, and records it', () => {
    const out = join(dir, 'grid.png');
    const r = sadpm(['sample', '1', '--n', '6', '--steps', '5', '--cols', '3', '--seed', '3', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    // 16x16 images scaled 4x, 3 columns x 2 rows, 2 px padding around each cell.
    expect(pngSize(out)).toEqual([3 * 64 + 4 * 2, 2 * 64 + 3 * 2]);
    expect(r.stdout).toMatch(
      /^shape check: 0 of 6 samples are recognisable shapes \(0 circles, 0 squares, 0 triangles;/m,
    );
    const side = JSON.parse(readFileSync(join(dir, 'grid.json'), 'utf8'));
    expect(side.shapes).toMatchObject({ n: 6, recognised: 0 });
    expect(side).toMatchObject({ checkpointStep: 3, sampler: 'ddim', steps: 5, seed: 3, n: 6, weights: 'raw' });
    const again = join(dir, 'grid2.png');
    // The same run named by name and by --run-dir, and an explicit checkpoint step.
    expect(
      sadpm([
        'sample',
        'first',
        '--checkpoint',
        '3',
        '--n',
        '6',
        '--steps',
        '5',
        '--cols',
        '3',
        '--seed',
        '3',
        '--out',
        again,
      ]).code,
    ).toBe(0);
    expect(readFileSync(again).equals(readFileSync(out))).toBe(true);
    const third = join(dir, 'grid3.png');
    expect(
      sadpm(['sample', '--run-dir', runDir, '--n', '6', '--steps', '5', '--cols', '3', '--seed', '3', '--out', third])
        .code,
    ).toBe(0);
    expect(readFileSync(third).equals(readFileSync(out))).toBe(true);
    const s = show('1');
    const rec = s.samples.filter((x) => x.path === out);
    expect(rec).toHaveLength(1);
    expect(rec[0]).toMatchObject({ step: 3, n: 6, seed: 3, sampleSteps: 5, checkpointId: s.checkpoints.at(-1)!.id });
    const older = sadpm([
      'sample',
      '1',
      '--checkpoint',
      '2',
      '--n',
      '1',
      '--steps',
      '2',
      '--out',
      join(dir, 'g-old.png'),
      '--json',
    ]);
    expect(older.code, older.stderr).toBe(0);
    expect(messages(older.stdout)[0]).toMatchObject({ type: 'samples', step: 2, n: 1 });
  });

  it('gap prints a chart and writes JSON + CSV', () => {
    const r = sadpm(['gap', '1', '--t0', '6', '--n', '2']);
    expect(r.code, r.stderr).toBe(0);
    // The run holds gapBatch = 2 images out of training: more would measure on trained-on images.
    const more = sadpm(['gap', '1', '--t0', '6', '--n', '3']);
    expect(more.code).not.toBe(0);
    expect(more.stderr).toMatch(/--n 3: expected an integer in 1\.\.2: the run holds 2 of its 4096 images out of/);
    expect(r.stdout).toMatch(/estimation gap at step 3, chain from t0=6/);
    expect(readFileSync(join(runDir, 'gap', 'gap-0000003.csv'), 'utf8').split('\n')[0]).toBe(
      't,mean_abs_gap,l2_gap,signed_mean_gap',
    );
  });

  it('resume continues to a new step count with one continuous metric history', () => {
    const before = exported('1');
    const r = sadpm(['resume', '1', '--steps', '5', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const msgs = messages(r.stdout);
    expect(msgs[0]).toMatchObject({ type: 'started', step: 3, resumed: true, runDir });
    expect(msgs.filter((m) => m.type === 'progress').map((m) => m.step)).toEqual([4, 5]);
    const m = exported('1');
    for (const name of ['loss', 'lr', 'gradNorm']) expect(m[name]!.steps, name).toEqual([1, 2, 3, 4, 5]);
    // Steps 1..3 are the first process's values, untouched.
    expect(m.loss!.values.slice(0, 3)).toEqual(before.loss!.values);
    const s = show('1');
    expect(s.run).toMatchObject({ status: 'completed', step: 5, totalSteps: 5 });
    expect(s.checkpoints.map((c) => c.step)).toEqual([2, 3, 4, 5]);
    // A finished run needs more steps to resume.
    expect(sadpm(['resume', '1']).stderr).toMatch(/already reached step 5 of 5; give more steps/);
    expect(sadpm(['resume', '1', '--steps', '4']).stderr).toMatch(/--steps 4: run #1 already reached step 5/);
  });

  it('import puts a dataset in the library (preview, report), finds a duplicate, and train uses it', () => {
    const r = sadpm(['import', 'builtin:shapes32', '--size', '16', '--limit', '32', '--name', 'shapes16']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/imported 32 images \(16x16x3, .*\) as dataset 'shapes16' \(#1\)/);
    expect(r.stdout).toMatch(/good: 32, skipped: 0/);
    const list = json<DatasetRecord[]>(['datasets']);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: 1, name: 'shapes16', count: 32, height: 16, width: 16, channels: 3, good: 32 });
    expect(existsSync(list[0]!.path) && list[0]!.path.startsWith(join(home, 'datasets'))).toBe(true);
    expect(list[0]!.previewPath && existsSync(list[0]!.previewPath)).toBeTruthy();
    expect(readdirSync(join(home, 'datasets')).filter((f) => f.startsWith('.import-'))).toEqual([]);
    // The same pixels again (another name): found by checksum, nothing stored.
    const dup = sadpm(['import', 'builtin:shapes32', '--size', '16', '--limit', '32', '--name', 'again']);
    expect(dup.code, dup.stderr).toBe(0);
    expect(dup.stdout).toMatch(/already in the library: these images are dataset 'shapes16' \(#1/);
    expect(json<DatasetRecord[]>(['datasets'])).toHaveLength(1);
    expect(readdirSync(join(home, 'datasets')).filter((f) => f.endsWith('.sadpm-ds'))).toHaveLength(1);
    expect(sadpm(['import', 'builtin:shapes32', '--size', '8', '--limit', '4', '--name', 'shapes16']).stderr).toMatch(
      /named 'shapes16' is already in the library/,
    );
    expect(sadpm(['datasets']).stdout).toMatch(/#1 +shapes16 +32 +16x16x3/);

    const t = sadpm(['train', ...small, '--steps', '1', '--dataset', 'shapes16', '--name', 'on-lib', '--json']);
    expect(t.code, t.stderr).toBe(0);
    expect(messages(t.stdout).find((m) => m.type === 'started')).toMatchObject({ datasetCount: 32 });
    const onLib = json<RunRecord[]>(['runs', '--dataset', 'shapes16']);
    expect(onLib.map((x) => x.name)).toEqual(['on-lib']);
    expect(onLib[0]).toMatchObject({ datasetId: 1, status: 'completed' });
  });

  it('import --out writes a standalone packed file that train accepts by path', () => {
    const ds = join(dir, 'shapes.sadpm-ds');
    const r = sadpm(['import', 'builtin:shapes32', '--out', ds, '--size', '16', '--limit', '8']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/imported 8 images \(16x16x3/);
    const t = sadpm([
      'train',
      ...small,
      '--steps',
      '1',
      '--dataset',
      ds,
      '--name',
      'by-path',
      '--run-dir',
      join(dir, 'run-by-path'),
      '--json',
    ]);
    expect(t.code, t.stderr).toBe(0);
    expect(messages(t.stdout).find((m) => m.type === 'started')).toMatchObject({
      datasetCount: 8,
      runDir: join(dir, 'run-by-path'),
    });
    expect(show('by-path').run.runDir).toBe(join(dir, 'run-by-path'));
  });

  it('info names the backend and why the others were not chosen', () => {
    const r = sadpm(['info']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^backend: +(webgpu|tensorflow|cpu)/m);
    expect(r.stdout).toMatch(/^not tensorflow: /m);
    expect(r.stdout).toMatch(/^kernels: +(tfjs|wgsl|wgsl-cpu) \(/m);
    // Only the GPU kernel set runs Winograd; this machine's set says which it runs instead.
    expect(r.stdout).toMatch(
      /^winograd: (off \(the (tfjs|wgsl-cpu) kernel set runs direct convolutions\)|3x3 stride-1)/m,
    );
  });

  it('bad input gets a clear error naming the flag, file, run or value', () => {
    const k = sadpm(['train', '--k', 'abc']);
    expect(k.code).not.toBe(0);
    expect(k.stderr).toMatch(/--k: expected a number, got 'abc'/);
    const tau = sadpm(['train', '--tau', 'weird']);
    expect(tau.stderr).toMatch(/--tau: expected one of official, paper, normalized/);
    const unknown = sadpm(['train', '--lamda', '1']);
    expect(unknown.stderr).toMatch(/unknown flag --lamda/);
    const cfg = join(dir, 'bad.json');
    writeFileSync(cfg, '{"lr": -1}');
    expect(sadpm(['train', '--config', cfg]).stderr).toMatch(/lr: /);
    expect(sadpm(['sample', '--run-dir', join(dir, 'nope')]).stderr).toMatch(
      /--run-dir .*nope: no run in .* uses this folder/,
    );
    expect(sadpm(['sample', 'no-such-run']).stderr).toMatch(/no run 'no-such-run'/);
    expect(sadpm(['sample', '1', '--checkpoint', '7']).stderr).toMatch(
      /run #1 has no checkpoint at step 7 \(checkpoints: 2, 3, 4, 5\)/,
    );
    expect(sadpm(['show', '99']).stderr).toMatch(/no run '99'/);
    expect(sadpm(['runs', '--status', 'done']).stderr).toMatch(/--status: 'done' is not a run status/);
    expect(sadpm(['runs', '--dataset', 'nope']).stderr).toMatch(/--dataset 'nope': no such dataset/);
    expect(sadpm(['export', '1', '--format', 'xml']).stderr).toMatch(/--format: 'xml' is not one of csv, json, bundle/);
    expect(sadpm(['train', '--dataset', join(dir, 'missing.sadpm-ds')]).stderr).toMatch(/missing\.sadpm-ds/);
    expect(sadpm(['train', '--dataset', 'nosuchlib']).stderr).toMatch(
      /--dataset 'nosuchlib': not a dataset in the library/,
    );
    expect(sadpm(['train', ...small, '--steps', '1', '--run-dir', runDir]).stderr).toMatch(
      /already holds a run \(#1\); continue it with 'sadpm resume 1'/,
    );
    // Failed commands created no runs.
    expect(json<RunRecord[]>(['runs']).map((r) => r.id)).toEqual([3, 2, 1]);
  });

  it('runs lists and filters; tag and notes; show prints a summary', () => {
    const t = sadpm(['tag', '2', 'lib', 'keep']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/run #2 tags: lib, keep/);
    expect(sadpm(['tag', '1', 'smoke', '--remove', '--notes', 'a 100% note']).stdout).toMatch(
      /run #1 tags: cli; notes: a 100% note/,
    );
    const ids = (args: string[]) => json<RunRecord[]>(['runs', ...args]).map((r) => r.id);
    expect(ids([])).toEqual([3, 2, 1]);
    expect(ids(['--tag', 'lib'])).toEqual([2]);
    expect(ids(['--tag', 'cli'])).toEqual([1]);
    expect(ids(['--status', 'completed,failed'])).toEqual([3, 2, 1]);
    expect(ids(['--status', 'interrupted'])).toEqual([]);
    expect(ids(['--search', '100%'])).toEqual([1]);
    expect(ids(['--search', 'by-'])).toEqual([3]);
    expect(ids(['--k', '2', '--T', '100', '--lambda', '1', '--limit', '2'])).toEqual([3, 2]);
    const table = sadpm(['runs', '--limit', '2']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^id +name +status +step/m);
    expect(table.stdout).toMatch(/^#2 +on-lib +completed +1\/1 +SA-2 λ=1 +T=100/m);
    expect(table.stdout).toMatch(/\(2 of 3; --limit N for more\)/);
    expect(sadpm(['runs', '--tag', 'none-such']).stdout).toMatch(/no runs match/);
    const human = sadpm(['show', 'first']);
    expect(human.stdout).toMatch(/run #1 'first': completed/);
    expect(human.stdout).toMatch(/checkpoints \(4\): 2, 3, 4, 5/);
    expect(human.stdout).toMatch(/notes: a 100% note/);
  });

  it('export writes CSV (default path in the data folder) and a bundle that tar reads', () => {
    const r = sadpm(['export', '1']);
    expect(r.code, r.stderr).toBe(0);
    // The same name the app gives an export: run-<id>-<name>-<stamp>.metrics.csv under the data folder.
    const csvPath = /exported run #1 csv: (\S+) \(/.exec(r.stdout)?.[1] ?? '';
    expect(csvPath).toMatch(new RegExp(`^${join(home, 'exports')}/run-1-first-[0-9a-z]+\\.metrics\\.csv$`));
    const lines = readFileSync(csvPath, 'utf8').trim().split('\n');
    expect(lines[0]!.split(',')[0]).toBe('step');
    expect(lines[0]!.split(',')).toEqual(expect.arrayContaining(['loss', 'lr']));
    expect(lines.slice(1).map((l) => Number(l.split(',')[0]))).toEqual([1, 2, 3, 4, 5]);
    const out = join(dir, 'b.tar.gz');
    const b = json<{ out: string; bytes: number }>([
      'export',
      '1',
      '--format',
      'bundle',
      '--checkpoints',
      '2,5',
      '--out',
      out,
    ]);
    expect(b.out).toBe(out);
    const list = spawnSync('tar', ['tzf', out], { encoding: 'utf8' }).stdout.trim().split('\n').sort();
    expect(list).toEqual(
      expect.arrayContaining([
        'run-1-first/config.json',
        'run-1-first/metrics.csv',
        'run-1-first/checkpoints/ckpt-0000002.sadpm-ck',
        'run-1-first/checkpoints/ckpt-0000005.sadpm-ck',
      ]),
    );
    expect(list.filter((f) => f.includes('/checkpoints/'))).toHaveLength(2);
    expect(
      sadpm(['export', '1', '--format', 'bundle', '--checkpoints', '9', '--out', join(dir, 'x.tar.gz')]).stderr,
    ).toMatch(/no checkpoint at step 9/);
  });

  it('prune shows the plan, deletes only with --yes, and keeps the latest', () => {
    const before = show('1').checkpoints;
    expect(before.map((c) => c.step)).toEqual([2, 3, 4, 5]);
    expect(sadpm(['prune', '1']).stderr).toMatch(/no retention policy: give --keep-last/);
    const dry = sadpm(['prune', '1', '--keep-last', '1', '--keep-every', '4']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/would delete step 2/);
    expect(dry.stdout).toMatch(/would delete step 3/);
    expect(dry.stdout).toMatch(/keep +step 4 \(milestone/);
    expect(dry.stdout).toMatch(/keep +step 5 \(latest/);
    expect(show('1').checkpoints).toHaveLength(4);
    expect(before.every((c) => existsSync(c.path))).toBe(true);
    const done = sadpm(['prune', '1', '--keep-last', '1', '--keep-every', '4', '--yes']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/deleted 2 checkpoint\(s\)/);
    expect(show('1').checkpoints.map((c) => c.step)).toEqual([4, 5]);
    expect(before.map((c) => existsSync(c.path))).toEqual([false, false, true, true]);
  });

  it('Ctrl-C stops after writing a checkpoint; the run is stopped and resumable', async () => {
    const child = spawn(process.execPath, [BIN, 'train', ...small, '--steps', '500', '--name', 'ctrl-c', '--json'], {
      env,
    });
    let out = '';
    let sent = false;
    const code = await new Promise<number | null>((res) => {
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (!sent && out.includes('"type":"progress","step":2,')) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      child.on('close', (c) => res(c));
    });
    expect(code).toBe(130);
    const msgs = messages(out);
    const fin = msgs.at(-1)!;
    expect(fin).toMatchObject({ type: 'finished', reason: 'stopped' });
    const finStep = fin.type === 'finished' ? fin.step : -1;
    expect(msgs.some((m) => m.type === 'checkpoint' && m.step === finStep)).toBe(true);
    const s = show('ctrl-c');
    expect(s.run).toMatchObject({ status: 'stopped', step: finStep });
    expect(s.checkpoints.at(-1)!.step).toBe(finStep);
    expect(exported('ctrl-c').loss!.steps).toEqual(Array.from({ length: finStep }, (_, i) => i + 1));
  });
});
