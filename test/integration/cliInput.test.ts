/**
 * What a new user types wrong, through the real `sadpm` binary: every mistake gets one clear message,
 * up front, naming the flag, file or field and what was expected; nothing hangs and nothing starts.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import type { RunRecord } from '../../src/shared/records';

const BIN = resolve(__dirname, '../../bin/sadpm.mjs');
const dir = mkdtempSync(join(tmpdir(), 'sadpm-cli-input-'));
const home = join(dir, 'home');
const env = { ...process.env, EGL_PLATFORM: 'surfaceless', SADPM_HOME: home };
const small = ['--preset', 'tiny', '--T', '10', '--batch', '2', '--sample-n', '2', '--sample-steps', '2'];
small.push('--gap-t0', '4', '--gap-batch', '2');

function sadpm(args: string[], timeout = 120_000) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

function png(side: number, v: number): Buffer {
  const p = new PNG({ width: side, height: side });
  p.data.fill(v);
  return PNG.sync.write(p);
}

function put(path: string, data: Buffer | string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, data);
  return path;
}

const runs = (): RunRecord[] => JSON.parse(sadpm(['runs', '--json']).stdout) as RunRecord[];

describe('sadpm: bad input is refused up front with one clear message', () => {
  it('import with an unknown --format lists the valid formats at once instead of hanging', () => {
    const src = join(dir, 'imgs');
    put(join(src, 'a.png'), png(4, 10));
    const formats = "--format: 'png' is not one of auto, idx, cifar10, folder, npy, builtin, packed";
    // Into the library (through an engine process, which used to wait forever for a reply) and --out.
    for (const extra of [[], ['--out', join(dir, 'x.sadpm-ds')]]) {
      const r = sadpm(['import', src, '--format', 'png', ...extra], 60_000);
      expect(r.code, `hung for ${r.ms} ms`).toBe(1);
      expect(r.stderr).toBe(`sadpm import: ${formats}\n`);
    }
    const classes = sadpm(['import', src, '--classes', 'folders']);
    expect(classes.stderr).toBe("sadpm import: --classes: 'folders' is not one of auto, subfolders, none\n");
    expect(existsSync(join(dir, 'x.sadpm-ds'))).toBe(false);
  });

  it('import of 19 top-level images and 1 in a subfolder imports all 20 and says why there are no labels', () => {
    const src = join(dir, 'mixed');
    for (let i = 0; i < 19; i++) put(join(src, `p${i}.png`), png(4, i));
    put(join(src, 'sub', 'q.png'), png(4, 99));
    const out = join(dir, 'mixed.sadpm-ds');
    const r = sadpm(['import', src, '--out', out, '--size', '4']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^imported 20 images \(4x4x3, folder\)/);
    expect(r.stdout).toMatch(/^ {2}19 images at the top level and 1 in subfolders: imported all without class labels/m);
  });

  it('import --strict names every broken file and why (a truncated PNG in its own words), not the label rule', () => {
    const src = join(dir, 'broken');
    const good = png(8, 50);
    put(join(src, 'cats', 'ok.png'), good);
    const cut = put(join(src, 'cats', 'cut.png'), good.subarray(0, good.length - 30));
    const text = put(join(src, 'dogs', 'notes.jpg'), 'not an image');
    put(join(src, 'dogs', 'ok.png'), good);
    const r = sadpm(['import', src, '--out', join(dir, 'broken.sadpm-ds'), '--strict']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        'sadpm import: 2 of 4 images cannot be read, so nothing was imported (--strict):',
        `  ${cut}: truncated PNG (the file ends inside the 'IDAT' chunk: ` +
          `${good.length - 30} bytes of the ${good.length - 12} it needs)`,
        `  ${text}: not a PNG or JPEG (unrecognised leading bytes)`,
        '',
      ].join('\n'),
    );
    expect(r.stderr).not.toMatch(/waitng|label|subfolder/);
  });

  it('an unknown flag is reported with one prefix', () => {
    const flag = sadpm(['train', '--bogus', '1']);
    expect(flag.stderr).toBe('sadpm train: unknown flag --bogus (see sadpm train --help)\n');
    expect(sadpm(['sample']).stderr).toBe('sadpm sample: name the run (id or name) or give --run-dir DIR\n');
  });

  it('--data-dir pointing at a file is named as such, not as a raw EEXIST', () => {
    const file = put(join(dir, 'not-a-folder'), 'x');
    const r = sadpm(['runs', '--data-dir', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `sadpm runs: cannot use ${file} as the data folder: ${file} is a file, not a folder; ` +
        'point --data-dir or SADPM_HOME at a folder\n',
    );
  });

  it('--config with an unknown field names the file, the field and the nearest valid one; nothing is started', () => {
    const cfg = put(join(dir, 'typo.json'), JSON.stringify({ lamda: 5, steps: 1 }));
    const r = sadpm(['train', ...small, '--config', cfg]);
    expect(r.code).toBe(1);
    const says = `--config ${cfg}: unknown field 'lamda' (did you mean 'lambda'?); nothing was started`;
    expect(r.stderr).toBe(`sadpm train: ${says}\n`);
    expect(runs()).toEqual([]);
  });

  it('k > T is refused', () => {
    const r = sadpm(['train', ...small, '--k', '11', '--steps', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sadpm train: invalid run config:\n {2}k: k \(11\) must be <= T \(10\)/);
    expect(runs()).toEqual([]);
  });

  it('sample --n over the grid limit is refused before anything loads, with the limit, the reason and the work', () => {
    const r = sadpm(['sample', 'whatever', '--n', '100000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'sadpm sample: --n 100000: at most 1024 images per call, because they all go into one grid PNG; ' +
        '100000 images would also take 78150 network passes (1563 batches of 64 x 50 steps). ' +
        'Sample in several calls with different --seed values\n',
    );
  });

  it('sample --steps > T is refused, not silently clamped', () => {
    const t = sadpm(['train', ...small, '--steps', '1', '--checkpoint-every', '1', '--json']);
    expect(t.code, t.stderr).toBe(0);
    const r = sadpm(['sample', '1', '--steps', '11', '--n', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('sadpm sample: --steps 11: this run has T = 10 diffusion steps; give --steps 10 or fewer\n');
    const ok = sadpm(['sample', '1', '--steps', '10', '--n', '1', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout.trim().split('\n').at(-1)!)).toMatchObject({ type: 'samples', sampleSteps: 10 });
  });
});
