/**
 * The matrices of Winograd's minimal filtering F(4×4, 3×3) with interpolation points 0, ±1, ±2, ∞
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016), for a correlation as CNNs
 * compute it: a 4×4 block of outputs Y from the 6×6 input patch d and the 3×3 filter g,
 *
 *   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
 *
 * and code generation of their products with WGSL expressions, zeros dropped and ±1 not multiplied.
 * Entries are kept as fractions so that WGSL folds 1/6 and 1/24 at full precision.
 */

/** A rational matrix entry: [numerator, denominator]. */
export type Fraction = readonly [number, number];

const f = (n: number, d = 1): Fraction => [n, d];

/** Bᵀ, 6×6: the input transform. */
export const BT: Fraction[][] = [
  [f(4), f(0), f(-5), f(0), f(1), f(0)],
  [f(0), f(-4), f(-4), f(1), f(1), f(0)],
  [f(0), f(4), f(-4), f(-1), f(1), f(0)],
  [f(0), f(-2), f(-1), f(2), f(1), f(0)],
  [f(0), f(2), f(-1), f(-2), f(1), f(0)],
  [f(0), f(4), f(0), f(-5), f(0), f(1)],
];

/** G, 6×3: the filter transform. */
export const G: Fraction[][] = [
  [f(1, 4), f(0), f(0)],
  [f(-1, 6), f(-1, 6), f(-1, 6)],
  [f(-1, 6), f(1, 6), f(-1, 6)],
  [f(1, 24), f(1, 12), f(1, 6)],
  [f(1, 24), f(-1, 12), f(1, 6)],
  [f(0), f(0), f(1)],
];

/** Aᵀ, 4×6: the output transform. */
export const AT: Fraction[][] = [
  [f(1), f(1), f(1), f(1), f(1), f(0)],
  [f(0), f(1), f(-1), f(2), f(-2), f(0)],
  [f(0), f(1), f(1), f(4), f(4), f(0)],
  [f(0), f(1), f(-1), f(8), f(-8), f(1)],
];

/** Transposed: A (6×4) and Gᵀ (3×6), for the filter gradient dg = Gᵀ[(A dy Aᵀ) ⊙ (Bᵀ d B)]G. */
export const transpose = (m: Fraction[][]): Fraction[][] => m[0]!.map((_, j) => m.map((row) => row[j]!));
export const A = transpose(AT);
export const GT = transpose(G);

export const value = ([n, d]: Fraction): number => n / d;

/** WGSL for Σ coeffs[i]·terms[i] (terms are same-typed expressions); "0" times `zero` when all are 0. */
export function combine(coeffs: readonly Fraction[], terms: readonly string[], zero: string): string {
  const parts: string[] = [];
  coeffs.forEach(([n, d], i) => {
    if (n === 0) return;
    const sign = n < 0 ? '-' : '+';
    const mag = Math.abs(n);
    const scale = d === 1 ? (mag === 1 ? '' : `${mag}.0 * `) : `(${mag}.0 / ${d}.0) * `;
    parts.push(`${sign} ${scale}${terms[i]}`);
  });
  if (!parts.length) return zero;
  const text = parts.join(' ');
  return text.startsWith('+ ') ? text.slice(2) : text;
}

/**
 * WGSL `let` lines for out = L · X · Rᵀ, X an r×c grid of named expressions (x(i, j)): out(i, j) is
 * declared as `${name}${i}_${j}`. L is p×r and R is q×c.
 */
export function sandwich(
  name: string,
  L: readonly Fraction[][],
  R: readonly Fraction[][],
  x: (i: number, j: number) => string,
  zero: string,
): string[] {
  const rows = L[0]!.length;
  const cols = R[0]!.length;
  const lines: string[] = [];
  // First L · X, column by column of X, then (L X) · Rᵀ.
  for (let i = 0; i < L.length; i++)
    for (let j = 0; j < cols; j++) {
      const terms = Array.from({ length: rows }, (_, k) => x(k, j));
      lines.push(`let ${name}t${i}_${j} = ${combine(L[i]!, terms, zero)};`);
    }
  for (let i = 0; i < L.length; i++)
    for (let j = 0; j < R.length; j++) {
      const terms = Array.from({ length: cols }, (_, k) => `${name}t${i}_${k}`);
      lines.push(`let ${name}${i}_${j} = ${combine(R[j]!, terms, zero)};`);
    }
  return lines;
}

/** L · X · Rᵀ in float64, for checking the matrices (X as rows). */
export function sandwichNumbers(L: readonly Fraction[][], R: readonly Fraction[][], X: number[][]): number[][] {
  const lx = L.map((row) => X[0]!.map((_, j) => row.reduce((s, c, k) => s + value(c) * X[k]![j]!, 0)));
  return lx.map((row) => R.map((rrow) => rrow.reduce((s, c, k) => s + value(c) * row[k]!, 0)));
}
