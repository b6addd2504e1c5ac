/**
 * Bind-group reuse (gpu/bindGroupCache.ts): a group is made once per key, objects keep their numbers and
 * never share one, and a full cache starts over.
 */
import { describe, expect, it } from 'vitest';
import { BindGroupCache } from '../../../src/engine/gpu/bindGroupCache';

describe('BindGroupCache', () => {
  it('makes a group once per key', () => {
    const cache = new BindGroupCache<string>();
    let made = 0;
    const make = () => `g${made++}`;
    expect(cache.get('a', make)).toBe('g0');
    expect(cache.get('a', make)).toBe('g0');
    expect(cache.get('b', make)).toBe('g1');
    expect([cache.hits, cache.misses]).toEqual([1, 2]);
  });

  it('gives objects stable numbers that no other object gets', () => {
    const cache = new BindGroupCache<string>();
    const objs = Array.from({ length: 50 }, () => ({}));
    const ids = objs.map((o) => cache.idOf(o));
    expect(objs.map((o) => cache.idOf(o))).toEqual(ids);
    expect(new Set(ids).size).toBe(objs.length);
  });

  it('starts over when full', () => {
    const cache = new BindGroupCache<number>(4);
    for (let i = 0; i < 5; i++) cache.get(`k${i}`, () => i);
    expect(cache.size).toBe(1);
    expect(cache.get('k4', () => -1)).toBe(4);
  });
});
