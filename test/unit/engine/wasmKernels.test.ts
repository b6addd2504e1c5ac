/**
 * The tfjs-backend-wasm kernels registered over the package's (engine/wasmKernels.ts): Slice copying only the box
 * it returns, BatchMatMul as one fast product per batch. Both must give what tfjs' cpu backend gives, for any box
 * (fast-check) and for batched, transposed and broadcast products.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { tf } from '../../../src/engine/tf';
import { initBackend } from '../../../src/engine/backend';
import { copyBox } from '../../../src/engine/wasmKernels';

/** The same op on the cpu backend and on wasm. */
function onBoth(f: () => tf.Tensor): { cpu: Float32Array; wasm: Float32Array; shapes: number[][] } {
  tf.setBackend('cpu');
  const c = f();
  const cpu = c.dataSync() as Float32Array;
  tf.setBackend('wasm');
  const w = f();
  const wasm = w.dataSync() as Float32Array;
  const shapes = [c.shape, w.shape];
  tf.dispose([c, w]);
  return { cpu, wasm, shapes };
}

beforeAll(async () => {
  await initBackend('cpu');
  await initBackend('wasm');
});
afterAll(async () => {
  await initBackend('cpu');
});

describe('copyBox', () => {
  it('copies any box of any row-major array, as the box would be read index by index', () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 })
          .chain((shape) =>
            fc.tuple(
              fc.constant(shape),
              fc.tuple(
                ...shape.map((d) =>
                  fc
                    .integer({ min: 0, max: d - 1 })
                    .chain((b) => fc.tuple(fc.constant(b), fc.integer({ min: 0, max: d - b }))),
                ),
              ),
            ),
          ),
        ([shape, box]) => {
          const x = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i);
          const begin = box.map(([b]) => b);
          const size = box.map(([, s]) => s);
          const out = new Float32Array(size.reduce((a, b) => a * b, 1));
          copyBox(x, shape, begin, size, out);
          const expected: number[] = [];
          const walk = (d: number, off: number) => {
            if (d === shape.length) return void expected.push(off);
            const stride = shape.slice(d + 1).reduce((a, b) => a * b, 1);
            for (let i = 0; i < size[d]!; i++) walk(d + 1, off + (begin[d]! + i) * stride);
          };
          walk(0, 0);
          expect(Array.from(out)).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('the wasm kernels registered over the package’s', () => {
  it('Slice gives the cpu backend’s values for 1-D to 5-D boxes', () => {
    const x5 = () => tf.range(0, 2 * 3 * 4 * 5 * 6).reshape([2, 3, 4, 5, 6]);
    for (const [begin, size] of [
      [
        [1, 0, 2, 1, 0],
        [1, 3, 2, 4, 6],
      ],
      [
        [0, 2, 0, 0, 3],
        [2, 1, 4, 5, 3],
      ],
      [
        [0, 0, 0, 0, 0],
        [2, 3, 4, 5, 6],
      ],
    ] as const) {
      const r = onBoth(() => tf.slice(x5(), [...begin], [...size]));
      expect(r.shapes[1]).toEqual(r.shapes[0]);
      expect(Array.from(r.wasm)).toEqual(Array.from(r.cpu));
    }
    const r = onBoth(() => tf.slice(tf.range(0, 1000), 123, 456));
    expect(Array.from(r.wasm)).toEqual(Array.from(r.cpu));
  });

  it.each([
    [[16, 64, 32], [16, 64, 32], false, true],
    [[16, 64, 64], [16, 64, 32], false, false],
    [[16, 64, 64], [16, 64, 32], true, false],
    [[300, 32], [300, 24], true, false],
    [[30, 32], [48, 32], false, true],
    [[2, 3, 5, 4], [4, 6], false, false],
    [[5, 4], [3, 4, 6], false, false],
    [[3, 4, 5], [3, 6, 4], true, true],
  ] as const)('BatchMatMul %j × %j (transposeA %s, transposeB %s) equals the cpu backend', (sa, sb, ta, tb) => {
    const r = onBoth(() =>
      tf.matMul(tf.randomNormal([...sa], 0, 1, 'float32', 1), tf.randomNormal([...sb], 0, 1, 'float32', 2), ta, tb),
    );
    expect(r.shapes[1]).toEqual(r.shapes[0]);
    r.wasm.forEach((v, i) => expect(Math.abs(v - r.cpu[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(r.cpu[i]!))));
  });
});
