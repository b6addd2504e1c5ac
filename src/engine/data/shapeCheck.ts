/**
 * Does a generated image show one of the built-in dataset's shapes? A template classifier for
 * `builtin:shapes` samples, so the demo can say whether its model learned the data rather than leave
 * the judgement to the eye.
 *
 * Each image is split into two colours (2-means, the background being the colour of most border
 * pixels), which gives a soft foreground mask (the position of each pixel between the two colours).
 * Each class's template (the generator's own renderer, builtin.ts shapeCoverage) is fitted to the
 * mask: centre and size from the mask's centroid and area, then rotation and a local refinement
 * within the generator's ranges (radius, centre inside the frame), and scored by soft intersection
 * over union. An image is recognised when its best template overlaps by
 * at least IOU_MIN and the two colours explain its pixels to within RESIDUAL_MAX; the training images
 * pass, and noise, whose 2-means split is speckle, does not (test/unit/data/shapeCheck.test.ts).
 */
import { SHAPE_NAMES, shapeCoverage, type BuiltinSpec, type ShapeKind } from './builtin';

/** Least soft IoU between an image's mask and its best template. */
export const IOU_MIN = 0.85;
/** Largest mean distance (RGB in [0, 1]) between a pixel and the two-colour model of the image. */
export const RESIDUAL_MAX = 0.12;

/**
 * Least fraction of recognised samples for a model to count as having learned the shapes: noise and
 * an untrained model score 0, the training images ~100%; half leaves room for a small model's misses.
 */
export const LEARNED_MIN = 0.5;

/** Whether a check's samples say the model learned the dataset (LEARNED_MIN). */
export function learnedShapes(r: Pick<ShapeCheckResult, 'n' | 'recognised'>): boolean {
  return r.n > 0 && r.recognised / r.n >= LEARNED_MIN;
}

export interface ShapeVerdict {
  /** The best-fitting class. */
  kind: ShapeKind;
  /** Soft IoU of the mask with that class's best template, 0 when there is no foreground. */
  iou: number;
  /** Mean distance of a pixel from the two-colour model (0 = exactly two colours blended). */
  residual: number;
  recognised: boolean;
}

export interface ShapeCheckResult {
  n: number;
  recognised: number;
  /** Recognised images per class, in SHAPE_NAMES order. */
  byClass: number[];
  meanIou: number;
}

type Rgb = [number, number, number];

const dist2 = (a: Rgb, b: Rgb) => (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2;

/** Two colours by 2-means (background first) and each pixel's position between them in [0, 1]. */
function twoColours(px: Rgb[], size: number): { bg: Rgb; fg: Rgb; alpha: Float64Array; residual: number } | null {
  const border = (i: number) => {
    const x = i % size;
    const y = Math.floor(i / size);
    return x === 0 || y === 0 || x === size - 1 || y === size - 1;
  };
  const mean = (pick: (i: number) => boolean): Rgb | null => {
    const m: Rgb = [0, 0, 0];
    let n = 0;
    px.forEach((p, i) => {
      if (!pick(i)) return;
      m[0] += p[0];
      m[1] += p[1];
      m[2] += p[2];
      n += 1;
    });
    return n ? [m[0] / n, m[1] / n, m[2] / n] : null;
  };
  let a = mean(border)!;
  let b = px.reduce((best, p) => (dist2(p, a) > dist2(best, a) ? p : best), px[0]!);
  let inB = px.map(() => false);
  for (let it = 0; it < 10; it++) {
    inB = px.map((p) => dist2(p, b) < dist2(p, a));
    const na = mean((i) => !inB[i]);
    const nb = mean((i) => inB[i]!);
    if (!na || !nb) return null;
    [a, b] = [na, nb];
  }
  // The background holds most of the border.
  let borderB = 0;
  let borderAll = 0;
  px.forEach((_, i) => {
    if (!border(i)) return;
    borderAll += 1;
    if (inB[i]) borderB += 1;
  });
  if (borderB * 2 > borderAll) [a, b] = [b, a];
  const d: Rgb = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
  const len2 = dist2(a, b);
  if (len2 < 1e-6) return null;
  const alpha = new Float64Array(px.length);
  let residual = 0;
  px.forEach((p, i) => {
    const t = ((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1] + (p[2] - a[2]) * d[2]) / len2;
    const c = Math.min(1, Math.max(0, t));
    alpha[i] = c;
    residual += Math.sqrt(dist2(p, [a[0] + c * d[0], a[1] + c * d[1], a[2] + c * d[2]]));
  });
  return { bg: a, fg: b, alpha, residual: residual / px.length };
}

function softIou(mask: Float64Array, t: Float64Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < mask.length; i++) {
    inter += Math.min(mask[i]!, t[i]!);
    union += Math.max(mask[i]!, t[i]!);
  }
  return union > 0 ? inter / union : 0;
}

/** Area of each class's shape per unit r² (builtin.ts: circle radius r, square and triangle scaled). */
const AREA_PER_R2 = [Math.PI, 2 * (0.85 * Math.SQRT2) ** 2, ((3 * Math.sqrt(3)) / 4) * 1.25 ** 2];
/** Rotations that give distinct shapes: none for the circle, 90° for the square, 120° for the triangle. */
const PERIOD = [0, Math.PI / 2, (2 * Math.PI) / 3];
const ANGLES = 24;

interface Fit {
  cx: number;
  cy: number;
  r: number;
  rot: number;
  iou: number;
}

/** The dataset's shape parameters: image size and radius range. */
type Frame = Pick<BuiltinSpec, 'size' | 'radius'>;

/**
 * The best template of one class: rotation by grid search, then centre and radius by local search,
 * kept to the generator's radius range and to centres inside the frame (a half-plane is not a huge
 * triangle whose corners lie outside the image).
 */
function fitKind(mask: Float64Array, frame: Frame, kind: ShapeKind, cx: number, cy: number, area: number): Fit {
  const { size } = frame;
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
  const score = (f: Omit<Fit, 'iou'>) => {
    const r = clamp(f.r, frame.radius[0], frame.radius[1]);
    return softIou(mask, shapeCoverage(size, kind, clamp(f.cx, 0, size), clamp(f.cy, 0, size), r, f.rot));
  };
  const r = clamp(Math.sqrt(area / AREA_PER_R2[kind]!), frame.radius[0], frame.radius[1]);
  let best: Fit = { cx, cy, r, rot: 0, iou: score({ cx, cy, r, rot: 0 }) };
  if (kind !== 0) {
    for (let k = 1; k < ANGLES; k++) {
      const rot = (PERIOD[kind]! * k) / ANGLES;
      const iou = score({ cx, cy, r, rot });
      if (iou > best.iou) best = { cx, cy, r, rot, iou };
    }
  }
  for (const stepPx of [0.5, 0.25]) {
    for (let round = 0; round < 3; round++) {
      let improved = false;
      const moves: Partial<Fit>[] = [
        { cx: best.cx + stepPx },
        { cx: best.cx - stepPx },
        { cy: best.cy + stepPx },
        { cy: best.cy - stepPx },
        { r: best.r * (1 + stepPx / 5) },
        { r: best.r * (1 - stepPx / 5) },
        { rot: best.rot + (stepPx * PERIOD[kind]!) / ANGLES },
        { rot: best.rot - (stepPx * PERIOD[kind]!) / ANGLES },
      ];
      for (const m of kind === 0 ? moves.slice(0, 6) : moves) {
        const f = { ...best, ...m };
        const iou = score(f);
        if (iou > best.iou) {
          best = { ...f, iou };
          improved = true;
        }
      }
      if (!improved) break;
    }
  }
  return best;
}

/** The verdict on one RGB image of the dataset `frame` describes (values 0..255, HWC). */
export function classifyShape(image: ArrayLike<number>, frame: Frame): ShapeVerdict {
  const { size } = frame;
  const px: Rgb[] = [];
  for (let i = 0; i < size * size; i++) {
    px.push([image[3 * i]! / 255, image[3 * i + 1]! / 255, image[3 * i + 2]! / 255]);
  }
  const split = twoColours(px, size);
  if (!split) return { kind: 0, iou: 0, residual: 1, recognised: false };
  const { alpha, residual } = split;
  let area = 0;
  let sx = 0;
  let sy = 0;
  alpha.forEach((a, i) => {
    area += a;
    sx += a * ((i % size) + 0.5);
    sy += a * (Math.floor(i / size) + 0.5);
  });
  if (area < 4) return { kind: 0, iou: 0, residual, recognised: false };
  let best: { kind: ShapeKind; iou: number } = { kind: 0, iou: -1 };
  for (const kind of [0, 1, 2] as ShapeKind[]) {
    const f = fitKind(alpha, frame, kind, sx / area, sy / area, area);
    if (f.iou > best.iou) best = { kind, iou: f.iou };
  }
  return { ...best, residual, recognised: best.iou >= IOU_MIN && residual <= RESIDUAL_MAX };
}

/** The check over n images packed as [n, size, size, 3] uint8. */
export function shapeCheck(pixels: ArrayLike<number>, n: number, frame: Frame): ShapeCheckResult {
  const per = frame.size * frame.size * 3;
  const byClass = SHAPE_NAMES.map(() => 0);
  let recognised = 0;
  let iouSum = 0;
  for (let i = 0; i < n; i++) {
    const v = classifyShape(Array.prototype.slice.call(pixels, i * per, (i + 1) * per) as number[], frame);
    iouSum += v.iou;
    if (v.recognised) {
      recognised += 1;
      byClass[v.kind]! += 1;
    }
  }
  return { n, recognised, byClass, meanIou: n ? iouSum / n : 0 };
}
