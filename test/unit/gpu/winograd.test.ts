/**
 * Winograd F(4×4, 3×3) convolutions (gpu/winograd.ts): the matrices reproduce a 3×3 correlation exactly
 * in float64; on the WebGPU backend the kernel matches tfjs' conv2d and the direct kernel within float32
 * rounding on ragged sizes (blocks past the image edge), with and without bias, as the input gradient
 * (flipped, transposed filter) and when the scratch holds fewer blocks than the batch (chunks).
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { tf } from '../../../src/engine/tf';
import { AT, BT, G, combine, sandwichNumbers } from '../../../src/engine/gpu/winogradMath';
import { conv2dWinograd, scratchCap, setWinogradScratchBytes, winogradApplies } from '../../../src/engine/gpu/winograd';
import { conv2dGpu } from '../../../src/engine/gpu/conv2d';
import { convFilterBiasGrad } from '../../../src/engine/gpu/convFilterGrad';
import { convFilterBiasGradWinograd, setWinogradSplitBlocks } from '../../../src/engine/gpu/winogradFilterGrad';
import { poisonFreeBuffers, randn, relErr, useWebGpu } from './gpuTestUtil';

/** Winograd float32 rounding against the direct product, relative to the output's largest magnitude. */
const TOL = 2e-5;

describe('Winograd F(4x4, 3x3) matrices', () => {
  it('Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A equals the 3×3 correlation of any 6×6 patch (float64)', () => {
    const num = fc.double({ min: -4, max: 4, noNaN: true });
    fc.assert(
      fc.property(
        fc.array(num, { minLength: 36, maxLength: 36 }),
        fc.array(num, { minLength: 9, maxLength: 9 }),
        (dv, gv) => {
          const d = Array.from({ length: 6 }, (_, i) => dv.slice(i * 6, i * 6 + 6));
          const g = Array.from({ length: 3 }, (_, i) => gv.slice(i * 3, i * 3 + 3));
          const U = sandwichNumbers(BT, BT, d);
          const V = sandwichNumbers(G, G, g);
          const M = U.map((row, i) => row.map((v, j) => v * V[i]![j]!));
          const Y = sandwichNumbers(AT, AT, M);
          for (let y = 0; y < 4; y++)
            for (let x = 0; x < 4; x++) {
              let ref = 0;
              for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) ref += d[y + i]![x + j]! * g[i]![j]!;
              expect(Math.abs(Y[y]![x]! - ref)).toBeLessThan(1e-9 * (1 + Math.abs(ref)));
            }
        },
      ),
    );
  });

  it('the scratch stays within one binding and one buffer of the device', () => {
    const limits = (binding: number, buffer: number) => ({
      maxStorageBufferBindingSize: binding,
      maxBufferSize: buffer,
    });
    expect(scratchCap(64 * 2 ** 20, limits(2 ** 31, 2 ** 32))).toBe(64 * 2 ** 20);
    expect(scratchCap(2 ** 31, limits(128 * 2 ** 20, 2 ** 32))).toBe(128 * 2 ** 20);
    expect(scratchCap(2 ** 31, limits(2 ** 31, 256 * 2 ** 20 + 7))).toBe(256 * 2 ** 20);
    expect(scratchCap(1000)).toBe(1000);
  });

  it('combine drops zeros, writes ±1 without a multiply and folds fractions', () => {
    expect(
      combine(
        [
          [4, 1],
          [0, 1],
          [-5, 1],
          [0, 1],
          [1, 1],
          [0, 1],
        ],
        ['a', 'b', 'c', 'd', 'e', 'f'],
        'Z',
      ),
    ).toBe('4.0 * a - 5.0 * c + e');
    expect(
      combine(
        [
          [-1, 6],
          [1, 1],
        ],
        ['a', 'b'],
        'Z',
      ),
    ).toBe('- (1.0 / 6.0) * a + b');
    expect(combine([[0, 1]], ['a'], 'Z')).toBe('Z');
  });
});

describe('conv2dWinograd on WebGPU', () => {
  const webgpu = useWebGpu();
  afterAll(() => setWinogradScratchBytes(64 * 2 ** 20));

  // [n, h, w, cin, cout]: whole blocks, ragged blocks on both edges, a 1×1 image, 128+4 output columns.
  const SHAPES: [number, number, number, number, number][] = [
    [2, 8, 8, 4, 8],
    [2, 5, 7, 8, 12],
    [1, 1, 1, 4, 4],
    [3, 9, 6, 16, 132],
    [2, 12, 10, 64, 32],
  ];

  it('forward with bias equals tfjs conv2d and the direct kernel (ragged blocks, ragged columns)', async (ctx) => {
    if (!webgpu()) ctx.skip();
    for (const [n, h, w, cin, cout] of SHAPES) {
      expect(winogradApplies(cin, cout)).toBe(true);
      const x = randn([n, h, w, cin], h * 31 + cin) as tf.Tensor4D;
      const f = randn([3, 3, cin, cout], cout + 7, 0.3) as tf.Tensor4D;
      const b = randn([cout], cin + 3) as tf.Tensor1D;
      const ref = await tf.add(tf.conv2d(x, f, 1, 'same'), b).data();
      const direct = await conv2dGpu(x, f, b, 1, 1, 1, h, w).data();
      poisonFreeBuffers();
      const y = conv2dWinograd(x, f, b)!;
      expect(y.shape).toEqual([n, h, w, cout]);
      const got = await y.data();
      expect(got.every(Number.isFinite)).toBe(true);
      expect(relErr(got, ref), `${[n, h, w, cin, cout]} vs tfjs`).toBeLessThan(TOL);
      expect(relErr(got, direct), `${[n, h, w, cin, cout]} vs direct`).toBeLessThan(TOL);
      tf.dispose([x, f, b, y]);
    }
  });

  it('flip: the input gradient of a convolution equals tfjs conv2dTranspose (no bias)', async (ctx) => {
    if (!webgpu()) ctx.skip();
    for (const [n, h, w, cin, cout] of SHAPES) {
      // The forward convolution maps cin → cout; its input gradient maps dy (cout) → dx (cin).
      const f = randn([3, 3, cin, cout], cin * 3 + 1, 0.3) as tf.Tensor4D;
      const dy = randn([n, h, w, cout], n + w + cout) as tf.Tensor4D;
      const ref = await tf.conv2dTranspose(dy, f, [n, h, w, cin], 1, 'same').data();
      poisonFreeBuffers();
      const dx = conv2dWinograd(dy, f, null, true)!;
      expect(dx.shape).toEqual([n, h, w, cin]);
      expect(relErr(await dx.data(), ref), `${[n, h, w, cin, cout]}`).toBeLessThan(TOL);
      tf.dispose([f, dy, dx]);
    }
  });

  it('a scratch smaller than the batch runs in chunks (the last one partial) with the same bits', async (ctx) => {
    if (!webgpu()) ctx.skip();
    const [n, h, w, cin, cout] = [3, 9, 10, 8, 12]; // 3 × 3 × 3 = 27 blocks
    const x = randn([n, h, w, cin], 77) as tf.Tensor4D;
    const f = randn([3, 3, cin, cout], 78, 0.3) as tf.Tensor4D;
    const b = randn([cout], 79) as tf.Tensor1D;
    const whole = await conv2dWinograd(x, f, b)!.data();
    for (const rows of [5, 1, 26]) {
      setWinogradScratchBytes(36 * 4 * Math.max(cin, cout) * rows);
      poisonFreeBuffers();
      const part = await conv2dWinograd(x, f, b)!.data();
      expect(Array.from(part), `${rows} blocks per chunk`).toEqual(Array.from(whole));
    }
    setWinogradScratchBytes(64 * 2 ** 20);
    tf.dispose([x, f, b]);
  });

  it('leaves no tensor behind (forward, input gradient, filter gradient)', async (ctx) => {
    if (!webgpu()) ctx.skip();
    const x = randn([2, 8, 8, 8], 3) as tf.Tensor4D;
    const f = randn([3, 3, 8, 12], 4) as tf.Tensor4D;
    const dy = randn([2, 8, 8, 12], 5) as tf.Tensor4D;
    const run = () => [
      conv2dWinograd(x, f, null)!,
      conv2dWinograd(dy, f, null, true)!,
      ...convFilterBiasGradWinograd(x, dy)!,
    ];
    tf.dispose(run()); // the first call keeps the zero bias for good
    const before = tf.memory().numTensors;
    const outs = run();
    expect(tf.memory().numTensors).toBe(before + outs.length);
    await outs[3]!.data();
    tf.dispose(outs);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, f, dy]);
  });

  it('refuses a filter that does not fit the input, and channels the scratch cannot hold', () => {
    if (!webgpu()) return;
    const x = tf.zeros([1, 4, 4, 8]) as tf.Tensor4D;
    expect(() => conv2dWinograd(x, tf.zeros([3, 3, 4, 8]) as tf.Tensor4D, null)).toThrow(/does not fit input 1,4,4,8/);
    setWinogradScratchBytes(36 * 4 * 16);
    expect(winogradApplies(8, 32)).toBe(false);
    setWinogradScratchBytes(64 * 2 ** 20);
    expect(winogradApplies(8, 6)).toBe(false);
  });
});

describe('convFilterBiasGradWinograd on WebGPU', () => {
  const webgpu = useWebGpu();
  afterAll(() => {
    setWinogradScratchBytes(64 * 2 ** 20);
    setWinogradSplitBlocks(256);
  });

  it('dW and db equal the gradient of tfjs conv2d and the direct kernel (ragged blocks, splits, chunks)', async (ctx) => {
    if (!webgpu()) ctx.skip();
    // [n, h, w, cin, cout, blocks per chunk (0: all), blocks per split]
    const cases: [number, number, number, number, number, number, number][] = [
      [2, 8, 8, 4, 8, 0, 256],
      [2, 5, 7, 8, 12, 0, 1],
      [3, 9, 6, 16, 132, 4, 2],
      [2, 12, 10, 72, 32, 5, 3],
      // A split reduces a multiple of 16 blocks: 64 blocks in 4 splits; 80 blocks in 2 chunks of 3 used splits.
      [4, 16, 16, 8, 8, 0, 16],
      [4, 16, 20, 8, 12, 40, 8],
    ];
    for (const [n, h, w, cin, cout, rows, split] of cases) {
      const label = `${[n, h, w, cin, cout]}, ${rows || 'all'} blocks per chunk, ${split} per split`;
      setWinogradScratchBytes(rows ? 36 * 4 * Math.max(cin, cout) * rows : 64 * 2 ** 20);
      setWinogradSplitBlocks(split);
      const x = randn([n, h, w, cin], n * 5 + cin) as tf.Tensor4D;
      const dy = randn([n, h, w, cout], cout * 3 + h) as tf.Tensor4D;
      const f0 = tf.zeros([3, 3, cin, cout]) as tf.Tensor4D;
      const ref = await tf
        .grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, f as tf.Tensor4D, 1, 'same'), dy)))(f0)
        .data();
      const refB = await tf.sum(dy, [0, 1, 2]).data();
      const [dwDirect] = convFilterBiasGrad(x, dy, 3, 1, 1, 1);
      const direct = await dwDirect.data();
      poisonFreeBuffers();
      const [dw, db] = convFilterBiasGradWinograd(x, dy)!;
      expect(dw.shape).toEqual([3, 3, cin, cout]);
      const got = await dw.data();
      expect(relErr(got, ref), `${label} vs tfjs`).toBeLessThan(TOL);
      expect(relErr(got, direct), `${label} vs direct`).toBeLessThan(TOL);
      expect(relErr(await db.data(), refB), `${label} bias`).toBeLessThan(1e-5);
      tf.dispose([x, dy, f0, dwDirect, dw, db]);
    }
  });
});

describe('Winograd switches', () => {
  const load = async (env: Record<string, string>) => {
    vi.resetModules();
    Object.assign(process.env, env);
    try {
      return await import('../../../src/engine/gpu/winograd');
    } finally {
      for (const k of Object.keys(env)) delete process.env[k];
      vi.resetModules();
    }
  };

  it('SADPM_WINOGRAD picks what the kernel set sends (1: all, fwd: not the filter gradient, 0: none)', async () => {
    const all = await load({});
    expect(all.WINOGRAD_MODE).toBe('all');
    expect(all.winogradPays(2, 8, 8, 16, 16)).toBe(true);
    expect(all.winogradPays(2, 8, 8, 16, 16, true)).toBe(true);
    expect(all.winogradPays(2, 8, 8, 16, 6)).toBe(false);
    const fwd = await load({ SADPM_WINOGRAD: 'fwd' });
    expect(fwd.winogradPays(2, 8, 8, 16, 16)).toBe(true);
    expect(fwd.winogradPays(2, 8, 8, 16, 16, true)).toBe(false);
    const off = await load({ SADPM_WINOGRAD: '0' });
    expect(off.winogradPays(2, 8, 8, 16, 16)).toBe(false);
    // 2·8·8·16·16·9 multiply-adds = 0.27 MMACs: under a 0.001 GMAC floor, over a 0.0001 one.
    expect((await load({ SADPM_WINOGRAD_MIN_GMACS: '0.001' })).winogradPays(2, 8, 8, 16, 16)).toBe(false);
    expect((await load({ SADPM_WINOGRAD_MIN_GMACS: '0.0001' })).winogradPays(2, 8, 8, 16, 16)).toBe(true);
  });

  it('a bad value is refused at start, naming the variable and what was expected', async () => {
    await expect(load({ SADPM_WINOGRAD: 'yes' })).rejects.toThrow(/SADPM_WINOGRAD=yes: expected 1 \(on\), fwd/);
    await expect(load({ SADPM_WINOGRAD_SCRATCH_MB: '0.5' })).rejects.toThrow(
      /SADPM_WINOGRAD_SCRATCH_MB=0.5: expected whole MiB from 1 to 2048/,
    );
    await expect(load({ SADPM_WINOGRAD_MIN_GMACS: '-1' })).rejects.toThrow(/SADPM_WINOGRAD_MIN_GMACS=-1: expected/);
  });
});
