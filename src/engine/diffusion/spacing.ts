/**
 * Timestep sub-sequences for sampling with fewer steps than the T of training.
 *
 * All results are 0-based network indices j (paper t = j + 1) in increasing order; the samplers walk
 * them from the last (largest) to the first, then to the virtual index -1 (alphaBar(-1) = 1).
 *
 * - 'uniform' (official DDIM / SA-DPM `skip_type == "uniform"`): skip = T // S, seq = range(0, T, skip).
 *   This follows the official code exactly, including its quirk: when T % S != 0 the sequence can hold
 *   MORE than S entries (T = 1000, S = 3 gives skip 333 and [0, 333, 666, 999], four steps). It starts at
 *   0 and its largest index is not T - 1 in general (900 for T = 1000, S = 10).
 * - 'quad' (official `skip_type == "quad"`): int(linspace(0, sqrt(0.8 T), S) ** 2). The official code keeps
 *   duplicates (possible when S is large relative to T); here they are removed, so the sequence can hold
 *   fewer than S entries.
 * - 'trailing' (not in the official code; the "trailing" spacing of later work): round(arange(T, 0, -T/S)) - 1,
 *   sorted increasing. It always includes T - 1 and has exactly S distinct entries. numpy's float arange
 *   (a[i] = T + i * (a[1] - a[0])) and its round-half-to-even are reproduced bit for bit. One numpy quirk
 *   is not: when ceil(T / (T/S)) rounds up to S + 1, numpy emits an extra entry ~1e-14 that becomes index
 *   -1 (e.g. T = 50, S = 29); it is dropped here, so the result has exactly S valid indices.
 */

export type Spacing = 'uniform' | 'quad' | 'trailing';

export const SPACING_KINDS: readonly Spacing[] = ['uniform', 'quad', 'trailing'];

/** Python's round() / numpy.round(): ties go to the even neighbour. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Sorted, de-duplicated copy. */
function uniqueSorted(xs: number[]): number[] {
  const out = Array.from(new Set(xs)).sort((a, b) => a - b);
  return out;
}

/**
 * The sub-sequence of 0-based indices (increasing) used by a sampler with S steps over a T-step schedule.
 * Throws on non-integer T or S, on S < 1 or S > T, and on an unknown spacing.
 */
export function timestepSequence(T: number, S: number, spacing: Spacing): number[] {
  if (!Number.isInteger(T) || T < 1) throw new Error(`timestepSequence: T must be an integer >= 1, got ${T}`);
  if (!Number.isInteger(S)) throw new Error(`timestepSequence: steps must be an integer, got ${S}`);
  if (S < 1 || S > T) throw new Error(`timestepSequence: steps must satisfy 1 <= steps <= T (= ${T}), got ${S}`);
  switch (spacing) {
    case 'uniform': {
      // skip = T // S; range(0, T, skip)
      const skip = Math.floor(T / S);
      const seq: number[] = [];
      for (let j = 0; j < T; j += skip) seq.push(j);
      return seq;
    }
    case 'quad': {
      // numpy.linspace(0, sqrt(T * 0.8), S): y_i = i * (stop / (S - 1)), last entry set to stop exactly.
      const stop = Math.sqrt(T * 0.8);
      const seq: number[] = [];
      if (S === 1) return [0];
      const step = stop / (S - 1);
      for (let i = 0; i < S; i++) {
        const y = i === S - 1 ? stop : i * step;
        // y ** 2 in numpy is y * y; astype(int) truncates toward zero (all values are >= 0).
        seq.push(Math.trunc(y * y));
      }
      return uniqueSorted(seq);
    }
    case 'trailing': {
      // numpy.arange(T, 0, -T/S) fills a[0] = T, a[1] = T + step, then a[i] = T + i * (a[1] - a[0]).
      const a1 = T - T / S;
      const delta = a1 - T;
      const seq: number[] = [];
      for (let i = 0; i < S; i++) seq.push(roundHalfEven(i === 0 ? T : i === 1 ? a1 : T + i * delta) - 1);
      return uniqueSorted(seq.filter((j) => j >= 0 && j < T));
    }
    default:
      throw new Error(`timestepSequence: unknown spacing '${String(spacing)}' (expected uniform, quad or trailing)`);
  }
}
