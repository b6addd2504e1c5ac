/**
 * The packing of uniform blocks between submits (gpu/uniformArena.ts): within one submit no two
 * blocks share a byte, each starts at the device's offset alignment and lies inside its chunk, a new
 * block reads as zeros, and the flush hands over every chunk that holds a block, each once.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { UniformArena, type ArenaChunk } from '../../../src/engine/gpu/uniformArena';

type Op = { kind: 'alloc'; words: number } | { kind: 'flush' };

const ops = fc.array(
  fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min: 1, max: 300 }).map((words) => ({ kind: 'alloc' as const, words })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
  ),
  { maxLength: 200 },
);

describe('UniformArena', () => {
  it('never overlaps blocks within a submit, keeps them aligned and inside their chunk, zeroed', () => {
    fc.assert(
      fc.property(ops, fc.constantFrom(4, 16, 256), fc.constantFrom(256, 1024, 4096), (seq: Op[], align, chunk) => {
        let made = 0;
        const arena = new UniformArena<number>(align, chunk, () => made++);
        let live: { buffer: number; from: number; to: number }[] = [];
        const flushed: { buffer: number; used: number }[] = [];
        for (const op of seq) {
          if (op.kind === 'flush') {
            flushed.length = 0;
            arena.flush((c: ArenaChunk<number>, used) => flushed.push({ buffer: c.buffer, used }));
            // Every block of the submit is in a chunk handed over, within the prefix written.
            for (const b of live) {
              const f = flushed.find((x) => x.buffer === b.buffer);
              expect(f, `chunk ${b.buffer} holds a block but was not flushed`).toBeDefined();
              expect(b.to).toBeLessThanOrEqual(f!.used);
            }
            expect(new Set(flushed.map((f) => f.buffer)).size).toBe(flushed.length);
            expect(arena.pendingBytes()).toBe(0);
            live = [];
            continue;
          }
          const size = op.words * 4;
          const { chunk: c, offset } = arena.alloc(size);
          expect(offset % align).toBe(0);
          expect(offset + size).toBeLessThanOrEqual(c.size);
          expect(c.bytes.subarray(offset, offset + size).every((v) => v === 0)).toBe(true);
          for (const b of live) {
            if (b.buffer !== c.buffer) continue;
            const disjoint = offset + size <= b.from || b.to <= offset;
            expect(disjoint, `[${offset}, ${offset + size}) overlaps [${b.from}, ${b.to}) in one submit`).toBe(true);
          }
          // Dirty the block, as a dispatch's values would, so that reuse after a flush must zero it.
          c.bytes.fill(0xab, offset, offset + size);
          live.push({ buffer: c.buffer, from: offset, to: offset + size });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reuses its chunks after a flush instead of making new ones', () => {
    let made = 0;
    const arena = new UniformArena<number>(256, 1024, () => made++);
    for (let submit = 0; submit < 5; submit++) {
      for (let i = 0; i < 10; i++) arena.alloc(48);
      arena.flush(() => {});
    }
    // 4 blocks of 256 per 1 KiB chunk: 3 chunks for 10 blocks, the same 3 every submit.
    expect(made).toBe(3);
    expect(arena.chunks.length).toBe(3);
  });

  it('gives a block larger than a chunk a chunk of its own', () => {
    const arena = new UniformArena<number>(256, 1024, (n) => n);
    arena.alloc(48);
    const big = arena.alloc(3000);
    expect(big.chunk.size).toBeGreaterThanOrEqual(3000);
    expect(big.offset).toBe(0);
  });

  it('rejects an alignment that is not a power of two', () => {
    expect(() => new UniformArena<number>(24, 1024, (n) => n)).toThrow(/power of two/);
  });
});
