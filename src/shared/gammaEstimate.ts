/**
 * Analytic-DPM's Γ estimate as plain data (issue 13): what the engine computes (samplers/analytic.ts), the store
 * caches (store.gammas) and the app looks up. Pure: no tensors, so the app can match cached estimates without
 * loading the engine.
 */
import { z } from 'zod';

export const GammaEstimateSchema = z.object({
  kind: z.literal('sadpm-gamma'),
  version: z.literal(1),
  key: z.string().min(1),
  /** The checkpoint whose network was measured, and which of its weights. */
  checkpointStep: z.number().int().nonnegative(),
  ema: z.boolean(),
  T: z.number().int().min(2),
  /** Increasing 0-based network indices. */
  trajectory: z.array(z.number().int().nonnegative()).min(1),
  /** Γ at each trajectory index. */
  gamma: z.array(z.number().nonnegative()),
  nImages: z.number().int().positive(),
  seed: z.number().int().nonnegative(),
});
export type GammaEstimate = z.infer<typeof GammaEstimateSchema>;

export interface GammaKeyParts {
  checkpointStep: number;
  ema: boolean;
  T: number;
  trajectory: readonly number[];
  nImages: number;
  seed: number;
}

/** FNV-1a over the indices: a short, stable name for a trajectory. */
function trajectoryHash(trajectory: readonly number[]): string {
  let h = 0x811c9dc5;
  for (const j of trajectory) {
    for (const b of [j & 0xff, (j >>> 8) & 0xff, (j >>> 16) & 0xff, (j >>> 24) & 0xff]) {
      h ^= b;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h.toString(16).padStart(8, '0');
}

/** The cache key of an estimate: the same parts give the same Γ (and the same string) in any process. */
export function gammaKey(p: GammaKeyParts): string {
  const traj = `${p.trajectory.length}x${trajectoryHash(p.trajectory)}`;
  return `gamma-v1:step${p.checkpointStep}:${p.ema ? 'ema' : 'raw'}:T${p.T}:n${p.nImages}:seed${p.seed}:traj${traj}`;
}

/** Why a trajectory is not increasing indices in 0..T-1, or null. */
export function checkTrajectory(trajectory: readonly number[], T: number): string | null {
  for (let m = 0; m < trajectory.length; m++) {
    const j = trajectory[m]!;
    if (!Number.isInteger(j) || j < 0 || j >= T) return `index ${j} outside 0..${T - 1}`;
    if (m > 0 && j <= trajectory[m - 1]!) return `indices must increase (${trajectory[m - 1]} then ${j})`;
  }
  return trajectory.length === 0 ? 'empty trajectory' : null;
}

/** Validates stored JSON (a cache row or file): names `where` and the field on failure. */
export function parseGammaEstimate(raw: unknown, where: string): GammaEstimate {
  const r = GammaEstimateSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`${where}: not a Γ estimate (field '${i.path.join('.')}': ${i.message})`);
  }
  const e = r.data;
  const [ng, nt] = [e.gamma.length, e.trajectory.length];
  const lengths = ng !== nt ? `${ng} Γ values for ${nt} indices` : null;
  const problem = checkTrajectory(e.trajectory, e.T) ?? lengths;
  if (problem) throw new Error(`${where}: bad Γ estimate (${problem})`);
  if (e.key !== gammaKey(e)) {
    throw new Error(`${where}: Γ estimate key '${e.key}' does not match its contents (expected '${gammaKey(e)}')`);
  }
  return e;
}

/** What identifies the Γ values of an estimate at each index (everything in the key but the trajectory). */
export interface GammaSource {
  checkpointStep: number;
  ema: boolean;
  T: number;
  nImages: number;
  seed: number;
}

/**
 * Whether `e` holds Γ for every index of `trajectory` from the same source. Γ_j depends on the weights, the
 * images, the seed and j only (analytic.ts), so an estimate over a longer trajectory serves a shorter one.
 */
export function gammaCovers(e: GammaEstimate, src: GammaSource, trajectory: readonly number[]): boolean {
  if (e.checkpointStep !== src.checkpointStep || e.ema !== src.ema || e.T !== src.T) return false;
  if (e.nImages !== src.nImages || e.seed !== src.seed) return false;
  const have = new Set(e.trajectory);
  return trajectory.every((j) => have.has(j));
}
