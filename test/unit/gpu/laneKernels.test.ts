/**
 * The kernel set for software adapters ('wgsl-cpu': gpu/laneConv.ts, groupNorm.ts 'lane') against the
 * tfjs-op set on the WebGPU backend, op by op on tiny shapes: row segments shorter and longer than
 * one register block, stride 2 with odd sizes, 4- and 8-channel blocks, split filter-gradient
 * reductions, and channel counts that fall back to the WGSL set. Also: which set this machine's
 * adapter gets, from what the adapter reports.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { randn as randnOf, relErr, useWebGpu } from './gpuTestUtil';
import { activeBackend } from '../../../src/engine/backend';
import { tfjsKernels } from '../../../src/engine/nets/tfjsKernels';
import { wgslCpuKernels } from '../../../src/engine/gpu/wgslCpuKernels';
import { laneBlock, laneFilterGradSplits } from '../../../src/engine/gpu/laneConv';
import { kernelChoice, overrideKernelSet } from '../../../src/engine/gpu/registry';
import { UNet } from '../../../src/engine/nets/unet';
import { variableGradsFreeing } from '../../../src/engine/nets/grads';
import { MODEL_PRESETS } from '../../../src/shared/config';

const randn = (shape: number[], seed: number, scale = 1) => randnOf(shape, seed, scale, 17);

async function expectClose(got: tf.Tensor, want: tf.Tensor, what: string): Promise<void> {
  expect(got.shape, what).toEqual(want.shape);
  expect(relErr(await got.data(), await want.data()), what).toBeLessThan(2e-5);
}

/** [n, h, w, cin, cout, k, stride]: what each case exercises is noted beside it. */
const CONV_CASES: [number, number, number, number, number, number, 1 | 2][] = [
  [2, 5, 5, 4, 8, 3, 1], // one segment of 5 pixels, 8-channel block
  [1, 3, 18, 8, 12, 3, 1], // 18 wide: a full 16-pixel segment and a ragged one; 12 → 4-channel blocks
  [2, 7, 9, 4, 8, 3, 2], // stride 2, odd sizes (asymmetric 'same' padding)
  [2, 8, 8, 4, 8, 3, 1], // 128 rows of dy: the filter gradient splits its reduction
  [2, 4, 4, 8, 4, 1, 1], // 1×1
  [2, 4, 5, 3, 8, 3, 1], // 3 input channels: falls back to the WGSL set
  [1, 4, 4, 8, 6, 3, 2], // 6 output channels: falls back
];

describe("wgsl-cpu kernel set (software adapters) against tfjs' ops", () => {
  const webgpu = useWebGpu();
  afterAll(() => overrideKernelSet(null));

  it('the cases cover both block widths, ragged segments and a split reduction', () => {
    expect(laneBlock(18, 12)).toEqual({ p: 16, c: 4 });
    expect(laneBlock(5, 8)).toEqual({ p: 5, c: 8 });
    expect(laneFilterGradSplits(2 * 8 * 8, 9 * 1 * 1)).toBeGreaterThan(1);
    expect(laneFilterGradSplits(31, 9)).toBe(1);
  });

  it("this machine's adapter gets the set its adapter info calls for", async (ctx) => {
    if (!webgpu()) ctx.skip();
    overrideKernelSet(null);
    const a = activeBackend()!.adapter;
    expect(kernelChoice().set.name).toBe(a.software ? 'wgsl-cpu' : 'wgsl');
    // Where Dawn's only adapter is Mesa's llvmpipe (CI, GPU-less machines), it must be seen as software.
    if (/llvmpipe/i.test(`${a.device} ${a.description}`)) expect(a.software).toBe(true);
  });

  it('conv2dSame, its input gradient and its filter/bias gradient equal the tfjs set', async (ctx) => {
    if (!webgpu()) ctx.skip();
    for (const [n, h, w, cin, cout, k, s] of CONV_CASES) {
      const tag = `[${[n, h, w, cin, cout, k, s].join(',')}]`;
      const x = randn([n, h, w, cin], h * w + cin) as tf.Tensor4D;
      const f = randn([k, k, cin, cout], cout + k, 0.3) as tf.Tensor4D;
      const b = randn([cout], 7) as tf.Tensor1D;
      const dy = randn([n, Math.ceil(h / s), Math.ceil(w / s), cout], 9) as tf.Tensor4D;
      const got = [
        wgslCpuKernels.conv2dSame(x, f, b, s),
        wgslCpuKernels.conv2dSameInputGrad(dy, f, [n, h, w, cin], s),
        ...wgslCpuKernels.conv2dSameFilterBiasGrad(x, dy, k, s),
      ];
      const want = [
        tfjsKernels.conv2dSame(x, f, b, s),
        tfjsKernels.conv2dSameInputGrad(dy, f, [n, h, w, cin], s),
        ...tfjsKernels.conv2dSameFilterBiasGrad(x, dy, k, s),
      ];
      const names = ['forward', 'input grad', 'filter grad', 'bias grad'];
      for (let i = 0; i < 4; i++) await expectClose(got[i]!, want[i]!, `${tag} ${names[i]}`);
      tf.dispose([x, f, b, dy, ...got, ...want]);
    }
  });

  it('dense and its gradients equal the tfjs set (lane path and a fallback)', async (ctx) => {
    if (!webgpu()) ctx.skip();
    for (const [m, cin, cout] of [
      [10, 8, 12],
      [3, 4, 16],
      [7, 6, 8],
    ] as const) {
      const tag = `[${m},${cin},${cout}]`;
      const x = randn([m, cin], m + cin) as tf.Tensor2D;
      const wt = randn([cin, cout], cout, 0.3) as tf.Tensor2D;
      const b = randn([cout], 3) as tf.Tensor1D;
      const dy = randn([m, cout], 4) as tf.Tensor2D;
      const got = [
        wgslCpuKernels.dense(x, wt, b),
        wgslCpuKernels.denseInputGrad(dy, wt),
        ...wgslCpuKernels.denseWeightBiasGrad(x, dy),
      ];
      const want = [
        tfjsKernels.dense(x, wt, b),
        tfjsKernels.denseInputGrad(dy, wt),
        ...tfjsKernels.denseWeightBiasGrad(x, dy),
      ];
      const names = ['forward', 'input grad', 'weight grad', 'bias grad'];
      for (let i = 0; i < 4; i++) await expectClose(got[i]!, want[i]!, `${tag} ${names[i]}`);
      tf.dispose([x, wt, b, dy, ...got, ...want]);
    }
  });

  it('GroupNorm(+SiLU) with lane reductions equals the tfjs set in value and all gradients', async (ctx) => {
    if (!webgpu()) ctx.skip();
    const eps = { tensor: tf.keep(tf.scalar(1e-6)), value: 1e-6 };
    for (const [n, h, w, c, groups, act] of [
      [2, 4, 3, 12, 3, true],
      [1, 5, 5, 8, 1, false],
      [2, 3, 3, 16, 16, true],
    ] as const) {
      const tag = `[${[n, h, w, c, groups, act].join(',')}]`;
      // An offset mean checks the shifted sums; a scale of 2 a non-unit variance.
      const x = tf.add(randn([n, h, w, c], c + h, 2), 3) as tf.Tensor4D;
      const gamma = tf.add(randn([c], 3, 0.3), 1);
      const beta = randn([c], 4, 0.3);
      const up = randn([n, h, w, c], 5);
      const run = (set: typeof tfjsKernels) => {
        const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
          tf.sum(tf.mul(set.groupNormAct(xx as tf.Tensor4D, gg, bb, groups, eps, act), up));
        const value = set.groupNormAct(x, gamma, beta, groups, eps, act);
        return [value, ...tf.grads(f)([x, gamma, beta])];
      };
      const got = run(wgslCpuKernels);
      const want = run(tfjsKernels);
      const names = ['value', 'dx', 'dgamma', 'dbeta'];
      for (let i = 0; i < 4; i++) await expectClose(got[i]!, want[i]!, `${tag} ${names[i]}`);
      tf.dispose([x, gamma, beta, up, ...got, ...want]);
    }
    eps.tensor.dispose();
  });

  it("the demo's tiny UNet: sampling-size forward and a training loss's gradients equal the tfjs set", async (ctx) => {
    if (!webgpu()) ctx.skip();
    const net = new UNet(MODEL_PRESETS.tiny, 3);
    // The demo samples 16 images at once; its training step sees 2 × 8.
    const x = randn([16, 16, 16, 3], 1) as tf.Tensor4D;
    const t = tf.tensor1d(Array.from({ length: 16 }, (_, i) => 60 * i + 3));
    const e = randn([16, 16, 16, 3], 2);
    const run = async (set: 'tfjs' | 'wgsl-cpu') => {
      overrideKernelSet(set);
      const y = net.apply(x, t, { training: false });
      const loss = () => tf.tidy(() => tf.mean(tf.square(tf.sub(net.apply(x, t, { training: true }), e))) as tf.Scalar);
      const r = variableGradsFreeing(loss, net.variables);
      const out = { y: await y.data(), grads: await Promise.all(net.variables.map((v) => r.grads[v.name]!.data())) };
      tf.dispose([y, r.value, ...Object.values(r.grads)]);
      return out;
    };
    const plain = await run('tfjs');
    const lane = await run('wgsl-cpu');
    overrideKernelSet(null);
    expect(relErr(lane.y, plain.y), 'forward').toBeLessThan(1e-4);
    net.variables.forEach((v, i) => expect(relErr(lane.grads[i]!, plain.grads[i]!), v.name).toBeLessThan(1e-4));
    tf.dispose([x, t, e]);
    net.dispose();
  });
});
