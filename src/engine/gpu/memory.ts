/**
 * Device-memory accounting and a bounded buffer pool for tfjs-webgpu.
 *
 * tfjs' own figures (numBytesInGPU) count live tensor bytes only; what the card actually holds also
 * includes tfjs' pool of freed buffers, uniforms and staging buffers. Wrapping device.createBuffer and
 * each buffer's destroy() counts every byte the device allocated, so the peak reported is the real one.
 *
 * tfjs' BufferManager keeps every released buffer forever, keyed by exact byte size: the pool grows
 * to the sum over all sizes of each size's own peak, far above the live peak (the cifar10 SA-2 step
 * ran a 80 GB card out of memory this way). The pool here keeps freed buffers up to a byte budget and
 * destroys the least recently released large ones beyond it.
 */

export interface GpuMemoryStats {
  /** Bytes of all GPUBuffers created and not yet destroyed. */
  liveBytes: number;
  /** Largest liveBytes seen since the last resetPeak(). */
  peakBytes: number;
  liveBuffers: number;
  /** Bytes of freed buffers tfjs holds for reuse. */
  pooledBytes: number;
  /** Buffers destroyed because the pool was over its budget. */
  evicted: number;
  /**
   * Largest bytes of buffers in use (tensors, uniforms, staging: tfjs' numBytesUsed) since the last
   * resetPeak(), seen at every acquisition; peakBytes minus this is what the pool held idle.
   */
  usedPeakBytes: number;
}

const stats: GpuMemoryStats = {
  liveBytes: 0,
  peakBytes: 0,
  liveBuffers: 0,
  pooledBytes: 0,
  evicted: 0,
  usedPeakBytes: 0,
};
let usedBytesNow = () => 0;
const instrumented = new WeakSet<GPUDevice>();

/** Counts the bytes of every buffer created on `device` from now on (idempotent). */
export function instrumentDevice(device: GPUDevice): void {
  if (instrumented.has(device)) return;
  instrumented.add(device);
  const create = device.createBuffer.bind(device);
  device.createBuffer = (desc: GPUBufferDescriptor): GPUBuffer => {
    const buf = create(desc);
    const size = buf.size;
    stats.liveBytes += size;
    stats.liveBuffers += 1;
    if (stats.liveBytes > stats.peakBytes) stats.peakBytes = stats.liveBytes;
    const destroy = buf.destroy.bind(buf);
    let destroyed = false;
    buf.destroy = () => {
      if (!destroyed) {
        destroyed = true;
        stats.liveBytes -= size;
        stats.liveBuffers -= 1;
      }
      destroy();
    };
    return buf;
  };
}

export function gpuMemoryStats(): GpuMemoryStats {
  return { ...stats };
}

export function resetGpuPeak(): void {
  stats.peakBytes = stats.liveBytes;
  stats.usedPeakBytes = usedBytesNow();
}

/** The part of tfjs-webgpu's BufferManager this module relies on (4.x). */
interface TfjsBufferManager {
  freeBuffers: Map<string, GPUBuffer[]>;
  numFreeBuffers: number;
  numBytesAllocated: number;
  numBytesUsed: number;
  acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): GPUBuffer;
  releaseBuffer(buffer: GPUBuffer, reuse?: boolean): void;
}

/** Small buffers (uniforms, scalars) are cheap to keep and churn constantly: never evicted. */
const EVICT_MIN_BYTES = 64 * 1024;

export interface PoolBudget {
  /** Fixed budget in bytes; when absent the budget follows the live tensor bytes (below). */
  bytes?: number;
  /** Budget as a fraction of the largest live tensor bytes seen (default 3)... */
  fraction?: number;
  /** ...but never below this (default 1 GiB). */
  minBytes?: number;
}

let trimPool: ((budget: number) => void) | null = null;

/**
 * Bounds tfjs-webgpu's pool of freed buffers (large buffers only; least recently released go first).
 * The default budget, 3x the peak of live tensor bytes, is large enough that a training step's pool
 * settles after the first step and nothing is evicted afterwards (with 1x, evicting and re-creating
 * large buffers every step cost the small preset 40% of its throughput on the H100), and small
 * enough to stop the unbounded growth: cifar10 SA-2 at batch 128 peaked at 21.1 GB of device memory.
 * Returns false when the backend does not look like tfjs-webgpu 4.x.
 */
export function boundBufferPool(backend: unknown, budget: PoolBudget = {}): boolean {
  const mgr = (backend as { bufferManager?: TfjsBufferManager }).bufferManager;
  if (!mgr || !(mgr.freeBuffers instanceof Map) || typeof mgr.releaseBuffer !== 'function') return false;
  const fraction = budget.fraction ?? 3;
  const minBytes = budget.minBytes ?? 2 ** 30;
  let usedPeak = 0;
  const poolBudget = () => budget.bytes ?? Math.max(minBytes, fraction * usedPeak);
  // Insertion order of a Set is release order: the first entry is the least recently released.
  const lru = new Set<GPUBuffer>();
  const acquire = mgr.acquireBuffer.bind(mgr);
  const release = mgr.releaseBuffer.bind(mgr);
  const trim = (budget: number) => {
    for (const buf of lru) {
      if (stats.pooledBytes <= budget) break;
      lru.delete(buf);
      const list = mgr.freeBuffers.get(`${buf.size}_${buf.usage}`);
      const i = list ? list.indexOf(buf) : -1;
      if (i < 0) continue;
      list!.splice(i, 1);
      mgr.numFreeBuffers -= 1;
      mgr.numBytesAllocated -= buf.size;
      stats.pooledBytes -= buf.size;
      stats.evicted += 1;
      buf.destroy();
    }
  };
  mgr.acquireBuffer = (size, usage, mappedAtCreation = false, reuse = true) => {
    const before = mgr.numFreeBuffers;
    const buf = acquire(size, usage, mappedAtCreation, reuse);
    if (mgr.numBytesUsed > usedPeak) usedPeak = mgr.numBytesUsed;
    if (mgr.numBytesUsed > stats.usedPeakBytes) stats.usedPeakBytes = mgr.numBytesUsed;
    if (mgr.numFreeBuffers < before && lru.delete(buf)) stats.pooledBytes -= buf.size;
    return buf;
  };
  mgr.releaseBuffer = (buffer, reuse = true) => {
    const before = mgr.numFreeBuffers;
    release(buffer, reuse);
    if (mgr.numFreeBuffers > before && buffer.size >= EVICT_MIN_BYTES) {
      lru.add(buffer);
      stats.pooledBytes += buffer.size;
      const b = poolBudget();
      if (stats.pooledBytes > b) trim(b);
    }
  };
  trimPool = trim;
  usedBytesNow = () => mgr.numBytesUsed;
  return true;
}

/** Destroys pooled (freed) large buffers down to `budgetBytes` now, e.g. before a memory-hungry phase. */
export function trimBufferPool(budgetBytes = 0): void {
  trimPool?.(budgetBytes);
}
