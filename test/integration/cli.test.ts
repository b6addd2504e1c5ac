import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { EngineMessageSchema, type EngineMessage } from '../../src/shared/engineMessages';

const BIN = resolve(__dirname, '../../bin/sadpm.mjs');
const dir = mkdtempSync(join(tmpdir(), 'sadpm-cli-'));
const runDir = join(dir, 'run');
const small = ['--preset', 'tiny', '--T', '100', '--batch', '2', '--sample-n', '4', '--sample-steps', '5', '--gap-t0', '8', '--gap-batch', '2', '--log-every', '1'];

function sadpm(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, EGL_PLATFORM: 'surfaceless' }, timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
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

describe('sadpm CLI end to end', () => {
  it('train --json writes checkpoints, a sample grid and the gap curve', () => {
    const r = sadpm(['train', ...small, '--steps', '3', '--checkpoint-every', '2', '--run-dir', runDir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const msgs = messages(r.stdout);
    expect(msgs[0]).toMatchObject({ type: 'started', step: 0, totalSteps: 3, resumed: false });
    expect(msgs.filter((m) => m.type === 'progress').map((m) => m.step)).toEqual([1, 2, 3]);
    expect(msgs.filter((m) => m.type === 'checkpoint').map((m) => m.step)).toEqual([2, 3]);
    const samples = msgs.find((m) => m.type === 'samples')!;
    expect(samples.type === 'samples' && existsSync(samples.path)).toBe(true);
    const gap = msgs.find((m) => m.type === 'gap');
    expect(gap && gap.type === 'gap' && gap.t).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(msgs.at(-1)).toMatchObject({ type: 'finished', reason: 'completed', step: 3 });
    expect(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
  });

  it('sample writes a grid PNG of the requested size and a reproducible sidecar', () => {
    const out = join(dir, 'grid.png');
    const r = sadpm(['sample', '--run-dir', runDir, '--n', '6', '--steps', '5', '--cols', '3', '--seed', '3', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    // 16x16 images scaled 4x, 3 columns x 2 rows, 2 px padding around each cell.
    expect(pngSize(out)).toEqual([3 * 64 + 4 * 2, 2 * 64 + 3 * 2]);
    const side = JSON.parse(readFileSync(join(dir, 'grid.json'), 'utf8'));
    expect(side).toMatchObject({ checkpointStep: 3, sampler: 'ddim', steps: 5, seed: 3, n: 6, weights: 'raw' });
    const again = join(dir, 'grid2.png');
    expect(sadpm(['sample', '--run-dir', runDir, '--n', '6', '--steps', '5', '--cols', '3', '--seed', '3', '--out', again]).code).toBe(0);
    expect(readFileSync(again).equals(readFileSync(out))).toBe(true);
  });

  it('gap prints a chart and writes JSON + CSV', () => {
    const r = sadpm(['gap', '--run-dir', runDir, '--t0', '6', '--n', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/estimation gap at step 3, chain from t0=6/);
    expect(readFileSync(join(runDir, 'gap', 'gap-0000003.csv'), 'utf8').split('\n')[0]).toBe('t,mean_abs_gap,l2_gap,signed_mean_gap');
  });

  it('resume continues to a new step count with one metric history', () => {
    const r = sadpm(['resume', '--run-dir', runDir, '--steps', '5', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const msgs = messages(r.stdout);
    expect(msgs[0]).toMatchObject({ type: 'started', step: 3, resumed: true });
    expect(msgs.filter((m) => m.type === 'progress').map((m) => m.step)).toEqual([4, 5]);
    const steps = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
    expect(steps).toEqual([1, 2, 3, 4, 5]);
  });

  it('import packs a dataset that train accepts', () => {
    const ds = join(dir, 'shapes.sadpm-ds');
    const r = sadpm(['import', 'builtin:shapes32', '--out', ds, '--size', '16', '--limit', '32']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/imported 32 images \(16x16x3/);
    const t = sadpm(['train', ...small, '--steps', '1', '--dataset', ds, '--run-dir', join(dir, 'run2'), '--json']);
    expect(t.code, t.stderr).toBe(0);
    expect(messages(t.stdout).find((m) => m.type === 'started')).toMatchObject({ datasetCount: 32 });
  });

  it('info names the backend and why the others were not chosen', () => {
    const r = sadpm(['info']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^backend: +(webgpu|tensorflow|cpu)/m);
    expect(r.stdout).toMatch(/^not tensorflow: /m);
  });

  it('bad input gets a clear error naming the flag, file or value', () => {
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
    expect(sadpm(['sample', '--run-dir', join(dir, 'nope')]).stderr).toMatch(/no checkpoints in/);
    expect(sadpm(['train', '--dataset', join(dir, 'missing.sadpm-ds')]).stderr).toMatch(/missing\.sadpm-ds/);
    expect(sadpm(['train', ...small, '--steps', '1', '--run-dir', runDir]).stderr).toMatch(/already holds a run/);
  });

  it('Ctrl-C stops after writing a checkpoint', async () => {
    const d = join(dir, 'run-int');
    const child = spawn(process.execPath, [BIN, 'train', ...small, '--steps', '500', '--run-dir', d, '--json'], {
      env: { ...process.env, EGL_PLATFORM: 'surfaceless' },
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
  });
});
