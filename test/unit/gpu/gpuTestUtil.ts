/** Shared by the GPU kernel tests: seeded inputs and a relative error that tolerates near-zero tensors. */
import { afterEach, beforeAll, expect } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { Rng } from '../../../src/engine/rng';
import { assertGpuHealthy, initBackend } from '../../../src/engine/backend';

/** A seeded standard-normal tensor times `scale`; `stream` keeps different test files' draws apart. */
export function randn(shape: number[], seed: number, scale = 1, stream = 11): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Rng.keyed(seed, stream)
      .normal(size)
      .map((v) => v * scale),
    shape,
    'float32',
  );
}

/** max |a-b| / max |b|, with a floor on the scale so all-but-zero tensors compare absolutely. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  let s = 1e-3;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return d / s;
}

/**
 * Fills every buffer in tfjs-webgpu's pool of freed buffers with NaN. A kernel that fails to write
 * part of its output (or of an intermediate) would otherwise go unnoticed whenever it is handed a
 * recycled buffer that still holds a previous, correct result.
 */
export function poisonFreeBuffers(): void {
  const be = tf.backend() as unknown as {
    device?: GPUDevice;
    bufferManager?: { freeBuffers?: Map<string, GPUBuffer[]> };
  };
  const free = be.bufferManager?.freeBuffers;
  if (!be.device || !(free instanceof Map)) throw new Error('poisonFreeBuffers needs the tfjs-webgpu backend');
  for (const list of free.values()) {
    for (const buf of list) {
      if (buf.usage & GPUBufferUsage.COPY_DST)
        be.device.queue.writeBuffer(buf, 0, new Float32Array(buf.size / 4).fill(NaN));
    }
  }
}

/**
 * Call inside a describe: sets the WebGPU backend up before its tests and fails a test whose GPU work raised an
 * error (shader and validation errors surface asynchronously). Returns whether WebGPU is there, for ctx.skip().
 */
export function useWebGpu(): () => boolean {
  let ok = false;
  beforeAll(async () => {
    try {
      ok = (await initBackend('webgpu')).name === 'webgpu';
    } catch {
      ok = false;
    }
  });
  afterEach(() => {
    if (ok) assertGpuHealthy();
  });
  return () => ok;
}
