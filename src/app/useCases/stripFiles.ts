/**
 * Issue 12/15: the files of a strip over training. A column is an ordinary sample grid with one column; its
 * sidecar says how it was made (layout, variance source), which is what decides whether a stored grid can serve
 * as a column, and how to read its images back. The strip PNG is composed from those columns.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { samplerParts, type RunConfig, type SamplerName, type Spacing } from '../../shared/config';
import type { RunRecord, SampleRecord } from '../../shared/records';
import { writeJsonAtomic } from '../../io/atomicFile';
import { gridScale, readGridPixels, writeGridPng, type GridOptions } from '../../engine/render/grids';
import type { VarianceUsed } from './sampleVariance';

/** The settings that decide a column's images. */
export interface ColumnSettings {
  n: number;
  sampler: SamplerName;
  steps: number;
  spacing: Spacing;
  eta: number;
  seed: number;
  ema: boolean;
}

interface Sidecar {
  grid?: { cols?: number; scale?: number; padding?: number; caption?: string | null };
  variance?: Record<string, unknown>;
}

function sidecarOf(pngPath: string): Sidecar | null {
  const path = pngPath.replace(/\.png$/i, '') + '.json';
  if (!existsSync(path) || !existsSync(pngPath)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Sidecar;
  } catch {
    return null;
  }
}

/** The sidecar's variance record names the source this strip resolved (and no clipping but the defaults). */
function sameVariance(v: Record<string, unknown> | undefined, used: VarianceUsed): boolean {
  if (!v || v.kind !== used.kind) return false;
  if (used.kind === 'none') return true;
  if ([v.clipPixel, v.clipSigmaSteps, v.clipX0].some((c) => c !== undefined && c !== null)) return false;
  return used.kind === 'gamma' ? v.key === used.key : v.checkpoint === used.path;
}

/** A stored grid of this checkpoint that is a column made with these settings and variance source. */
export function findColumn(records: SampleRecord[], s: ColumnSettings, used: VarianceUsed): SampleRecord | null {
  const ddim = samplerParts(s.sampler).family === 'ddim';
  const same = records.filter(
    (r) =>
      r.sampler === s.sampler &&
      r.sampleSteps === s.steps &&
      (r.spacing ?? 'uniform') === s.spacing &&
      (!ddim || (r.eta ?? 0) === s.eta) &&
      r.seed === s.seed &&
      r.n === s.n &&
      r.ema === s.ema,
  );
  for (const r of same.reverse()) {
    const side = sidecarOf(r.path);
    if (side?.grid?.cols === 1 && sameVariance(side.variance, used)) return r;
  }
  return null;
}

/** The n images of a column grid (uint8 NHWC), read back with the layout its sidecar records. */
export function columnPixels(path: string, n: number, cfg: RunConfig): Uint8Array {
  const side = sidecarOf(path);
  if (!side?.grid) throw new Error(`${path}: its sidecar (.json beside it) is missing or unreadable`);
  const g = side.grid;
  const opts: GridOptions = { cols: g.cols, scale: g.scale, padding: g.padding, caption: g.caption ?? undefined };
  try {
    return readGridPixels(readFileSync(path), n, cfg.imageSize, cfg.imageSize, cfg.channels, opts);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

/** Where a strip goes by default: one file per settings and choice of checkpoints, beside the run's samples. */
export function stripPath(
  run: RunRecord,
  s: ColumnSettings & { every: number; checkpoints?: number[]; gammaImages?: number; gammaSeed?: number },
): string {
  const { family, variance } = samplerParts(s.sampler);
  const eta = family === 'ddim' && s.eta !== 0 ? `-eta${s.eta}` : '';
  const gamma = variance === 'gamma' ? `-g${s.gammaImages ?? 'all'}s${s.gammaSeed ?? 0}` : '';
  const which = s.checkpoints ? `-at${s.checkpoints.join('_').slice(0, 80)}` : s.every > 1 ? `-every${s.every}` : '';
  const spacing = s.spacing === 'uniform' ? '' : `-${s.spacing}`;
  const weights = s.ema ? '-ema' : '';
  const name = `strip-${s.sampler}${s.steps}${spacing}${eta}${gamma}${weights}-seed${s.seed}-n${s.n}${which}`;
  return join(run.runDir, 'samples', `${name}.png`);
}

/**
 * Writes the strip: rows are the n noise images, columns the checkpoints (labelled with their steps), then a
 * sidecar that lists each column's step and grid. Both through temp files and a rename.
 */
export function writeStrip(
  run: RunRecord,
  s: ColumnSettings,
  columns: { step: number; sample: SampleRecord }[],
  out: string,
): { path: string; sidecar: string } {
  const cfg = run.config;
  const size = cfg.imageSize;
  const P = size * size * cfg.channels;
  const C = columns.length;
  const all = new Uint8Array(s.n * C * P);
  columns.forEach((col, j) => {
    const px = columnPixels(col.sample.path, s.n, cfg);
    for (let r = 0; r < s.n; r++) all.set(px.subarray(r * P, (r + 1) * P), (r * C + j) * P);
  });
  const weights = s.ema ? 'EMA' : 'RAW';
  const caption = `RUN ${run.id}, ${s.sampler} ${s.steps} STEPS, SEED ${s.seed}, ${weights}. COLUMNS: TRAINING STEP`;
  const colLabels = columns.map((c) => String(c.step));
  writeGridPng(out, all, s.n * C, size, size, cfg.channels, { cols: C, scale: gridScale(size), caption, colLabels });
  const sidecar = out.replace(/\.png$/i, '') + '.json';
  writeJsonAtomic(sidecar, {
    kind: 'sadpm-strip',
    runId: run.id,
    runDir: run.runDir,
    weights: s.ema ? 'ema' : 'raw',
    sampler: s.sampler,
    steps: s.steps,
    spacing: s.spacing,
    eta: s.eta,
    seed: s.seed,
    n: s.n,
    rows: `noise image i = 0..${s.n - 1}: x_T and each step's noise from (seed=${s.seed}, i) at every checkpoint`,
    columns: columns.map((c) => ({ step: c.step, grid: c.sample.path })),
  });
  return { path: out, sidecar };
}
