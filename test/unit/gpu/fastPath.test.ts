/**
 * The hand-written WebGPU kernels against the plain tfjs path, on the WebGPU backend (llvmpipe on a
 * machine without a GPU): same loss and gradients within 1e-4 relative on tiny shapes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { randn, relErr, useWebGpu } from './gpuTestUtil';
import { convFilterBiasGrad } from '../../../src/engine/gpu/convFilterGrad';
import { conv2dGpu, matMulGpu } from '../../../src/engine/gpu/conv2d';
import { sumOfSquaresGpu } from '../../../src/engine/gpu/sumLeading';
import { Adam } from '../../../src/engine/train/optimizer';
import { copyFlatInto } from '../../../src/engine/gpu/flatCopy';
import { addPerChannel, conv2dSame } from '../../../src/engine/nets/ops';
import { groupNorm, silu } from '../../../src/engine/nets/tfjsKernels';
import { overrideKernelSet } from '../../../src/engine/gpu/registry';
import { wgslKernels } from '../../../src/engine/gpu/wgslKernels';
import { groupNormActGpu } from '../../../src/engine/gpu/groupNorm';
import { UNet } from '../../../src/engine/nets/unet';
import { variableGradsFreeing } from '../../../src/engine/nets/grads';
import type { ModelConfig } from '../../../src/shared/config';

const MICRO: ModelConfig = {
  ch: 16,
  chMult: [1, 2],
  numResBlocks: 1,
  attnResolutions: [4],
  dropout: 0,
  imageSize: 8,
  channels: 3,
  normGroups: 4,
};

describe('WebGPU fast path', () => {
  const webgpu = useWebGpu();
  afterAll(() => overrideKernelSet(null));

  it('convFilterBiasGrad equals the gradient of tfjs conv2d (3x3 s1/s2, odd sizes, 1x1, cout not a tile multiple)', async (ctx) => {
    if (!webgpu()) ctx.skip();
    const samePad = (size: number, k: number, s: number) =>
      Math.floor(Math.max((Math.ceil(size / s) - 1) * s + k - size, 0) / 2);
    const cases: [number, number, number, number, number, number, 1 | 2][] = [
      [2, 6, 6, 3, 4, 3, 1],
      [2, 5, 7, 8, 16, 3, 1],
      [2, 8, 8, 16, 8, 3, 2],
      [2, 7, 5, 4, 4, 3, 2],
      [3, 16, 16, 32, 64, 3, 1],
      [2, 16, 16, 64, 130, 3, 2],
      [4, 8, 8, 20, 24, 1, 1],
      [2, 4, 4, 128, 8, 1, 1], // the bias row alone in the last row tile
      // The bias row alone in its row tile (k·k·cin a multiple of 128), split along the reduction and
      // with ragged output columns (128-column tile, then 64): the tile sums dy instead of multiplying.
      [4, 16, 16, 128, 72, 3, 1],
      [4, 16, 16, 256, 40, 1, 1],
    ];
    for (const [n, h, w, cin, cout, k, s] of cases) {
      const x = randn([n, h, w, cin], n + h + cin) as tf.Tensor4D;
      const dy = randn([n, Math.ceil(h / s), Math.ceil(w / s), cout], cout + k) as tf.Tensor4D;
      const [dw, db] = convFilterBiasGrad(x, dy, k, s, samePad(h, k, s), samePad(w, k, s));
      const f0 = tf.zeros([k, k, cin, cout]) as tf.Tensor4D;
      const ref = tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, f as tf.Tensor4D, s, 'same'), dy)))(f0);
      const refB = tf.sum(dy, [0, 1, 2]);
      expect(relErr(await dw.data(), await ref.data())).toBeLessThan(1e-5);
      expect(relErr(await db.data(), await refB.data())).toBeLessThan(1e-5);
      tf.dispose([x, dy, dw, db, f0, ref, refB]);
    }
  });

  it('conv2dGpu equals tfjs conv2d (3x3 s1/s2, odd sizes, 1x1, ragged tiles, with and without bias) and matMulGpu equals matMul', async (ctx) => {
    if (!webgpu()) ctx.skip();
    const samePad = (size: number, k: number, s: number) =>
      Math.floor(Math.max((Math.ceil(size / s) - 1) * s + k - size, 0) / 2);
    const cases: [number, number, number, number, number, number, 1 | 2][] = [
      [2, 6, 6, 4, 4, 3, 1],
      [2, 5, 7, 8, 16, 3, 1],
      [2, 8, 8, 16, 8, 3, 2],
      [2, 7, 5, 4, 12, 3, 2],
      [3, 16, 16, 32, 68, 3, 1],
      [2, 16, 16, 20, 132, 3, 2],
      [5, 8, 8, 36, 24, 1, 1],
      [1, 9, 9, 8, 8, 5, 1],
    ];
    for (const [n, h, w, cin, cout, k, s] of cases) {
      const x = randn([n, h, w, cin], n + h + cin) as tf.Tensor4D;
      const f = randn([k, k, cin, cout], cout + k, 0.3) as tf.Tensor4D;
      const b = randn([cout], cin) as tf.Tensor1D;
      const oh = Math.ceil(h / s);
      const ow = Math.ceil(w / s);
      for (const bias of [b, null]) {
        const y = conv2dGpu(x, f, bias, s, samePad(h, k, s), samePad(w, k, s), oh, ow);
        const ref = tf.conv2d(x, f, s, 'same');
        const refB = bias ? tf.add(ref, bias) : ref;
        expect(y.shape).toEqual(ref.shape);
        expect(relErr(await y.data(), await refB.data()), `${[n, h, w, cin, cout, k, s]} bias ${!!bias}`).toBeLessThan(
          1e-5,
        );
        tf.dispose([y, ref, refB]);
      }
      tf.dispose([x, f, b]);
    }
    for (const [m, cin, cout] of [
      [7, 4, 8],
      [300, 36, 132],
      [64, 128, 64],
    ] as const) {
      const x = randn([m, cin], m) as tf.Tensor2D;
      const w = randn([cin, cout], cout, 0.3) as tf.Tensor2D;
      const b = randn([cout], 3) as tf.Tensor1D;
      const y = matMulGpu(x, w, b);
      const ref = tf.add(tf.matMul(x, w), b);
      expect(relErr(await y.data(), await ref.data()), `${[m, cin, cout]}`).toBeLessThan(1e-5);
      tf.dispose([x, w, b, y, ref]);
    }
  });

  it("the dense input gradient equals dy·wᵀ on both of its paths (tfjs' matMul up to 1024 rows, ours above)", async (ctx) => {
    if (!webgpu()) ctx.skip();
    for (const rows of [6, 1024, 1100]) {
      const dy = randn([rows, 40], rows) as tf.Tensor2D;
      const w = randn([24, 40], 2, 0.3) as tf.Tensor2D;
      const got = wgslKernels.denseInputGrad(dy, w);
      const ref = tf.matMul(dy, tf.transpose(w));
      expect(got.shape).toEqual([rows, 24]);
      expect(relErr(await got.data(), await ref.data()), `${rows} rows`).toBeLessThan(1e-5);
      tf.dispose([dy, w, got, ref]);
    }
  });

  it('sumOfSquaresGpu equals tf.sum(tf.square(x)) from 1 element to several workgroup strides', async (ctx) => {
    if (!webgpu()) ctx.skip();
    for (const size of [1, 255, 4097, 300_001, 5_000_000]) {
      const x = randn([size], size, 0.5);
      const got = (await sumOfSquaresGpu(x).data())[0]!;
      const want = (await tf.sum(tf.square(x)).data())[0]!;
      expect(Math.abs(got - want) / want, `size ${size}`).toBeLessThan(1e-5);
      x.dispose();
    }
  });

  it('uploads through the queue keep values and order: float32, int32, bool, empty, and a buffer reused right after', async (ctx) => {
    if (!webgpu()) ctx.skip();
    const f = tf.tensor1d([1.5, -2, 3e-7, 4]);
    const i = tf.tensor1d([7, -8, 9], 'int32');
    const b = tf.tensor1d([true, false, true], 'bool');
    const e = tf.tensor1d([]);
    expect(Array.from(await tf.mul(f, 2).data())).toEqual([3, -4, 6e-7, 8].map((v) => Math.fround(v)));
    expect(Array.from(await tf.add(i, 1).data())).toEqual([8, -7, 10]);
    expect(Array.from(await tf.logicalNot(b).data())).toEqual([0, 1, 0]);
    expect(e.size).toBe(0);
    // Pooled buffers of the same size are handed out again at once: each must carry its own values.
    for (let r = 0; r < 20; r++) {
      const t = tf.fill([1000], r);
      const u = tf.add(t, tf.tensor1d(new Float32Array(1000).fill(1)));
      expect((await u.data())[999]).toBe(r + 1);
      tf.dispose([t, u]);
    }
    tf.dispose([f, i, b, e]);
  });

  it('Adam on flat buffers: buffer-copy flatten/split equal the kernel path; a variable sharing its buffer is not written in place', async (ctx) => {
    if (!webgpu()) ctx.skip();
    const shapes = [[3, 4], [5], [2, 2, 2], [1]];
    const run = async (fast: boolean, alias: boolean) => {
      overrideKernelSet(fast ? 'wgsl' : 'tfjs');
      const vars = shapes.map((sh, i) => tf.variable(randn(sh, 40 + i), true, `adam-${fast}-${alias}-${i}`));
      const held = alias ? tf.reshape(vars[1]!, [5]) : null; // shares vars[1]'s buffer (refCount 2)
      const before = held ? Array.from(await held.data()) : [];
      const adam = new Adam(vars, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
      for (let step = 0; step < 3; step++) {
        const grads = shapes.map((sh, i) => randn(sh, 70 + 10 * step + i));
        const flat = adam.layout.flatten(grads);
        const ref = tf.concat(grads.map((g) => tf.reshape(g, [-1])));
        expect(Array.from(await flat.data())).toEqual(Array.from(await ref.data()));
        adam.apply(flat, 0.1);
        tf.dispose([...grads, flat, ref]);
      }
      const out = await Promise.all(vars.map((v) => v.data()));
      if (held) expect(Array.from(await held.data())).toEqual(before);
      tf.dispose([...vars, ...(held ? [held] : [])]);
      adam.dispose();
      return out.map((a) => Array.from(a));
    };
    const plain = await run(false, false);
    expect(await run(true, false)).toEqual(plain);
    expect(await run(true, true)).toEqual(plain);
    overrideKernelSet(null);
    // The copy itself: taken for sole owners, refused (nothing written) for a shared buffer.
    const inits = [randn([2, 3], 1), randn([4], 2)];
    const vs = inits.map((t, i) => tf.variable(t, false, `copy-${i}`));
    const flat = tf.range(0, 10, 1, 'float32') as tf.Tensor1D;
    expect(copyFlatInto(flat, vs, [0, 6])).toBe(false); // the init tensors still share the buffers
    tf.dispose(inits);
    expect(copyFlatInto(flat, vs, [0, 6])).toBe(true);
    expect(Array.from(await vs[0]!.data())).toEqual([0, 1, 2, 3, 4, 5]);
    expect(Array.from(await vs[1]!.data())).toEqual([6, 7, 8, 9]);
    // A second copy after those reads (tfjs cached the values on the CPU) must be seen by the next read
    // and by a CPU-forwarded op on the variable (tfjs runs small ops on cached values).
    const flat2 = tf.range(10, 20, 1, 'float32') as tf.Tensor1D;
    expect(copyFlatInto(flat2, vs, [0, 6])).toBe(true);
    expect(Array.from(await vs[0]!.data())).toEqual([10, 11, 12, 13, 14, 15]);
    const plusOne = tf.add(vs[1]!, 1);
    expect(Array.from(await plusOne.data())).toEqual([17, 18, 19, 20]);
    tf.dispose([...vs, flat, flat2, plusOne]);
  });

  it('conv2dSame and addPerChannel gradients equal the plain path (stride 1 and 2, even and odd sizes)', async (ctx) => {
    if (!webgpu()) ctx.skip();
    // 5 → 6 channels stays on tfjs' conv2d; 8 → 12 runs the implicit-GEMM kernel forward and backward.
    for (const [h, w, stride, cin, cout] of [
      [6, 6, 1, 5, 6],
      [5, 7, 1, 5, 6],
      [8, 8, 2, 5, 6],
      [7, 5, 2, 5, 6],
      [9, 9, 2, 5, 6],
      [6, 6, 1, 8, 12],
      [5, 7, 1, 8, 12],
      [8, 8, 2, 8, 12],
      [7, 5, 2, 8, 12],
    ] as const) {
      const x = randn([2, h, w, cin], h * w) as tf.Tensor4D;
      const f = randn([3, 3, cin, cout], 6, 0.3) as tf.Tensor4D;
      const b = randn([cout], 7) as tf.Tensor1D;
      const t = randn([2, cout], 8) as tf.Tensor2D;
      const up = randn([2, Math.ceil(h / stride), Math.ceil(w / stride), cout], 9);
      const loss = (xx: tf.Tensor, ff: tf.Tensor, bb: tf.Tensor, tt: tf.Tensor) =>
        tf.sum(
          tf.mul(
            addPerChannel(
              conv2dSame(xx as tf.Tensor4D, ff as tf.Tensor4D, bb as tf.Tensor1D, stride),
              tt as tf.Tensor2D,
            ),
            up,
          ),
        );
      const grads = async (fast: boolean) => {
        overrideKernelSet(fast ? 'wgsl' : 'tfjs');
        const g = tf.grads(loss)([x, f, b, t]);
        const d = await Promise.all(g.map((gi) => gi.data()));
        tf.dispose(g);
        return d;
      };
      const plain = await grads(false);
      const fast = await grads(true);
      for (let i = 0; i < 4; i++)
        expect(relErr(fast[i]!, plain[i]!), `${[h, w, stride, cin, cout]} grad ${i}`).toBeLessThan(1e-5);
      tf.dispose([x, f, b, t, up]);
    }
    overrideKernelSet(null);
  });

  it('fused GroupNorm(+SiLU) equals groupNorm/silu in value and in all gradients (cg 1..12, one group, batch 300)', async (ctx) => {
    if (!webgpu()) ctx.skip();
    const cases: [number, number, number, number, number][] = [
      [2, 4, 3, 12, 3],
      [2, 4, 4, 12, 1],
      [3, 5, 5, 24, 2],
      [2, 8, 8, 192, 32],
      [1, 16, 16, 16, 16],
      // A batch larger than a workgroup: dγ and dβ sum it in strides of 256 before the tree.
      [300, 2, 1, 8, 4],
    ];
    for (const [n, h, w, c, groups] of cases) {
      const x = randn([n, h, w, c], c + h, 2) as tf.Tensor4D;
      const gamma = tf.add(randn([c], 3, 0.3), 1);
      const beta = randn([c], 4, 0.3);
      const up = randn([n, h, w, c], 5);
      const eps = tf.scalar(1e-6);
      for (const act of [true, false]) {
        const f =
          (fn: (a: tf.Tensor4D, g: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
          (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.mul(fn(a as tf.Tensor4D, g, b), up));
        const fused = (a: tf.Tensor4D, g: tf.Tensor, b: tf.Tensor) => groupNormActGpu(a, g, b, groups, 1e-6, act);
        const plain = (a: tf.Tensor4D, g: tf.Tensor, b: tf.Tensor) =>
          act ? silu(groupNorm(a, g, b, groups, eps)) : groupNorm(a, g, b, groups, eps);
        const yf = fused(x, gamma, beta);
        const yp = plain(x, gamma, beta);
        expect(relErr(await yf.data(), await yp.data())).toBeLessThan(1e-5);
        const gf = tf.grads(f(fused))([x, gamma, beta]);
        const gp = tf.grads(f(plain))([x, gamma, beta]);
        for (let i = 0; i < 3; i++)
          expect(
            relErr(await gf[i]!.data(), await gp[i]!.data()),
            `${[n, h, w, c, groups]} act ${act} grad ${i}`,
          ).toBeLessThan(1e-4);
        tf.dispose([yf, yp, ...gf, ...gp]);
      }
      tf.dispose([x, gamma, beta, up, eps]);
    }
  });

  it('a UNet training loss and all its gradients equal the plain path within 1e-4, dropout 0 and 0.2', async (ctx) => {
    if (!webgpu()) ctx.skip();
    for (const rate of [0, 0.2]) {
      const net = new UNet({ ...MICRO, dropout: rate }, 7);
      const x = randn([4, 8, 8, 3], 1) as tf.Tensor4D;
      const e = randn([4, 8, 8, 3], 2);
      const t = tf.tensor1d([3, 250, 600, 999]);
      // The same key on both paths: the WGSL and host Philox draw the same masks.
      const dropoutKey = { seed: 11, step: 5, term: 0 };
      const loss = () =>
        tf.tidy(() => tf.mean(tf.square(tf.sub(net.apply(x, t, { training: true, dropoutKey }), e))) as tf.Scalar);
      const run = async (fast: boolean) => {
        overrideKernelSet(fast ? 'wgsl' : 'tfjs');
        const r = variableGradsFreeing(loss, net.variables);
        const grads = await Promise.all(net.variables.map((v) => r.grads[v.name]!.data()));
        const out = { loss: (await r.value.data())[0]!, grads };
        tf.dispose([r.value, ...Object.values(r.grads)]);
        return out;
      };
      const plain = await run(false);
      const fast = await run(true);
      expect(Math.abs(fast.loss - plain.loss) / Math.abs(plain.loss), `dropout ${rate}`).toBeLessThan(1e-4);
      net.variables.forEach((v, i) => {
        expect(relErr(fast.grads[i]!, plain.grads[i]!), `dropout ${rate}: ${v.name}`).toBeLessThan(1e-4);
      });
      if (rate > 0) {
        // Dropout is live in this comparison: another step's masks give another loss.
        const key6 = { ...dropoutKey, step: 6 };
        const other = tf.tidy(() =>
          tf.mean(tf.square(tf.sub(net.apply(x, t, { training: true, dropoutKey: key6 }), e))),
        );
        expect(Math.abs((await other.data())[0]! - fast.loss)).toBeGreaterThan(1e-6);
        other.dispose();
      }
      tf.dispose([x, e, t]);
      net.dispose();
    }
  });
});
