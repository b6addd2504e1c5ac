/**
 * Moving the optimiser's flat buffers to and from the model's ~150 variables, and splitting a
 * kernel's packed output, with buffer copies recorded in tfjs-webgpu's command encoder instead of a
 * slice + reshape (or reshape + concat) kernel per piece: each dispatch costs tens of µs of host
 * time, and those dispatches were a quarter of a small-UNet step's.
 *
 * Safety: a copy writes a variable's buffer in place, so it is only done when the variable alone
 * holds that buffer (tfjs refCount 1); the tensors involved are marked as used by the pending
 * encoder so tfjs defers recycling their buffers until it is submitted, as it does for its own
 * kernels. Queue order puts each copy after every kernel recorded before it.
 *
 * tfjs caches a tensor's values on the CPU at its first read and serves them from then on: it never
 * expects a buffer to change under a live tensor. A copy into a target therefore drops the target's
 * CPU copy (`forgetCpuValues`), or the next read returns the values of that first read (this left
 * every checkpoint after a process's first one with stale weights).
 */
import { tf } from '../tf';

/** The parts of tfjs-webgpu's WebGPUBackend (4.x) used here. */
export interface TfjsWebGPUBackend {
  tensorMap: {
    get(dataId: object): { dtype: string; refCount: number; resource: unknown; values: unknown } | undefined;
  };
  commandQueueOwnedIds: WeakSet<object>;
  commandEncoder: GPUCommandEncoder | null;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  uploadToGPU(dataId: object): void;
  makeTensorInfo(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

export function webgpuBackend(): TfjsWebGPUBackend | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const b = tf.backend() as unknown as Partial<TfjsWebGPUBackend>;
  const ok =
    b.tensorMap &&
    b.commandQueueOwnedIds instanceof WeakSet &&
    typeof b.ensureCommandEncoderReady === 'function' &&
    typeof b.endComputePassEncoder === 'function';
  return ok ? (b as TfjsWebGPUBackend) : null;
}

export function gpuBuffer(be: TfjsWebGPUBackend, t: tf.Tensor): GPUBuffer | null {
  be.uploadToGPU(t.dataId);
  const data = be.tensorMap.get(t.dataId);
  if (!data || data.dtype !== 'float32') return null;
  const r = data.resource as { size?: number; mapState?: string } | null;
  return r && typeof r.size === 'number' && typeof r.mapState === 'string' ? (r as GPUBuffer) : null;
}

/** After writing a tensor's GPU buffer behind tfjs' back: its next read must download the buffer. */
export function forgetCpuValues(be: TfjsWebGPUBackend, t: tf.Tensor): void {
  const data = be.tensorMap.get(t.dataId);
  if (data) data.values = null;
}

export function encoder(be: TfjsWebGPUBackend): GPUCommandEncoder {
  be.ensureCommandEncoderReady();
  be.endComputePassEncoder();
  return be.commandEncoder!;
}

/**
 * Writes flat[offsets[i] .. + size] into targets[i] in place; false (nothing written) when the
 * backend is not tfjs-webgpu or a target shares its buffer, so the caller takes the kernel path.
 */
export function copyFlatInto(flat: tf.Tensor1D, targets: tf.Tensor[], offsets: number[]): boolean {
  const be = webgpuBackend();
  if (!be) return false;
  const src = gpuBuffer(be, flat);
  if (!src) return false;
  const dst: GPUBuffer[] = [];
  for (const t of targets) {
    const buf = gpuBuffer(be, t);
    if (!buf || be.tensorMap.get(t.dataId)!.refCount !== 1 || buf.size < t.size * 4) return false;
    dst.push(buf);
  }
  const enc = encoder(be);
  targets.forEach((t, i) => {
    if (t.size > 0) enc.copyBufferToBuffer(src, offsets[i]! * 4, dst[i]!, 0, t.size * 4);
    be.commandQueueOwnedIds.add(t.dataId);
    forgetCpuValues(be, t);
  });
  be.commandQueueOwnedIds.add(flat.dataId);
  return true;
}

/** A float32 tensor of `shape` with a buffer of its own and undefined contents (to be copied into). */
export function emptyTensor(be: TfjsWebGPUBackend, shape: number[]): { t: tf.Tensor; buf: GPUBuffer } | null {
  // A tensor with no values: uploadToGPU only allocates its buffer.
  const t = tf.engine().makeTensorFromTensorInfo(be.makeTensorInfo(shape, 'float32'));
  const buf = gpuBuffer(be, t);
  if (!buf) {
    t.dispose();
    return null;
  }
  return { t, buf };
}

/**
 * Consecutive ranges of a float32 tensor as new 1-D tensors (sizes in elements, from the start);
 * null when the backend is not tfjs-webgpu, so the caller slices with kernels instead.
 */
export function splitFlat(flat: tf.Tensor, sizes: number[]): tf.Tensor1D[] | null {
  const be = webgpuBackend();
  if (!be) return null;
  const src = gpuBuffer(be, flat);
  if (!src) return null;
  const outs: { t: tf.Tensor; buf: GPUBuffer }[] = [];
  for (const n of sizes) {
    const o = emptyTensor(be, [n]);
    if (!o) {
      tf.dispose(outs.map((x) => x.t));
      return null;
    }
    outs.push(o);
  }
  const enc = encoder(be);
  let off = 0;
  outs.forEach((o, i) => {
    if (sizes[i]! > 0) enc.copyBufferToBuffer(src, off * 4, o.buf, 0, sizes[i]! * 4);
    be.commandQueueOwnedIds.add(o.t.dataId);
    off += sizes[i]!;
  });
  be.commandQueueOwnedIds.add(flat.dataId);
  return outs.map((o) => o.t as tf.Tensor1D);
}

/** A new 1-D tensor of `parts` back to back (float32); null when the backend is not tfjs-webgpu. */
export function concatFlat(parts: tf.Tensor[]): tf.Tensor1D | null {
  const be = webgpuBackend();
  if (!be) return null;
  const srcs: GPUBuffer[] = [];
  for (const p of parts) {
    const buf = gpuBuffer(be, p);
    if (!buf) return null;
    srcs.push(buf);
  }
  const total = parts.reduce((a, p) => a + p.size, 0);
  const made = emptyTensor(be, [total]);
  if (!made) return null;
  const out = made.t as tf.Tensor1D;
  const dst = made.buf;
  const enc = encoder(be);
  let off = 0;
  parts.forEach((p, i) => {
    if (p.size > 0) enc.copyBufferToBuffer(srcs[i]!, 0, dst, off * 4, p.size * 4);
    be.commandQueueOwnedIds.add(p.dataId);
    off += p.size;
  });
  be.commandQueueOwnedIds.add(out.dataId);
  return out;
}
