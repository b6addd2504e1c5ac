/**
 * gpu/dispatchHost.ts on the WebGPU backend (llvmpipe here): the GPU must compute the same bits with
 * bind groups reused and uniforms packed as with tfjs' own per-dispatch ones, when many blocks share a
 * submit, and after buffers that cached bind groups name are destroyed.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { useWebGpu } from './gpuTestUtil';
import {
  dispatchHostStats,
  installDispatchHost,
  uninstallDispatchHost,
  type DispatchHostStats,
} from '../../../src/engine/gpu/dispatchHost';
import { gpuMemoryStats, resetGpuPeak, trimBufferPool } from '../../../src/engine/gpu/memory';
import { resolveRunConfig } from '../../../src/shared/config';
import { TrainState, trainStep } from '../../../src/engine/train/trainer';
import { BatchSampler, loadDataset } from '../../../src/engine/data/loader';
import { Rng } from '../../../src/engine/rng';

/** Runs `f` with the overrides on or off; what it returns is read back as float32 arrays. */
async function withOverrides(on: boolean, f: () => Promise<Float32Array[]>): Promise<Float32Array[]> {
  if (on) expect(installDispatchHost(tf.backend())).toBe(true);
  else uninstallDispatchHost();
  try {
    return await f();
  } finally {
    installDispatchHost(tf.backend());
  }
}

function expectSameBits(a: Float32Array[], b: Float32Array[]): void {
  expect(a.length).toBe(b.length);
  a.forEach((x, i) => {
    const same = Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
      Buffer.from(b[i]!.buffer, b[i]!.byteOffset, b[i]!.byteLength),
    );
    expect(same, `array ${i} of ${a.length} differs`).toBe(true);
  });
}

function delta(after: DispatchHostStats, before: DispatchHostStats) {
  return {
    dispatches: after.dispatches - before.dispatches,
    hits: after.bindGroupHits - before.bindGroupHits,
    fallbacks: after.fallbacks - before.fallbacks,
  };
}

const read = async (ts: tf.Tensor[]) => {
  const out = await Promise.all(ts.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(ts);
  return out;
};

describe('dispatchHost', () => {
  const webgpu = useWebGpu();

  it('is installed by initBackend', (ctx) => {
    if (!webgpu()) ctx.skip();
    expect(dispatchHostStats()).not.toBeNull();
  });

  it('three SA-2 training steps with dropout give the same losses and weights, bit for bit', async (ctx) => {
    if (!webgpu()) ctx.skip();
    const micro = { ch: 8, chMult: [1, 2], numResBlocks: 1, attnResolutions: [8], normGroups: 4 };
    const run = { dataset: 'builtin:shapes', batch: 2, T: 100, k: 2, lambda: 1, dropout: 0.1, steps: 3, gapT0: 10 };
    const cfg = resolveRunConfig({ preset: 'tiny', ...micro, ...run });
    const ds = loadDataset(cfg.dataset);
    const train = async () => {
      const state = new TrainState(cfg);
      const sampler = new BatchSampler(ds, cfg.seed);
      const losses: number[] = [];
      for (let s = 1; s <= 3; s++) {
        const out = trainStep(state, ds, sampler, s);
        losses.push((await out.loss.data())[0]!);
        for (const t of Object.values(out)) t.dispose();
      }
      const weights = await state.net.readWeights();
      state.dispose();
      return [Float32Array.from(losses), ...weights];
    };
    const off = await withOverrides(false, train);
    const before = dispatchHostStats()!;
    const on = await withOverrides(true, train);
    const d = delta(dispatchHostStats()!, before);
    expectSameBits(on, off);
    expect(d.fallbacks).toBe(0);
    // Steps 2 and 3 bind what step 1 bound: most of their dispatches reuse a bind group.
    expect(d.hits).toBeGreaterThan(d.dispatches / 3);
  });

  it('packs more uniform blocks into one submit than a chunk holds, each dispatch keeping its own', async (ctx) => {
    if (!webgpu()) ctx.skip();
    const batch = tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE');
    // One submit for the whole chain: ~600 blocks of 256 bytes, several 64 KiB chunks.
    tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', 5000);
    const chain = () =>
      read(
        tf.tidy(() => {
          let x: tf.Tensor = tf.tensor1d(Rng.keyed(3).normal(64));
          const outs: tf.Tensor[] = [];
          // ClipByValue carries its bounds as uniforms: a block read at the wrong offset changes the result.
          for (let i = 0; i < 600; i++) {
            const lo = -3 + (i % 7) * 0.25;
            x = tf.clipByValue(tf.add(x, 0.01 * (i % 5)), lo, lo + 2.5 + (i % 3) * 0.5);
            if (i % 60 === 59) outs.push(x);
          }
          return outs;
        }),
      );
    try {
      const off = await withOverrides(false, chain);
      const on = await withOverrides(true, chain);
      expectSameBits(on, off);
      expect(dispatchHostStats()!.uniformChunks).toBeGreaterThan(1);
    } finally {
      tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', batch);
    }
  });

  it('submits early once the tensors freed since the last submit hold SADPM_PENDING_FREE_MB: same bits, less memory', async (ctx) => {
    if (!webgpu()) ctx.skip();
    const batch = tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE');
    const limit = process.env.SADPM_PENDING_FREE_MB;
    // 1 MiB tensors, each freed one op after it was made, with no submit of tfjs' own for 5000 dispatches.
    tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', 5000);
    const chain = async () => {
      let x: tf.Tensor = tf.tensor1d(Rng.keyed(4).normal(2 ** 18));
      for (let i = 0; i < 48; i++) {
        const y = tf.add(x, 0.5 * (i % 3) - 0.4);
        x.dispose();
        x = y;
      }
      return read([x]);
    };
    const run = async (mb: string) => {
      process.env.SADPM_PENDING_FREE_MB = mb;
      uninstallDispatchHost();
      expect(installDispatchHost(tf.backend())).toBe(true);
      const before = dispatchHostStats()!.pressureSubmits;
      resetGpuPeak();
      const out = await chain();
      return { out, pressure: dispatchHostStats()!.pressureSubmits - before, peak: gpuMemoryStats().usedPeakBytes };
    };
    try {
      process.env.SADPM_PENDING_FREE_MB = '-1';
      uninstallDispatchHost();
      expect(() => installDispatchHost(tf.backend())).toThrow(
        'SADPM_PENDING_FREE_MB=-1: expected a number of MiB >= 0 (0: off)',
      );
      const off = await run('0');
      const on = await run('4');
      expectSameBits(on.out, off.out);
      expect(off.pressure).toBe(0);
      expect(on.pressure).toBeGreaterThanOrEqual(8);
      // Held until the end of the chain without the early submits: ~48 MiB; with them, a few MiB.
      expect(off.peak).toBeGreaterThan(40 * 2 ** 20);
      expect(on.peak).toBeLessThan(12 * 2 ** 20);
    } finally {
      tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', batch);
      if (limit === undefined) delete process.env.SADPM_PENDING_FREE_MB;
      else process.env.SADPM_PENDING_FREE_MB = limit;
      uninstallDispatchHost();
      installDispatchHost(tf.backend());
    }
  });

  it('binds the new buffers after the pool destroyed the ones cached bind groups name', async (ctx) => {
    if (!webgpu()) ctx.skip();
    // 64 KiB tensors: the pool's trim destroys freed buffers from that size up.
    const op = () =>
      read([
        tf.tidy(() => {
          const a = tf.tensor2d(Rng.keyed(5).normal(128 * 128), [128, 128]);
          return tf.sum(tf.relu(tf.matMul(tf.add(a, 1), a)), 0);
        }),
      ]);
    const off = await withOverrides(false, op);
    await withOverrides(true, async () => {
      const first = await op();
      // The freed 64 KiB buffers the first call's bind groups name are destroyed here; the second call
      // gets new ones of the same sizes (a group naming a destroyed buffer would fail validation).
      trimBufferPool(0);
      const second = await op();
      expectSameBits(first, off);
      expectSameBits(second, off);
      return second;
    });
  });
});
