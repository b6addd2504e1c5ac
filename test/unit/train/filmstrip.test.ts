import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { initBackend } from '../../../src/engine/backend';
import { resolveRunConfig } from '../../../src/shared/config';
import { TrainState } from '../../../src/engine/train/trainer';
import { writeFilmstrip, writeRunSamples } from '../../../src/engine/train/artifacts';
import { gridLayout, gridScale, labelBandHeight, makeGridPng } from '../../../src/engine/render/grids';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('denoising filmstrip', () => {
  const cfg = resolveRunConfig({
    preset: 'tiny',
    dataset: 'builtin:shapes',
    imageSize: 16,
    channels: 3,
    T: 20,
    gapT0: 10,
    sampleSteps: 5,
  });

  it('shows x_t per frame, labelled with t in the sidecar; with x0 a second row of predictions', async () => {
    const holder = new TrainState(cfg);
    const dir = mkdtempSync(join(tmpdir(), 'sadpm-film-'));
    try {
      const settings = { n: 1, ema: false, sampler: 'ddim' as const, steps: 5, seed: 3, frames: 3 };
      const one = await writeFilmstrip(holder, dir, settings);
      const two = await writeFilmstrip(holder, dir, { ...settings, filmstripX0: true });
      expect(one.path).not.toBe(two.path);
      const side = (p: string) => JSON.parse(readFileSync(p.replace(/\.png$/, '.json'), 'utf8'));
      // 5 DDIM steps over T = 20 walk indices 16, 12, 8, 4, 0: frames at steps 0, 2, 4 (t = 17, 9, 1), then the sample.
      expect(side(one.path).frames).toEqual([
        { step: 0, t: 17 },
        { step: 2, t: 9 },
        { step: 4, t: 1 },
        { step: 5, t: 0 },
      ]);
      expect(side(one.path).rows).toEqual(['x_t']);
      expect(side(two.path).rows).toEqual(['x_t', 'x0 predicted from x_t']);
      expect([one.n, two.n]).toEqual([4, 8]);
      const size = (p: string) => {
        const png = PNG.sync.read(readFileSync(p));
        return [png.width, png.height];
      };
      // Each frame's t is drawn above its column, as the sidecar lists them.
      const colLabels = ['t=17', 't=9', 't=1', 't=0'];
      const layout = (n: number) => gridLayout(n, 16, 16, { cols: 4, scale: gridScale(16), colLabels });
      expect(size(one.path)).toEqual([layout(4).width, layout(4).height]);
      expect(size(two.path)).toEqual([layout(8).width, layout(8).height]);
      expect(layout(8).rows).toBe(2);
      // The label band holds exactly the pixels makeGridPng draws for these labels.
      const png = PNG.sync.read(readFileSync(two.path));
      const cell = gridScale(16) * 16;
      const band = labelBandHeight({ colLabels });
      const bare = new Uint8Array(8 * 16 * 16 * 3);
      const ref = PNG.sync.read(makeGridPng(bare, 8, 16, 16, 3, { cols: 4, scale: gridScale(16), colLabels }));
      expect(png.data.subarray(0, 4 * png.width * band).equals(ref.data.subarray(0, 4 * png.width * band))).toBe(true);
      const blank = PNG.sync.read(
        makeGridPng(bare, 8, 16, 16, 3, { cols: 4, scale: gridScale(16), colLabels: ['', '', '', ''] }),
      );
      expect(png.data.subarray(0, 4 * png.width * band).equals(blank.data.subarray(0, 4 * png.width * band))).toBe(
        false,
      );
      // The first frame is the starting noise: its pixels differ from the x0 row's first frame below it.
      const pad = 2 + band;
      let diff = 0;
      for (let y = 0; y < cell; y++) {
        for (let x = 0; x < cell; x++) {
          const a = 4 * ((pad + y) * png.width + 2 + x);
          const b = 4 * ((pad + 2 + cell + y) * png.width + 2 + x);
          diff += Math.abs(png.data[a]! - png.data[b]!);
        }
      }
      expect(diff / (cell * cell)).toBeGreaterThan(5);
    } finally {
      holder.dispose();
    }
  });
});

describe('sample grid files (issue 12/15)', () => {
  it('a grid in another layout (a strip column) gets its own file instead of overwriting the square grid', async () => {
    const cfg = resolveRunConfig({ preset: 'tiny', dataset: 'builtin:shapes', T: 20, gapT0: 10, sampleSteps: 2 });
    const holder = new TrainState(cfg);
    const dir = mkdtempSync(join(tmpdir(), 'sadpm-grid-names-'));
    try {
      const s = { n: 4, ema: false, sampler: 'ddim' as const, steps: 2, seed: 1 };
      const square = await writeRunSamples(holder, dir, s);
      const column = await writeRunSamples(holder, dir, { ...s, cols: 1 });
      const same = await writeRunSamples(holder, dir, { ...s, cols: 2 });
      expect(column.path).toMatch(/step-0000000-ddim2-c1-seed1-n4\.png$/);
      // cols 2 is the default layout of 4 images: the same file.
      expect(same.path).toBe(square.path);
      const size = (p: string) => {
        const png = PNG.sync.read(readFileSync(p));
        return [png.width, png.height];
      };
      expect(size(square.path)).toEqual([2 * 66 + 2, 2 * 66 + 2]);
      expect(size(column.path)).toEqual([66 + 2, 4 * 66 + 2]);
      expect(JSON.parse(readFileSync(column.path.replace(/\.png$/, '.json'), 'utf8')).grid.cols).toBe(1);
    } finally {
      holder.dispose();
    }
  });
});
