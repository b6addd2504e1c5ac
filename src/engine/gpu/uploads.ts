/**
 * Host-to-GPU uploads through queue.writeBuffer. tfjs-webgpu 4.x uploads each CPU-held tensor (every
 * batch, noise draw and scalar constant) by creating a mapped staging buffer, copying into it and
 * recording a buffer copy: one device.createBuffer per upload, ~7% of a small-UNet step's host time
 * on the H100. writeBuffer lets Dawn stage through its own ring buffer instead.
 *
 * Ordering is unchanged: the destination is a fresh or pooled buffer that no recorded command uses
 * (tfjs returns buffers to its pool only after the encoder that used them is submitted), and
 * writeBuffer is ordered before the next submit, which holds every command that reads it.
 */

/** The part of tfjs-webgpu's WebGPUBackend (4.x) this module relies on. */
interface TfjsWebGPUBackend {
  tensorMap: {
    get(
      dataId: object,
    ): { dtype: string; shape: number[]; values: ArrayLike<number> | null; resource: unknown } | undefined;
  };
  bufferManager: { acquireBuffer(size: number, usage: number): GPUBuffer };
  queue: GPUQueue;
  uploadToGPU(dataId: object): void;
}

let uploaded = 0;

/** Bytes of tensor data uploaded host → GPU since the process started (tests count a step's uploads). */
export function uploadedBytes(): number {
  return uploaded;
}

/** Replaces the backend's uploadToGPU; returns false when it does not look like tfjs-webgpu 4.x. */
export function uploadThroughQueue(backend: unknown): boolean {
  const b = backend as Partial<TfjsWebGPUBackend>;
  if (!b.tensorMap || !b.bufferManager || !b.queue || typeof b.uploadToGPU !== 'function') return false;
  const original = b.uploadToGPU.bind(b);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  b.uploadToGPU = (dataId: object) => {
    const data = b.tensorMap!.get(dataId);
    if (
      !data ||
      data.resource != null ||
      data.values == null ||
      !(data.dtype === 'float32' || data.dtype === 'int32' || data.dtype === 'bool')
    ) {
      if (data && data.resource == null && data.values != null) uploaded += data.values.length * 4;
      original(dataId);
      return;
    }
    const count = data.shape.reduce((a, d) => a * d, 1);
    const values =
      data.dtype === 'float32' ? toTyped(Float32Array, data.values, count) : toTyped(Int32Array, data.values, count);
    uploaded += count * 4;
    const buffer = b.bufferManager!.acquireBuffer(count * 4, usage);
    if (count > 0) b.queue!.writeBuffer(buffer, 0, values.buffer, values.byteOffset, count * 4);
    data.resource = buffer;
    // As tfjs does once uploaded: the GPU copy is the tensor's only home.
    data.values = null;
  };
  return true;
}

function toTyped<T extends Float32Array | Int32Array>(
  ctor: { new (n: number): T; new (a: ArrayLike<number>): T },
  values: ArrayLike<number>,
  count: number,
): T {
  if (values instanceof ctor && values.length === count) return values as T;
  const out = new ctor(count);
  out.set(values.length === count ? values : Array.from(values).slice(0, count));
  return out;
}
