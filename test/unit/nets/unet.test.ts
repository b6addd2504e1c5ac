import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { UNet, countUNetParams, buildUNetPlan, timestepFrequencies } from '../../../src/engine/nets/unet';
import { MODEL_PRESETS, type ModelConfig } from '../../../src/shared/config';
import { Rng } from '../../../src/engine/rng';
import { Weights, fromNHWC, referenceForward } from './unetReference';

/** Very small config: 2 levels, attention at 4x4, nin shortcuts, up/downsampling. */
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

function randn(shape: number[], seed: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Rng.keyed(seed, 99).normal(size), shape, 'float32');
}

async function forward(
  m: UNet,
  x: tf.Tensor4D,
  t: tf.Tensor1D,
  opts: Parameters<UNet['apply']>[2],
): Promise<Float32Array> {
  const y = m.apply(x, t, opts);
  const d = (await y.data()) as Float32Array;
  y.dispose();
  return d;
}

describe('UNet', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    await tf.ready();
  });

  describe('parameter count', () => {
    it('matches the PyTorch model for the official presets (analytic)', () => {
      expect(countUNetParams(MODEL_PRESETS.cifar10)).toBe(35_746_307);
      expect(countUNetParams(MODEL_PRESETS.celeba64)).toBe(78_700_803);
    });

    it('equals paramCount() of instantiated tiny and small models', () => {
      for (const name of ['tiny', 'small'] as const) {
        const m = new UNet(MODEL_PRESETS[name], 0);
        try {
          expect(m.paramCount()).toBe(countUNetParams(MODEL_PRESETS[name]));
          expect(m.variables.length).toBe(m.names.length);
          expect(new Set(m.names).size).toBe(m.names.length);
        } finally {
          m.dispose();
        }
      }
    });

    it('names variables after the PyTorch state_dict, in its order', () => {
      const plan = buildUNetPlan(MODEL_PRESETS.cifar10);
      const names = plan.params.map((p) => p.name);
      expect(names.slice(0, 6)).toEqual([
        'temb.dense.0.w',
        'temb.dense.0.b',
        'temb.dense.1.w',
        'temb.dense.1.b',
        'conv_in.w',
        'conv_in.b',
      ]);
      expect(names.slice(-4)).toEqual(['norm_out.gamma', 'norm_out.beta', 'conv_out.w', 'conv_out.b']);
      expect(names).toContain('down.0.block.0.conv1.w');
      expect(names).toContain('down.1.attn.1.proj_out.b');
      expect(names).toContain('down.2.downsample.conv.w');
      expect(names).not.toContain('down.3.downsample.conv.w');
      expect(names).toContain('mid.attn_1.q.w');
      expect(names).toContain('up.0.block.2.nin_shortcut.w');
      expect(names).not.toContain('up.0.upsample.conv.w');
      expect(names).toContain('up.3.upsample.conv.w');
      // Down levels come before mid, mid before up, up.0 before up.1.
      const idx = (n: string) => names.indexOf(n);
      expect(idx('down.3.block.1.conv2.b')).toBeLessThan(idx('mid.block_1.norm1.gamma'));
      expect(idx('mid.block_2.conv2.b')).toBeLessThan(idx('up.0.block.0.norm1.gamma'));
      expect(idx('up.0.block.2.conv2.b')).toBeLessThan(idx('up.1.block.0.norm1.gamma'));
      expect(plan.params.find((p) => p.name === 'up.1.block.0.conv1.w')?.shape).toEqual([3, 3, 512, 256]);
      expect(plan.params.find((p) => p.name === 'up.0.block.2.conv1.w')?.shape).toEqual([3, 3, 256, 128]);
      expect(plan.numDropout).toBe(8 + 2 + 12);
    });

    it('rejects configs the architecture cannot build', () => {
      expect(() => countUNetParams({ ...MICRO, normGroups: 5 })).toThrow(/normGroups/);
      expect(() => countUNetParams({ ...MICRO, imageSize: 6, chMult: [1, 2, 2] })).toThrow(/divisible/);
    });
  });

  it('maps [N,H,W,C] to the same shape (tiny, batch 2)', async () => {
    const m = new UNet(MODEL_PRESETS.tiny, 1);
    const x = randn([2, 16, 16, 3], 1) as tf.Tensor4D;
    const t = tf.tensor1d([0, 999], 'float32');
    const y = m.apply(x, t, { training: false });
    expect(y.shape).toEqual([2, 16, 16, 3]);
    const d = await y.data();
    expect(d.every(Number.isFinite)).toBe(true);
    tf.dispose([x, t, y]);
    m.dispose();
  });

  it('matches a plain-JS transcription of the reference forward', async () => {
    const cfg: ModelConfig = { ...MICRO, ch: 8, normGroups: 4, numResBlocks: 2 };
    const m = new UNet(cfg, 5);
    // Non-trivial GroupNorm affine parameters, so gamma/beta wiring is checked too.
    const w = await m.readWeights();
    m.names.forEach((n, i) => {
      if (n.endsWith('.gamma') || n.endsWith('.beta'))
        Rng.keyed(7, i).fillUniform(w[i]!, n.endsWith('.gamma') ? 0.5 : -0.5, n.endsWith('.gamma') ? 1.5 : 0.5);
    });
    m.writeWeights(w);
    const W = new Weights(new Map(m.names.map((n, i) => [n, w[i]!])));
    const x = randn([2, 8, 8, 3], 3) as tf.Tensor4D;
    const tv = [17, 640];
    const t = tf.tensor1d(tv, 'float32');
    const got = await forward(m, x, t, { training: false });
    const ref = referenceForward(cfg, W, fromNHWC(await x.data(), 2, 8, 8, 3), tv);
    let maxErr = 0;
    let maxRef = 0;
    for (let i = 0; i < got.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(got[i]! - ref.d[i]!));
      maxRef = Math.max(maxRef, Math.abs(ref.d[i]!));
    }
    expect(maxRef).toBeGreaterThan(0.05);
    expect(maxErr).toBeLessThan(2e-4 * Math.max(1, maxRef));
    tf.dispose([x, t]);
    m.dispose();
  });

  it('uses the reference timestep frequencies', () => {
    const f = timestepFrequencies(128);
    expect(f.length).toBe(64);
    expect(f[0]).toBe(1);
    expect(f[63]).toBeCloseTo(1e-4, 8);
  });

  describe('init', () => {
    it('is deterministic in the seed and PyTorch-default in range', async () => {
      const a = new UNet(MICRO, 42);
      const b = new UNet(MICRO, 42);
      const c = new UNet(MICRO, 43);
      const [wa, wb, wc] = await Promise.all([a.readWeights(), b.readWeights(), c.readWeights()]);
      for (let i = 0; i < wa.length; i++) expect(wb[i]).toEqual(wa[i]);
      const convIn = a.names.indexOf('conv_in.w');
      expect(wc[convIn]).not.toEqual(wa[convIn]);
      a.names.forEach((n, i) => {
        const v = wa[i]!;
        if (n.endsWith('.gamma')) expect(v.every((x) => x === 1)).toBe(true);
        else if (n.endsWith('.beta')) expect(v.every((x) => x === 0)).toBe(true);
        else {
          // fan_in: conv [k,k,in,out] -> k*k*in; linear [in,out] -> in. Bias shares its weight's bound.
          const wShape = a.variables[n.endsWith('.b') ? i - 1 : i]!.shape;
          const fanIn = wShape.slice(0, -1).reduce((p, q) => p * q, 1);
          const bound = 1 / Math.sqrt(fanIn);
          const maxAbs = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
          expect(maxAbs).toBeLessThanOrEqual(bound);
          if (v.length >= 64) expect(maxAbs).toBeGreaterThan(0.8 * bound);
        }
      });
      a.dispose();
      b.dispose();
      c.dispose();
    });
  });

  it('does not leak tensors', () => {
    const m = new UNet(MICRO, 0);
    const x = randn([2, 8, 8, 3], 1) as tf.Tensor4D;
    const t = tf.tensor1d([1, 2], 'float32');
    const before = tf.memory().numTensors;
    m.apply(x, t, { training: false }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, t]);
    const beforeDispose = tf.memory().numTensors;
    const nVars = m.variables.length;
    m.dispose();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(beforeDispose - nVars);
  });

  it('sends finite, non-zero gradients to every variable', () => {
    const m = new UNet(MICRO, 3);
    const x = randn([2, 8, 8, 3], 2) as tf.Tensor4D;
    const t = tf.tensor1d([5, 500], 'float32');
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tf.square(m.apply(x, t, { training: true }))) as tf.Scalar,
      m.variables,
    );
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    const bad: string[] = [];
    m.variables.forEach((v, i) => {
      const g = grads[v.name];
      if (!g) return void bad.push(`${m.names[i]}: missing`);
      expect(g.shape).toEqual(v.shape);
      const d = g.dataSync();
      if (!d.every(Number.isFinite)) bad.push(`${m.names[i]}: non-finite`);
      else if (!d.some((q) => q !== 0)) bad.push(`${m.names[i]}: all zero`);
    });
    expect(bad).toEqual([]);
    tf.dispose([x, t, value, ...Object.values(grads)]);
    m.dispose();
  });

  it('applies dropout only in training, deterministically per dropout key', async () => {
    const cfg = { ...MICRO, dropout: 0.3 };
    const m = new UNet(cfg, 9);
    const x = randn([2, 8, 8, 3], 4) as tf.Tensor4D;
    const t = tf.tensor1d([10, 20], 'float32');
    const evalOut = await forward(m, x, t, { training: false });
    const evalOut2 = await forward(m, x, t, { training: false, dropoutKey: { seed: 1, step: 1, term: 0 } });
    const a = await forward(m, x, t, { training: true, dropoutKey: { seed: 123, step: 1, term: 0 } });
    const b = await forward(m, x, t, { training: true, dropoutKey: { seed: 123, step: 1, term: 0 } });
    const c = await forward(m, x, t, { training: true, dropoutKey: { seed: 124, step: 1, term: 0 } });
    expect(evalOut2).toEqual(evalOut);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(a).not.toEqual(evalOut);
    // Same weights, dropout 0: training and eval agree.
    const m0 = new UNet(MICRO, 9);
    const e0 = await forward(m0, x, t, { training: false });
    const tr0 = await forward(m0, x, t, { training: true, dropoutKey: { seed: 5, step: 1, term: 0 } });
    expect(tr0).toEqual(e0);
    expect(e0).toEqual(evalOut);
    tf.dispose([x, t]);
    m.dispose();
    m0.dispose();
  });

  describe('readWeights / writeWeights', () => {
    let a: UNet;
    let b: UNet;
    beforeAll(() => {
      a = new UNet(MICRO, 1);
      b = new UNet(MICRO, 2);
    });
    afterAll(() => {
      a.dispose();
      b.dispose();
    });

    it('round-trips and makes models agree', async () => {
      const wa = await a.readWeights();
      b.writeWeights(wa);
      const wb = await b.readWeights();
      for (let i = 0; i < wa.length; i++) expect(wb[i]).toEqual(wa[i]);
      const x = randn([1, 8, 8, 3], 8) as tf.Tensor4D;
      const t = tf.tensor1d([3], 'float32');
      expect(await forward(b, x, t, { training: false })).toEqual(await forward(a, x, t, { training: false }));
      tf.dispose([x, t]);
    });

    it('returns copies, not live buffers', async () => {
      const w1 = await a.readWeights();
      w1[0]!.fill(123);
      const w2 = await a.readWeights();
      expect(w2[0]![0]).not.toBe(123);
    });

    it('rejects a wrong count or size with a clear error and changes nothing', async () => {
      const before = await b.readWeights();
      expect(() => b.writeWeights(before.slice(1))).toThrow(/expected \d+ arrays/);
      const bad = before.slice();
      const i = b.names.indexOf('mid.attn_1.q.w');
      bad[i] = new Float32Array(3);
      expect(() => b.writeWeights(bad)).toThrow(
        /'mid\.attn_1\.q\.w' expects 1024 values \(shape \[1, 1, 32, 32\]\), got 3/,
      );
      const after = await b.readWeights();
      for (let k = 0; k < before.length; k++) expect(after[k]).toEqual(before[k]);
    });
  });

  it('instantiates and runs the small preset', async () => {
    const m = new UNet(MODEL_PRESETS.small, 0);
    expect(m.paramCount()).toBe(countUNetParams(MODEL_PRESETS.small));
    const x = randn([1, 32, 32, 3], 5) as tf.Tensor4D;
    const t = tf.tensor1d([100], 'float32');
    const y = await forward(m, x, t, { training: true, dropoutKey: { seed: 1, step: 1, term: 0 } });
    expect(y.length).toBe(32 * 32 * 3);
    expect(y.every(Number.isFinite)).toBe(true);
    tf.dispose([x, t]);
    m.dispose();
  });
});
