/**
 * SADPM_SUBMIT_BATCH (dispatches per WebGPU queue submit, a benchmark knob) and the pool's budget: a bad value is refused naming the
 * variable before the backend is set up; a good one reaches tfjs' flag. Its own file: the backend is set up once per
 * process.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { initBackend } from '../../../src/engine/backend';

afterAll(() => {
  delete process.env.SADPM_SUBMIT_BATCH;
  delete process.env.SADPM_GPU_POOL_MB;
  delete process.env.SADPM_GPU_POOL_FRACTION;
});

describe('SADPM_SUBMIT_BATCH', () => {
  it('a bad SADPM_GPU_POOL_MB or SADPM_GPU_POOL_FRACTION is refused naming it (was ignored)', async () => {
    process.env.SADPM_GPU_POOL_MB = 'lots';
    await expect(initBackend('webgpu')).rejects.toThrow('SADPM_GPU_POOL_MB=lots: expected MiB >= 0');
    delete process.env.SADPM_GPU_POOL_MB;
    process.env.SADPM_GPU_POOL_FRACTION = '0';
    await expect(initBackend('webgpu')).rejects.toThrow('SADPM_GPU_POOL_FRACTION=0: expected a fraction > 0');
    delete process.env.SADPM_GPU_POOL_FRACTION;
  });

  it('refuses 0, 2.5 and "x" naming the variable, then takes 30', async (ctx) => {
    for (const bad of ['0', '2.5', 'x']) {
      process.env.SADPM_SUBMIT_BATCH = bad;
      await expect(initBackend('webgpu')).rejects.toThrow(`SADPM_SUBMIT_BATCH=${bad}: expected a positive integer`);
    }
    process.env.SADPM_SUBMIT_BATCH = '30';
    let name: string;
    try {
      name = (await initBackend('webgpu')).name;
    } catch {
      ctx.skip();
      return;
    }
    expect(name).toBe('webgpu');
    expect(tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE')).toBe(30);
  });
});
