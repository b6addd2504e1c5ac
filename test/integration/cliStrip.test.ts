/**
 * Issue 12/15: `sadpm strip` on a tiny run: the same noise at every checkpoint as one PNG (rows = noise image,
 * columns = checkpoint step), the checkpoints it sampled and the file it wrote printed; a second call reuses the
 * stored columns; bad input names its flag.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { gridLayout, gridScale } from '../../src/engine/render/grids';

const BIN = resolve(__dirname, '../../bin/sadpm.mjs');
const dir = mkdtempSync(join(tmpdir(), 'sadpm-cli-strip-'));
const env = { ...process.env, EGL_PLATFORM: 'surfaceless', SADPM_HOME: join(dir, 'home') };

function sadpm(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('sadpm strip', () => {
  it('samples every checkpoint from one noise into a labelled strip, then reuses the stored columns', () => {
    const train = sadpm(
      ['train', '--preset', 'tiny', '--T', '100', '--batch', '2', '--steps', '4', '--checkpoint-every', '2'].concat([
        '--sample-n',
        '2',
        '--sample-steps',
        '3',
        '--gap-t0',
        '8',
        '--gap-batch',
        '2',
        '--name',
        'st',
      ]),
    );
    expect(train.code, train.stderr).toBe(0);
    const out = join(dir, 'strip.png');
    const first = sadpm(['strip', 'st', '--n', '3', '--steps', '3', '--seed', '2', '--raw', '--out', out]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('checkpoints sampled now: 2, 4\n');
    expect(first.stdout).toContain('checkpoints already sampled with these settings: none\n');
    expect(first.stdout).toContain(`strip (2 checkpoints x 3 noise images, ddim 3 steps, seed 2, raw weights): ${out}`);
    const bytes = readFileSync(out);
    const png = PNG.sync.read(bytes);
    const caption = 'RUN 1, ddim 3 STEPS, SEED 2, RAW. COLUMNS: TRAINING STEP';
    const layout = gridLayout(6, 16, 16, { cols: 2, scale: gridScale(16), caption, colLabels: ['2', '4'] });
    expect([png.width, png.height]).toEqual([layout.width, layout.height]);
    const side = JSON.parse(readFileSync(join(dir, 'strip.json'), 'utf8'));
    expect(side).toMatchObject({ kind: 'sadpm-strip', weights: 'raw', sampler: 'ddim', steps: 3, seed: 2, n: 3 });
    expect(side.columns.every((c: { grid: string }) => existsSync(c.grid))).toBe(true);

    const again = sadpm(['strip', '1', '--n', '3', '--steps', '3', '--seed', '2', '--raw', '--out', out, '--json']);
    expect(again.code, again.stderr).toBe(0);
    const r = JSON.parse(again.stdout);
    expect(r.sampled).toEqual([]);
    expect(r.columns.map((c: { step: number }) => c.step)).toEqual([2, 4]);
    // Rewritten from the same stored columns: the same file.
    expect(readFileSync(out).equals(bytes)).toBe(true);
  });

  it('bad input names the flag and value', () => {
    for (const [args, message] of [
      [['--n', '0'], "--n: expected a positive integer, got '0'"],
      [['--n', '65'], '--n 65: at most 64 noise images (rows) per strip'],
      [['--sampler', 'euler'], '--sampler'],
      [['--every', 'two'], "--every: expected a number, got 'two'"],
      [['--every', '0'], "--every: expected a positive integer, got '0'"],
      [['--ema', '--raw'], '--ema and --raw: give one of them'],
      [['--checkpoints', '2,x'], "--checkpoints: expected training steps like 200,400, got 'x' in '2,x'"],
      [['--checkpoints', '3'], '--checkpoints: the run has no checkpoint at step 3 (it has 2, 4)'],
      [['--steps', '500'], '--steps 500: this run has T = 100 diffusion steps; give 100 or fewer'],
      [['--out', join(dir, 'strip.gif')], `--out ${join(dir, 'strip.gif')}: expected a file name ending in .png`],
      [['--wat', '1'], 'unknown flag --wat (see sadpm strip --help)'],
    ] as const) {
      const r = sadpm(['strip', 'st', ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain(message);
    }
  });
});
