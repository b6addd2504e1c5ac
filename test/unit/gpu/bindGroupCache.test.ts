/**
 * Bind-group reuse (gpu/bindGroupCache.ts): a group is made once per key, and destroying any buffer
 * the cache has bound empties it, also when the buffer got its number earlier through idOf (the pool
 * numbers free buffers before they are ever bound).
 */
import { describe, expect, it } from 'vitest';
import { BindGroupCache } from '../../../src/engine/gpu/bindGroupCache';

class FakeBuffer {
  destroyed = 0;
  destroy(): void {
    this.destroyed++;
  }
}

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

  it('gives objects stable distinct numbers', () => {
    const cache = new BindGroupCache<string>();
    const a = {};
    const b = {};
    expect(cache.idOf(a)).toBe(cache.idOf(a));
    expect(cache.idOf(a)).not.toBe(cache.idOf(b));
  });

  it('empties itself when a bound buffer is destroyed, and still destroys it', () => {
    const cache = new BindGroupCache<string>();
    const buf = new FakeBuffer();
    cache.get(`p|${cache.bufferId(buf)}`, () => 'g');
    expect(cache.size).toBe(1);
    buf.destroy();
    expect(buf.destroyed).toBe(1);
    expect(cache.size).toBe(0);
    expect(cache.clears).toBe(1);
  });

  it('watches a buffer numbered by idOf before it was bound', () => {
    const cache = new BindGroupCache<string>();
    const buf = new FakeBuffer();
    const id = cache.idOf(buf);
    expect(cache.bufferId(buf)).toBe(id);
    cache.get(`p|${id}`, () => 'g');
    buf.destroy();
    expect(cache.size).toBe(0);
  });

  it('wraps destroy once however often a buffer is bound', () => {
    const cache = new BindGroupCache<string>();
    const buf = new FakeBuffer();
    for (let i = 0; i < 5; i++) cache.bufferId(buf);
    buf.destroy();
    expect(buf.destroyed).toBe(1);
  });

  it('keeps its groups when a buffer it never bound is destroyed', () => {
    const cache = new BindGroupCache<string>();
    const bound = new FakeBuffer();
    const other = new FakeBuffer();
    cache.idOf(other);
    cache.get(`p|${cache.bufferId(bound)}`, () => 'g');
    other.destroy();
    expect(cache.size).toBe(1);
  });

  it('starts over when full', () => {
    const cache = new BindGroupCache<number>(4);
    for (let i = 0; i < 5; i++) cache.get(`k${i}`, () => i);
    expect(cache.size).toBe(1);
    expect(cache.get('k4', () => -1)).toBe(4);
  });
});
