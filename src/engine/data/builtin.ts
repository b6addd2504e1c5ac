/**
 * The embedded default dataset, generated procedurally so the app can train out of the box without
 * shipping image files. Each image: a dark solid background with one filled, anti-aliased shape
 * (circle, square or triangle = class 0, 1, 2) in a saturated colour. Image i draws from its own keyed
 * stream (seed, Stream.dataset, i), so any image is reproducible on its own and a larger count only appends.
 */
import { Rng, Stream } from '../rng';
import type { PackedDataset } from './packed';
import { makeHeader } from './packed';

export interface BuiltinSpec {
  /** Full spec as used in configs: 'builtin:<name>'. */
  id: string;
  name: string;
  size: number;
  channels: 3;
  defaultCount: number;
  classNames: string[];
  description: string;
  radius: [number, number];
}

export const SHAPE_NAMES = ['circle', 'square', 'triangle'];

export const BUILTIN_DATASETS: readonly BuiltinSpec[] = [
  {
    id: 'builtin:shapes',
    name: 'shapes',
    size: 16,
    channels: 3,
    defaultCount: 4096,
    classNames: SHAPE_NAMES,
    description:
      '16x16 RGB: one anti-aliased circle, square or triangle (radius 3-6 px) in a saturated colour on a dark background; labels = shape',
    radius: [3, 6],
  },
  {
    id: 'builtin:shapes32',
    name: 'shapes32',
    size: 32,
    channels: 3,
    defaultCount: 4096,
    classNames: SHAPE_NAMES,
    description:
      '32x32 RGB: one anti-aliased circle, square or triangle (radius 6-12 px) in a saturated colour on a dark background; labels = shape',
    radius: [6, 12],
  },
];

export function findBuiltin(name: string): BuiltinSpec {
  const bare = name.startsWith('builtin:') ? name.slice('builtin:'.length) : name;
  const spec = BUILTIN_DATASETS.find((d) => d.name === bare);
  if (!spec)
    throw new Error(`unknown built-in dataset '${name}'; known: ${BUILTIN_DATASETS.map((d) => d.id).join(', ')}`);
  return spec;
}

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const f = (n: number): number => {
    const k = (n + h * 6) % 6;
    return v - v * s * Math.max(0, Math.min(k, 4 - k, 1));
  };
  return [f(5), f(3), f(1)];
}

/**
 * Signed distance-like function of a shape: negative inside. For the polygons it is the max over edge
 * half-planes, exact inside and a lower bound of the true distance outside, which is all the
 * "far from the edge, skip supersampling" test needs.
 */
type Sdf = (x: number, y: number) => number;

function polygonSdf(cx: number, cy: number, r: number, sides: number, rot: number): Sdf {
  // Edge normals point outward; the apothem (centre-to-edge distance) is r*cos(pi/sides).
  const apothem = r * Math.cos(Math.PI / sides);
  const normals: [number, number][] = [];
  for (let k = 0; k < sides; k++) {
    const a = rot + (2 * Math.PI * (k + 0.5)) / sides;
    normals.push([Math.cos(a), Math.sin(a)]);
  }
  return (x, y) => {
    let d = -Infinity;
    for (const [nx, ny] of normals) d = Math.max(d, (x - cx) * nx + (y - cy) * ny - apothem);
    return d;
  };
}

const SUPERSAMPLE = 4;

/** Shape classes of the built-in datasets, in label order. */
export type ShapeKind = 0 | 1 | 2;

/**
 * Fraction of each pixel of a size×size image covered by a shape of class `kind` (circle, square,
 * triangle) centred at (cx, cy) with radius r and rotation `rot`, anti-aliased by 4×4 supersampling
 * near its edge. r is the circle's radius; the square (half-side 0.85r) and triangle (circumradius
 * 1.25r) are scaled towards similar areas so colour mass alone does not give the class away.
 */
export function shapeCoverage(
  size: number,
  kind: ShapeKind,
  cx: number,
  cy: number,
  r: number,
  rot: number,
): Float64Array {
  const sdf: Sdf =
    kind === 0
      ? (x, y) => Math.hypot(x - cx, y - cy) - r
      : kind === 1
        ? polygonSdf(cx, cy, r * 0.85 * Math.SQRT2, 4, rot)
        : polygonSdf(cx, cy, r * 1.25, 3, rot);
  const step = 1 / SUPERSAMPLE;
  const out = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = sdf(x + 0.5, y + 0.5);
      let cover: number;
      if (d <= -0.75) cover = 1;
      else if (d >= 0.75) cover = 0;
      else {
        let inside = 0;
        for (let sy = 0; sy < SUPERSAMPLE; sy++) {
          for (let sx = 0; sx < SUPERSAMPLE; sx++)
            if (sdf(x + (sx + 0.5) * step, y + (sy + 0.5) * step) <= 0) inside += 1;
        }
        cover = inside / (SUPERSAMPLE * SUPERSAMPLE);
      }
      out[y * size + x] = cover;
    }
  }
  return out;
}

function drawImage(spec: BuiltinSpec, rng: Rng, out: Uint8Array, offset: number): number {
  const size = spec.size;
  const kind = rng.int(3) as ShapeKind;
  const [rMin, rMax] = spec.radius;
  const r = rMin + (rMax - rMin) * rng.uniform();
  // Centre chosen so at least most of the shape stays inside the frame.
  const margin = Math.min(r, size / 2);
  const cx = margin + (size - 2 * margin) * rng.uniform();
  const cy = margin + (size - 2 * margin) * rng.uniform();
  const rot = 2 * Math.PI * rng.uniform();
  const fg = hsvToRgb(rng.uniform(), 0.75 + 0.25 * rng.uniform(), 0.8 + 0.2 * rng.uniform());
  const bg = hsvToRgb(rng.uniform(), 0.3 + 0.5 * rng.uniform(), 0.05 + 0.2 * rng.uniform());
  const coverage = shapeCoverage(size, kind, cx, cy, r, rot);
  for (let p = 0; p < size * size; p++) {
    const cover = coverage[p]!;
    const o = offset + p * 3;
    for (let c = 0; c < 3; c++) out[o + c] = Math.round(255 * (bg[c]! * (1 - cover) + fg[c]! * cover));
  }
  return kind;
}

export interface BuiltinOptions {
  count?: number;
  seed?: number;
}

export function generateBuiltin(name: string, opts: BuiltinOptions = {}): PackedDataset {
  const spec = findBuiltin(name);
  const count = opts.count ?? spec.defaultCount;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`${spec.id}: count must be a positive integer, got ${count}`);
  if (!Number.isInteger(seed) || seed < 0)
    throw new Error(`${spec.id}: seed must be a non-negative integer, got ${seed}`);
  const per = spec.size * spec.size * spec.channels;
  const pixels = new Uint8Array(count * per);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = drawImage(spec, Rng.keyed(seed, Stream.dataset, i), pixels, i * per);
  const info = makeHeader(
    {
      pixels,
      labels,
      count,
      height: spec.size,
      width: spec.size,
      channels: spec.channels,
      classNames: spec.classNames.slice(),
    },
    { name: spec.name, source: spec.id, format: 'builtin' },
  );
  return { info, pixels, labels };
}
