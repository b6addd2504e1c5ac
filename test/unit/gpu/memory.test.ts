/**
 * What a training step holds in memory (issue 14): the forward pass keeps for backward only what the
 * backward reads, the optimiser's update allocates no weight-sized temporaries, and a step's peak of
 * bytes in use grows per image by about what backward reads. Bounds are computed from the model plan.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { assertGpuHealthy, initBackend } from '../../../src/engine/backend';
import { gpuMemoryStats, resetGpuPeak } from '../../../src/engine/gpu/memory';
import { overrideKernelSet } from '../../../src/engine/gpu/registry';
import { UNet, type UNetPlan } from '../../../src/engine/nets/unet';
import { variableGradsFreeing } from '../../../src/engine/nets/grads';
import { Adam, Ema, clipCoefficient } from '../../../src/engine/train/optimizer';
import { TrainState, trainStep } from '../../../src/engine/train/trainer';
import { BatchSampler, loadDataset } from '../../../src/engine/data/loader';
import { resolveRunConfig, type ModelConfig } from '../../../src/shared/config';
import { Rng } from '../../../src/engine/rng';

const CFG: ModelConfig = {
  ch: 16,
  chMult: [1, 2],
  numResBlocks: 1,
  attnResolutions: [8],
  dropout: 0.1,
  imageSize: 16,
  channels: 3,
  normGroups: 4,
};

/**
 * Floats per image that the backward pass reads, counted per consumer without sharing: each conv's
 * input, each residual block's input and the input of its second norm (the normalised activations
 * are recomputed), per attention its norm's input and output, q, k, v, the softmax weights and its
 * output, the loss terms. Before issue 14 a step kept about twice this.
 */
function backwardFloatsPerImage(plan: UNetPlan): number {
  const { cfg } = plan;
  let res = cfg.imageSize;
  let n = cfg.channels * res * res + 8 * cfg.ch * 4;
  // The norm's input (or what it keeps of it), its output, q, k, v, the attention output; the softmax weights.
  const attn = (c: number, r: number) => 6 * c * r * r + r ** 4;
  for (const level of plan.down) {
    for (const s of level.steps) {
      n += (s.block.cin + s.block.cout) * res * res;
      if (s.attn) n += attn(s.attn.channels, res);
    }
    if (level.downsample) {
      n += level.downsample.cin * res * res;
      res /= 2;
    }
  }
  const { block1, block2 } = plan.mid;
  n += (block1.cin + block1.cout + block2.cin + block2.cout) * res * res + attn(plan.mid.attn.channels, res);
  for (let i = plan.up.length - 1; i >= 0; i--) {
    const level = plan.up[i]!;
    for (const s of level.steps) {
      n += (s.block.cin + s.block.cout) * res * res;
      if (s.attn) n += attn(s.attn.channels, res);
    }
    if (level.upsample) {
      // The nearest resize keeps its input, the conv after it the upsampled one.
      n += level.upsample.cin * res * res * 5;
      res *= 2;
    }
  }
  return n + plan.normOut.channels * res * res + 2 * cfg.channels * res * res;
}

/** Bytes of the tensors the active tape keeps for backward, each buffer once, the variables' left out. */
function tapeSavedBytes(vars: tf.Variable[]): number {
  const tape = (tf.engine() as unknown as { state: { activeTape: { saved?: tf.Tensor[] }[] | null } }).state.activeTape;
  const seen = new Set<object>(vars.map((v) => v.dataId));
  let n = 0;
  for (const node of tape ?? []) {
    for (const t of node.saved ?? []) {
      if (seen.has(t.dataId)) continue;
      seen.add(t.dataId);
      n += t.size * 4;
    }
  }
  return n;
}

function randn(shape: number[], seed: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Rng.keyed(seed, 5).normal(size), shape, 'float32');
}

describe('a UNet forward pass keeps for backward only what backward reads', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('bytes the tape keeps at the end of the forward pass, per image, are within the plan bound', () => {
    const net = new UNet(CFG, 3);
    const images = 4;
    const x = randn([images, 16, 16, 3], 1) as tf.Tensor4D;
    const t = tf.tensor1d([3, 50, 200, 999]);
    let held = 0;
    const { value, grads } = variableGradsFreeing(() => {
      const out = net.apply(x, t, { training: true, dropoutKey: { seed: 1, step: 1, term: 0 } });
      const loss = tf.mean(tf.square(out)) as tf.Scalar;
      held = tapeSavedBytes(net.variables);
      return loss;
    }, net.variables);
    // 5% for what the plan does not list: norm statistics, the time embedding's small terms.
    const bound = 1.05 * backwardFloatsPerImage(net.plan) * 4;
    expect(held / images, `held ${held / images} bytes per image, bound ${bound}`).toBeLessThanOrEqual(bound);
    tf.dispose([value, ...Object.values(grads), x, t]);
    net.dispose();
  });
});

let webgpu = false;

describe('on WebGPU', () => {
  beforeAll(async () => {
    try {
      webgpu = (await initBackend('webgpu')).name === 'webgpu';
    } catch {
      webgpu = false;
    }
  });
  afterAll(() => overrideKernelSet(null));

  it('one clipped Adam + EMA update allocates nothing weight-sized and equals the op-by-op update', async (ctx) => {
    if (!webgpu) ctx.skip();
    const shapes = [[64, 48], [3000], [10, 10, 30]];
    const total = shapes.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
    const run = async (set: 'wgsl' | 'tfjs') => {
      overrideKernelSet(set);
      const vars = shapes.map((s, i) => tf.variable(randn(s, 10 + i), true, `mem-adam-${set}-${i}`));
      const adam = new Adam(vars, { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
      const ema = new Ema(adam.layout, adam.master, 0.99);
      let extra = 0;
      for (let step = 0; step < 3; step++) {
        const grad = randn([total], 20 + step) as tf.Tensor1D;
        const { norm, coef } = clipCoefficient(grad, 0.5);
        // Pending work first, so that only the update's own buffers count.
        await norm.data();
        resetGpuPeak();
        const base = gpuMemoryStats().usedPeakBytes;
        adam.apply(grad, 0.01, coef, ema);
        // The first update uploads m and v (zeros until then).
        if (step > 0) extra = Math.max(extra, gpuMemoryStats().usedPeakBytes - base);
        tf.dispose([grad, norm, coef!]);
      }
      const out = await Promise.all([adam.master, adam.m, adam.v, ema.shadow].map((t) => t.data()));
      tf.dispose(vars);
      adam.dispose();
      ema.dispose();
      assertGpuHealthy();
      return { extra, out: out.map((a) => Array.from(a)) };
    };
    const fused = await run('wgsl');
    const plain = await run('tfjs');
    expect(fused.extra, `bytes allocated by an update of ${total} weights`).toBeLessThan(total * 4);
    for (let i = 0; i < plain.out.length; i++) {
      const scale = Math.max(1e-3, ...plain.out[i]!.map(Math.abs));
      const err = Math.max(...plain.out[i]!.map((v, j) => Math.abs(v - fused.out[i]![j]!))) / scale;
      expect(err, `state ${i} (master, m, v, ema)`).toBeLessThan(1e-6);
    }
  });

  it("a SA-2 training step's peak bytes in use grow per image by at most 1.5x what backward reads", async (ctx) => {
    if (!webgpu) ctx.skip();
    overrideKernelSet(null);
    const peakAt = async (batch: number) => {
      const cfg = resolveRunConfig({ ...CFG, preset: 'tiny', dataset: 'builtin:shapes', batch, k: 2, lambda: 1 });
      const ds = loadDataset(cfg.dataset);
      const state = new TrainState(cfg);
      const sampler = new BatchSampler(ds, cfg.seed);
      let peak = 0;
      for (let step = 1; step <= 2; step++) {
        const out = trainStep(state, ds, sampler, step);
        await out.loss.data();
        tf.dispose(Object.values(out));
        // The second step, with the optimiser state in place, is the steady one.
        if (step === 1) resetGpuPeak();
        else peak = gpuMemoryStats().usedPeakBytes;
      }
      state.dispose();
      assertGpuHealthy();
      return { peak, plan: state.net.plan };
    };
    const a = await peakAt(2);
    const b = await peakAt(6);
    const perImage = (b.peak - a.peak) / (2 * (6 - 2));
    const bound = 1.5 * backwardFloatsPerImage(a.plan) * 4;
    expect(perImage, `peak in use grows by ${perImage} bytes per image, bound ${bound}`).toBeLessThanOrEqual(bound);
  });
});
