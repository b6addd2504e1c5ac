/** The tfjs (float32, on-device) metric kernels against the float64 CPU ones, on the cpu and webgpu backends. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { assertGpuHealthy, initBackend } from '../../../src/engine/backend';
import { cpuKernels } from '../../../src/engine/metrics/kernels';
import { TfMomentAccumulator, tfKernels } from '../../../src/engine/metrics/tfKernels';
import { GaussianAccumulator } from '../../../src/engine/metrics/stats';
import { kernelInceptionDistance } from '../../../src/engine/metrics/kid';
import { precisionRecall } from '../../../src/engine/metrics/precisionRecall';
import type { FeatureMatrix } from '../../../src/engine/metrics/features';
import { maxAbs, randn } from './helpers';

function points(rows: number, dim: number, seed: number, scale = 1, shift = 0): FeatureMatrix {
  return { rows, dim, data: Float32Array.from(randn(rows * dim, seed), (v) => v * scale + shift) };
}

let webgpu = false;

describe('metrics/tfKernels', () => {
  beforeAll(async () => {
    try {
      webgpu = (await initBackend('webgpu')).name === 'webgpu';
    } catch {
      webgpu = false;
    }
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const backend of ['cpu', 'webgpu'] as const) {
    it(`KID, k-NN radii, coverage and moments equal the float64 CPU results on ${backend}`, async (ctx) => {
      if (backend === 'webgpu' && !webgpu) ctx.skip();
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      const real = points(70, 16, 1);
      const fake = points(60, 16, 2, 1.2, 0.3);
      const opts = { subsets: 4, subsetSize: 50, seed: 3 };
      const a = await kernelInceptionDistance(real, fake, { ...opts, kernels: cpuKernels });
      const b = await kernelInceptionDistance(real, fake, { ...opts, kernels: tfKernels });
      expect(maxAbs(a.values, b.values)).toBeLessThan(1e-5 * Math.max(...a.values.map(Math.abs)) + 1e-7);
      const ra = await cpuKernels.kthNeighbourSq(real, 3);
      const rb = await tfKernels.kthNeighbourSq(real, 3);
      expect(maxAbs(ra, rb) / Math.max(...ra)).toBeLessThan(1e-5);
      const ca = await cpuKernels.covered(fake, real, ra);
      const cb = await tfKernels.covered(fake, real, ra);
      expect(ca.filter((v, i) => v !== cb[i]).length).toBeLessThanOrEqual(1); // a point on a sphere may round either way
      expect(await precisionRecall(real, real, { kernels: tfKernels })).toMatchObject({ precision: 1, recall: 1 });

      const cpuAcc = new GaussianAccumulator(16);
      cpuAcc.add(real.data, 70);
      const gpuAcc = new GaussianAccumulator(16);
      const moments = new TfMomentAccumulator(gpuAcc, 32);
      for (const [lo, hi] of [
        [0, 20],
        [20, 50],
        [50, 70],
      ] as const) {
        const t = tf.tensor2d(real.data.subarray(lo * 16, hi * 16) as Float32Array, [hi - lo, 16]);
        await moments.add(t);
        t.dispose();
      }
      await moments.flush();
      moments.dispose();
      const c1 = cpuAcc.finish();
      const c2 = gpuAcc.finish();
      expect(c2.count).toBe(70);
      expect(maxAbs(c1.cov, c2.cov)).toBeLessThan(1e-5);
      expect(maxAbs(c1.mean, c2.mean)).toBeLessThan(1e-6);
      if (backend === 'webgpu') assertGpuHealthy();
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
