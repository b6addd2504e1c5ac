/**
 * The shared matrix-product core's code variants (gpu/gemmTile.ts: thread layout, unrolled slice loop,
 * the forward convolution's A staging) change only how the work is laid out, not the order of any
 * sum: every variant must give the same bits as the default, and match tfjs. The pool's free buffers
 * are poisoned before each run, so an output element a variant never writes cannot pass.
 */
import { describe, expect, it, vi } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { conv2dGpu } from '../../../src/engine/gpu/conv2d';
import { convFilterBiasGrad } from '../../../src/engine/gpu/convFilterGrad';
import { parseVariant, variantText, type GemmVariant } from '../../../src/engine/gpu/gemmTile';
import { poisonFreeBuffers, randn, relErr, useWebGpu } from './gpuTestUtil';

// Each flag alone, the defaults, and the combinations the H200 sweeps ranked first (every combination
// would be 64 shader compilations per shape on llvmpipe).
const ALL: GemmVariant[] = [
  'none',
  'warp',
  'unroll',
  'aRows',
  'bk32',
  'aT',
  'db',
  'unroll,bk32,aT',
  'warp,unroll',
  'unroll,aRows,bk32',
  'unroll,bk32,aT,db',
  'warp,unroll,db',
  'warp,unroll,aRows,bk32,aT,db',
  'aRows,bk32,db',
].map((t) => parseVariant(t)!);

describe('matrix-product core variants', () => {
  const webgpu = useWebGpu();

  it('variant text round-trips, and "none" is all off (not the defaults)', () => {
    for (const v of ALL) expect(parseVariant(variantText(v))).toEqual(v);
    expect(parseVariant('none')).toEqual({
      warp: false,
      unroll: false,
      aRows: false,
      bk32: false,
      aT: false,
      db: false,
    });
    expect(() => parseVariant('warp,unrol')).toThrow(/unknown matrix-product variant unrol/);
    expect(parseVariant('')).toBeNull();
    expect(variantText(undefined)).toBe('');
  });

  it('a bad SADPM_GEMM is refused at start, naming the variable and the expected names', async () => {
    vi.resetModules();
    process.env.SADPM_GEMM = 'warp,unrol';
    try {
      await expect(import('../../../src/engine/gpu/gemmTile')).rejects.toThrow(
        /SADPM_GEMM=warp,unrol: unknown matrix-product variant unrol \(expected warp, unroll/,
      );
    } finally {
      delete process.env.SADPM_GEMM;
      vi.resetModules();
    }
  });

  it('conv2dGpu: every variant gives the default bits (3x3 s1 at 128x128 and 64x64 tiles, ragged rows and columns; 3x3 s2)', async (ctx) => {
    if (!webgpu()) ctx.skip();
    // [n, h, w, cin, cout, stride]: m = 150 rows (two 128-row tiles, the second ragged), 132 columns.
    for (const [n, h, w, cin, cout, s] of [
      [2, 5, 15, 16, 132, 1],
      [2, 9, 9, 8, 68, 2],
    ] as const) {
      const oh = Math.ceil(h / s);
      const ow = Math.ceil(w / s);
      const x = randn([n, h, w, cin], h + cin) as tf.Tensor4D;
      const f = randn([3, 3, cin, cout], cout, 0.3) as tf.Tensor4D;
      const b = randn([cout], 5) as tf.Tensor1D;
      const ref = tf.add(tf.conv2d(x, f, s, 'same'), b);
      const refData = await ref.data();
      for (const size of s === 1 ? [128, 64] : [128]) {
        const base = conv2dGpu(x, f, b, s, 1, 1, oh, ow, { bm: size, bn: size, variant: ALL[0] });
        const baseData = await base.data();
        expect(relErr(baseData, refData)).toBeLessThan(1e-5);
        for (const variant of ALL.slice(1)) {
          poisonFreeBuffers();
          const y = conv2dGpu(x, f, b, s, 1, 1, oh, ow, { bm: size, bn: size, variant });
          expect(await y.data(), `${size} ${variantText(variant)} s${s}`).toEqual(baseData);
          y.dispose();
        }
        base.dispose();
      }
      tf.dispose([x, f, b, ref]);
    }
  });

  it('convFilterBiasGrad: every variant gives the default bits (split reduction, the bias-alone row tile)', async (ctx) => {
    if (!webgpu()) ctx.skip();
    for (const [n, h, w, cin, cout, k] of [
      [2, 5, 7, 8, 16, 3],
      [4, 16, 16, 128, 72, 3],
    ] as const) {
      const x = randn([n, h, w, cin], n + cin) as tf.Tensor4D;
      const dy = randn([n, h, w, cout], cout + k) as tf.Tensor4D;
      const [dw0, db0] = convFilterBiasGrad(x, dy, k, 1, 1, 1, ALL[0]);
      const [w0, b0] = [await dw0.data(), await db0.data()];
      for (const variant of ALL.slice(1).filter((v) => !v.aRows && !v.aT)) {
        poisonFreeBuffers();
        const [dw, db] = convFilterBiasGrad(x, dy, k, 1, 1, 1, variant);
        expect(await dw.data(), `${variantText(variant)} cin ${cin}`).toEqual(w0);
        expect(await db.data(), `${variantText(variant)} cin ${cin}`).toEqual(b0);
        tf.dispose([dw, db]);
      }
      tf.dispose([x, dy, dw0, db0]);
    }
  });
});
