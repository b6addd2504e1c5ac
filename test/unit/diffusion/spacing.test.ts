import { describe, expect, it } from 'vitest';
import { timestepSequence } from '../../../src/engine/diffusion/spacing';

/** numpy-equivalent quad: (np.linspace(0, sqrt(T*0.8), S) ** 2).astype(int), de-duplicated. */
function quadByHand(T: number, S: number): number[] {
  const stop = Math.sqrt(T * 0.8);
  const out: number[] = [];
  for (let i = 0; i < S; i++) {
    const y = S === 1 ? 0 : i === S - 1 ? stop : i * (stop / (S - 1));
    out.push(Math.trunc(y * y));
  }
  return [...new Set(out)];
}

describe('timestepSequence: uniform (official range(0, T, T // S))', () => {
  it('T = 1000, S = 10 → 0, 100, ..., 900', () => {
    expect(timestepSequence(1000, 10, 'uniform')).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  });
  it('T = 1000, S = 1000 is every index', () => {
    expect(timestepSequence(1000, 1000, 'uniform')).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
  it('follows the official quirk: more than S entries when T % S != 0', () => {
    expect(timestepSequence(1000, 3, 'uniform')).toEqual([0, 333, 666, 999]);
    expect(timestepSequence(100, 7, 'uniform')).toEqual([0, 14, 28, 42, 56, 70, 84, 98]);
    expect(timestepSequence(1000, 7, 'uniform')).toEqual([0, 142, 284, 426, 568, 710, 852, 994]);
  });
  it('S = 1 is [0]', () => {
    expect(timestepSequence(50, 1, 'uniform')).toEqual([0]);
  });
});

describe('timestepSequence: quad (official int(linspace(0, sqrt(0.8 T), S)^2), duplicates removed)', () => {
  it('T = 1000, S = 10 (values from numpy)', () => {
    const expected = [0, 9, 39, 88, 158, 246, 355, 483, 632, 800];
    expect(timestepSequence(1000, 10, 'quad')).toEqual(expected);
    expect(quadByHand(1000, 10)).toEqual(expected);
  });
  it('T = 1000, S = 50 matches the hand formula (and numpy)', () => {
    const got = timestepSequence(1000, 50, 'quad');
    expect(got).toEqual(quadByHand(1000, 50));
    expect(got.slice(0, 10)).toEqual([0, 1, 2, 5, 8, 11, 16, 21, 26, 33]);
    expect(got.at(-1)).toBe(800);
    expect(got).toHaveLength(49); // numpy gives 0, 0, 1, ...: one duplicate removed
  });
  it('removes duplicates at small T (T = 20, S = 10)', () => {
    expect(timestepSequence(20, 10, 'quad')).toEqual([0, 1, 3, 4, 7, 9, 12, 16]);
  });
  it('other sizes from numpy', () => {
    expect(timestepSequence(100, 7, 'quad')).toEqual([0, 2, 8, 20, 35, 55, 80]);
    expect(timestepSequence(1000, 3, 'quad')).toEqual([0, 200, 800]);
    expect(timestepSequence(1000, 1, 'quad')).toEqual([0]);
  });
});

describe('timestepSequence: trailing (round(arange(T, 0, -T/S)) - 1, increasing)', () => {
  it('T = 1000, S = 10 includes T - 1', () => {
    expect(timestepSequence(1000, 10, 'trailing')).toEqual([99, 199, 299, 399, 499, 599, 699, 799, 899, 999]);
  });
  it('other sizes from numpy (round half to even)', () => {
    expect(timestepSequence(1000, 3, 'trailing')).toEqual([332, 666, 999]);
    expect(timestepSequence(100, 7, 'trailing')).toEqual([13, 28, 42, 56, 70, 85, 99]);
    expect(timestepSequence(1000, 7, 'trailing')).toEqual([142, 285, 428, 570, 713, 856, 999]);
    expect(timestepSequence(50, 6, 'trailing')).toEqual([7, 16, 24, 32, 41, 49]);
    expect(timestepSequence(20, 20, 'trailing')).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
  it('drops the -1 that numpy float arange can emit (T = 50, S = 29): exactly S valid indices', () => {
    const s = timestepSequence(50, 29, 'trailing');
    expect(s).toHaveLength(29);
    expect(s[0]).toBe(1);
    expect(s.at(-1)).toBe(49);
  });
  it('always S strictly increasing entries ending at T - 1', () => {
    for (const T of [10, 37, 100, 1000]) {
      for (let S = 1; S <= T; S += Math.max(1, Math.floor(T / 23))) {
        const s = timestepSequence(T, S, 'trailing');
        expect(s).toHaveLength(S);
        expect(s.at(-1)).toBe(T - 1);
        for (let i = 1; i < s.length; i++) expect(s[i]!).toBeGreaterThan(s[i - 1]!);
        expect(s[0]!).toBeGreaterThanOrEqual(0);
      }
    }
  });
});

describe('timestepSequence: validation', () => {
  it('rejects S outside 1..T and non-integers', () => {
    expect(() => timestepSequence(100, 0, 'uniform')).toThrow(/1 <= steps <= T/);
    expect(() => timestepSequence(100, 101, 'quad')).toThrow(/1 <= steps <= T \(= 100\)/);
    expect(() => timestepSequence(100, 2.5, 'uniform')).toThrow(/integer/);
    expect(() => timestepSequence(0, 1, 'uniform')).toThrow(/T must be/);
  });
  it('rejects an unknown spacing', () => {
    expect(() => timestepSequence(100, 10, 'cosine' as never)).toThrow(/unknown spacing 'cosine'/);
  });
});
