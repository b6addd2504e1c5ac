/**
 * The shape check of builtin:shapes samples (data/shapeCheck.ts): the dataset's own images are
 * recognised as their class; noise, colour speckle, blobs and two-colour images that are not one of
 * the generator's shapes are not.
 */
import { describe, expect, it } from 'vitest';
import { findBuiltin, generateBuiltin, shapeCoverage, type BuiltinSpec } from '../../../src/engine/data/builtin';
import { classifyShape, shapeCheck } from '../../../src/engine/data/shapeCheck';
import { Rng } from '../../../src/engine/rng';

const SHAPES = findBuiltin('builtin:shapes');

/** n images [n, size, size, 3] uint8 from a per-pixel value in [0, 1] per channel. */
function images(
  spec: BuiltinSpec,
  n: number,
  value: (i: number, x: number, y: number, c: number) => number,
): Uint8Array {
  const s = spec.size;
  const out = new Uint8Array(n * s * s * 3);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        for (let c = 0; c < 3; c++) {
          const v = Math.min(1, Math.max(0, value(i, x, y, c)));
          out[((i * s + y) * s + x) * 3 + c] = Math.round(255 * v);
        }
      }
    }
  }
  return out;
}

/** A mask painted in a bright colour over a dark one. */
function twoColour(spec: BuiltinSpec, masks: Float64Array[]): Uint8Array {
  const fg = [0.9, 0.3, 0.1];
  const bg = [0.05, 0.1, 0.2];
  return images(spec, masks.length, (i, x, y, c) => {
    const a = masks[i]![y * spec.size + x]!;
    return bg[c]! * (1 - a) + fg[c]! * a;
  });
}

describe('shape check of builtin:shapes samples', () => {
  it('recognises the training images of both built-in datasets as their own class', () => {
    for (const [id, n] of [
      ['builtin:shapes', 120],
      ['builtin:shapes32', 30],
    ] as const) {
      const spec = findBuiltin(id);
      const ds = generateBuiltin(id, { count: n, seed: 11 });
      const r = shapeCheck(ds.pixels, n, spec);
      expect(r.recognised / n, id).toBeGreaterThanOrEqual(0.95);
      expect(r.meanIou, id).toBeGreaterThan(0.9);
      const per = spec.size * spec.size * 3;
      let right = 0;
      for (let i = 0; i < n; i++) {
        const v = classifyShape(ds.pixels.subarray(i * per, (i + 1) * per), spec);
        if (v.recognised && v.kind === ds.labels![i]) right += 1;
      }
      expect(right / n, `${id}: recognised as the labelled class`).toBeGreaterThanOrEqual(0.9);
      const labelCounts = [0, 1, 2].map((k) => Array.from(ds.labels!).filter((l) => l === k).length);
      // Each class is recognised, not only the easiest one.
      for (let k = 0; k < 3; k++)
        expect(r.byClass[k], `${id} class ${k}`).toBeGreaterThanOrEqual(labelCounts[k]! * 0.9);
    }
  });

  it('recognises none of: Gaussian noise, saturated colour speckle, smooth blobs, one flat colour', () => {
    const n = 60;
    const s = SHAPES.size;
    const rng = Rng.keyed(5, 3);
    const g = rng.normal(n * s * s * 3);
    const at = (i: number, x: number, y: number, c: number) => ((i * s + y) * s + x) * 3 + c;
    const gauss = images(SHAPES, n, (i, x, y, c) => 0.5 + 0.25 * g[at(i, x, y, c)]!);
    const speckle = images(SHAPES, n, (i, x, y, c) => (g[at(i, x, y, c)]! > 0 ? 1 : 0));
    const coarse = rng.normal(n * 16 * 3);
    const blobs = images(SHAPES, n, (i, x, y, c) => 0.5 + 0.3 * coarse[((i * 4 + (y >> 2)) * 4 + (x >> 2)) * 3 + c]!);
    const flat = images(SHAPES, n, (i, _x, _y, c) => ((i * 7 + c * 3) % 10) / 10);
    for (const [name, px] of [
      ['gauss', gauss],
      ['speckle', speckle],
      ['blobs', blobs],
      ['flat', flat],
    ] as const) {
      expect(shapeCheck(px, n, SHAPES).recognised, name).toBe(0);
    }
  });

  it('recognises no two-colour image whose foreground is not one of the shapes', () => {
    const s = SHAPES.size;
    const union = (a: Float64Array, b: Float64Array) => a.map((v, i) => Math.max(v, b[i]!));
    const masks = [
      // Two shapes in one image.
      union(shapeCoverage(s, 0, 4, 4, 3, 0), shapeCoverage(s, 1, 11, 11, 3, 0.3)),
      union(shapeCoverage(s, 2, 4, 11, 3.5, 1), shapeCoverage(s, 2, 11, 4, 3.5, 0)),
      // A half-plane, a bar across the image, a ring.
      Float64Array.from({ length: s * s }, (_, p) => (p % s < 7 ? 1 : 0)),
      Float64Array.from({ length: s * s }, (_, p) => (Math.floor(p / s) >= 6 && Math.floor(p / s) < 9 ? 1 : 0)),
      shapeCoverage(s, 0, 8, 8, 6, 0).map((v, p) => v - shapeCoverage(s, 0, 8, 8, 4, 0)[p]!),
    ];
    const r = shapeCheck(twoColour(SHAPES, masks), masks.length, SHAPES);
    expect(r.recognised).toBe(0);
    // The same painting of a real shape is recognised, so the refusals above are about the mask.
    const one = twoColour(SHAPES, [shapeCoverage(s, 1, 8, 7, 5, 0.2)]);
    expect(classifyShape(one, SHAPES)).toMatchObject({ kind: 1, recognised: true });
  });
});
