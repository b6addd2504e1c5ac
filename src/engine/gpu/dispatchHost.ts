/**
 * Less host time per tfjs-webgpu dispatch. A small model's training step is bound by the main thread:
 * ~830 dispatches a step, each paying tens of µs in tfjs' recordAndSubmit, mostly calls into dawn.node.
 * Measured per call on Dawn (bench/dispatchCost.ts): createBindGroup ~11 µs, getBindGroupLayout ~0.9 µs
 * (a new wrapper each time), queue.writeBuffer of the uniforms ~1.8 µs, against ~2.2 µs to record the
 * dispatch itself. The replacement recordAndSubmit installed here records the same dispatch with
 *  - bind groups reused for the same pipeline and buffers (bindGroupCache.ts), with tfjs' pool handing
 *    out free buffers in a stable order so that each step's ops get the same buffers as the last step's,
 *  - the uniform blocks packed into shared chunks written once per submit (uniformArena.ts),
 *  - the layout fetched once per pipeline, and setPipeline skipped when the pass already has it.
 * The GPU runs the same shaders on the same bytes: each uniform block is laid out as tfjs' makeUniforms
 * lays it out and bound at its own range. Submit cadence, commandQueueOwnedIds and the buffers' return
 * to the pool at a submit are tfjs' own. inPlace.ts' kernels share the packing (packedBindGroup).
 * One more submit point: once the tensors freed since the last submit, which tfjs returns to its pool only
 * at the next submit, hold SADPM_PENDING_FREE_MB (default 512), the next dispatch submits. Otherwise the
 * step's peak memory depends on where the every-15-dispatches submits happen to fall (cifar10 SA-2's peak
 * moved by ~380 MiB between builds whose kernels differed by a few small dispatches).
 * Programs drawn to textures (pixelsOpType) and tf.profile/time runs (activeTimers) take tfjs' own path.
 * SADPM_DISPATCH_CACHE=0 leaves the backend as tfjs made it.
 */
import { tf } from '../tf';
import { envNumber } from '../envNumber';
import { BindGroupCache } from './bindGroupCache';
import { UniformArena, type ArenaChunk } from './uniformArena';

interface UniformField {
  type: 'int32' | 'uint32' | 'float32';
  data: number[];
}

interface TfjsProgram {
  pipeline: GPUComputePipeline | Promise<GPUComputePipeline>;
  pixelsOpType?: number | null;
  size?: boolean;
  outputShape: number[];
  outputComponent?: number;
  dispatch: [number, number, number];
}

type Record4 = (program: TfjsProgram, output: tf.TensorInfo, inputs: tf.TensorInfo[], uni?: UniformField[]) => void;

/** The parts of tfjs-webgpu's WebGPUBackend (4.x) replaced or used here. */
interface Backend {
  device: GPUDevice;
  queue: GPUQueue;
  tensorMap: { get(dataId: object): { resource: unknown } | undefined };
  commandQueueOwnedIds: WeakSet<object>;
  tensorDataPendingDisposal: object[];
  disposeData(dataId: object, force?: boolean): boolean;
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  dispatchCountInPass: number;
  activeTimers?: unknown[] | null;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  recordAndSubmit: Record4;
  bufferManager: BufferPool;
}

export interface DispatchHostStats {
  dispatches: number;
  /** Dispatches left to tfjs' own recordAndSubmit (textures, timers). */
  fallbacks: number;
  bindGroupHits: number;
  bindGroupMisses: number;
  /** Times the bind group cache started over, full. */
  bindGroupClears: number;
  setPipelineSkipped: number;
  submits: number;
  /** Submits made because the tensors freed since the last one held SADPM_PENDING_FREE_MB. */
  pressureSubmits: number;
  uniformChunks: number;
}

interface BufferPool {
  freeBuffers: Map<string, GPUBuffer[]>;
  acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): GPUBuffer;
}

/**
 * Makes tfjs' pool hand out, of the free buffers of a size, the one seen first (instead of the one
 * released last): which buffers are free at a point of a training step is the same every step, the order
 * they were released in is not, and bind groups can only be reused if each op gets the same buffers.
 */
function stablePoolOrder(pool: BufferPool, idOf: (b: GPUBuffer) => number): () => void {
  const acquire = pool.acquireBuffer;
  pool.acquireBuffer = function (this: BufferPool, size, usage, mappedAtCreation = false, reuse = true) {
    const list = reuse ? this.freeBuffers.get(`${size}_${usage}`) : undefined;
    if (list && list.length > 1) {
      let best = list.length - 1;
      let bestId = idOf(list[best]!);
      for (let i = list.length - 2; i >= 0; i--) {
        const id = idOf(list[i]!);
        if (id < bestId) {
          best = i;
          bestId = id;
        }
      }
      // tfjs takes the last one.
      const last = list.length - 1;
      [list[best], list[last]] = [list[last]!, list[best]!];
    }
    return acquire.call(this, size, usage, mappedAtCreation, reuse);
  };
  return () => {
    pool.acquireBuffer = acquire;
  };
}

interface Installed {
  backend: Backend;
  restore: () => void;
  stats: () => DispatchHostStats;
}

let installed: Installed | null = null;
let packed: ((pipeline: GPUComputePipeline, buffers: GPUBuffer[], uniform: ArrayBuffer) => GPUBindGroup) | null = null;
const CHUNK_BYTES = 64 * 1024;

/** WGSL's alignment of a uniform field of n 32-bit words, as tfjs-webgpu 4.x makeUniforms applies it. */
function baseAlignment(n: number, previous: number): number {
  if (n < 1 || n > 6) throw new Error(`tfjs uniform field of ${n} words: expected 1 to 6`);
  if (previous === 5 || previous === 6) return 16;
  return n === 1 ? 4 : n === 2 ? 8 : 16;
}

/** tfjs' per-dispatch uniform fields, in its order: NaN, Infinity, shapes and strides, size, the program's. */
function programUniforms(
  program: TfjsProgram,
  output: tf.TensorInfo,
  inputs: tf.TensorInfo[],
  defined?: UniformField[],
): UniformField[] {
  const fields: UniformField[] = [
    { type: 'float32', data: [NaN] },
    { type: 'float32', data: [Infinity] },
  ];
  for (const t of inputs) {
    fields.push({ type: 'int32', data: t.shape }, { type: 'int32', data: tf.util.computeStrides(t.shape) });
  }
  fields.push({ type: 'int32', data: output.shape }, { type: 'int32', data: tf.util.computeStrides(output.shape) });
  if (program.size) {
    const size = tf.util.sizeFromShape(program.outputShape);
    fields.push({ type: 'int32', data: [program.outputComponent ? size / program.outputComponent : size] });
  }
  if (defined) for (const d of defined) fields.push(d);
  return fields;
}

/**
 * Replaces `backend`'s recordAndSubmit and submitQueue and orders its pool (tfjs-webgpu 4.x); true when
 * installed, now or before; false, with nothing changed, when the backend lacks a member this relies on.
 * Installing on another backend forgets the previous one (tfjs made a new backend; the old one is gone).
 */
export function installDispatchHost(backend: unknown): boolean {
  const be = backend as Partial<Backend>;
  if (installed?.backend === backend) return true;
  const ok =
    be.device &&
    be.queue &&
    be.tensorMap &&
    be.commandQueueOwnedIds instanceof WeakSet &&
    Array.isArray(be.tensorDataPendingDisposal) &&
    typeof be.disposeData === 'function' &&
    typeof be.recordAndSubmit === 'function' &&
    typeof be.submitQueue === 'function' &&
    typeof be.ensureCommandEncoderReady === 'function' &&
    typeof be.endComputePassEncoder === 'function' &&
    'computePassEncoder' in be &&
    typeof be.dispatchCountInPass === 'number' &&
    be.bufferManager?.freeBuffers instanceof Map &&
    typeof be.bufferManager.acquireBuffer === 'function';
  if (!ok) return false;
  const b = be as Backend;
  const device = b.device;
  const hadOwn = {
    record: Object.prototype.hasOwnProperty.call(b, 'recordAndSubmit'),
    submit: Object.prototype.hasOwnProperty.call(b, 'submitQueue'),
    dispose: Object.prototype.hasOwnProperty.call(b, 'disposeData'),
  };
  const originalRecord = b.recordAndSubmit;
  const originalSubmit = b.submitQueue;
  const originalDispose = b.disposeData;
  const pendingLimit = pendingFreeLimitBytes();
  /** Bytes of the tensors freed since the last submit and still held for it. */
  let pendingBytes = 0;
  const usage = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
  const arena = new UniformArena<GPUBuffer>(device.limits.minUniformBufferOffsetAlignment, CHUNK_BYTES, (size) =>
    device.createBuffer({ size, usage }),
  );
  const groups = new BindGroupCache<GPUBindGroup>();
  const layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  /** Storage buffers at bindings 0.., the uniform block at the next binding. */
  const bindGroup = (
    pipeline: GPUComputePipeline,
    buffers: GPUBuffer[],
    chunk: ArenaChunk<GPUBuffer>,
    offset: number,
    size: number,
  ): GPUBindGroup => {
    let key = `${groups.idOf(pipeline)}|${groups.idOf(chunk)}:${offset}:${size}`;
    for (const buf of buffers) key += `|${groups.idOf(buf)}`;
    return groups.get(key, () => {
      let layout = layouts.get(pipeline);
      if (!layout) layouts.set(pipeline, (layout = pipeline.getBindGroupLayout(0)));
      const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({ binding, resource: { buffer } }));
      entries.push({ binding: buffers.length, resource: { buffer: chunk.buffer, offset, size } });
      return device.createBindGroup({ layout, entries });
    });
  };
  let lastPass: GPUComputePassEncoder | null = null;
  let lastPipeline: GPUComputePipeline | null = null;
  const counts = { dispatches: 0, fallbacks: 0, setPipelineSkipped: 0, submits: 0, pressureSubmits: 0 };

  const record: Record4 = function hostRecordAndSubmit(this: Backend, program, output, inputs, defined) {
    const pipeline = program.pipeline;
    if (pipeline instanceof Promise) {
      throw new Error('Please call checkCompileCompletionAsync to ensure parallel compilation is done!');
    }
    const tensors = [output, ...inputs];
    const buffers: GPUBuffer[] = [];
    for (const t of tensors) {
      const r = this.tensorMap.get(t.dataId)?.resource;
      if (!(r instanceof GPUBuffer)) break;
      buffers.push(r);
    }
    if (program.pixelsOpType != null || this.activeTimers != null || buffers.length !== tensors.length) {
      counts.fallbacks++;
      lastPipeline = null;
      originalRecord.call(this, program, output, inputs, defined);
      return;
    }
    const fields = programUniforms(program, output, inputs, defined);
    // The layout of makeUniforms: each field at its WGSL alignment, the block rounded to the largest.
    const offsets: number[] = [];
    let end = 0;
    let previous = 0;
    let maxAlign = 1;
    for (const d of fields) {
      if (d.data.length === 0) d.data = [1];
      const align = baseAlignment(d.data.length, previous);
      if (align > maxAlign) maxAlign = align;
      end = Math.ceil(end / align) * align;
      previous = d.data.length;
      offsets.push(end);
      end += d.data.length * 4;
    }
    const size = Math.ceil(end / maxAlign) * maxAlign;
    const { chunk, offset } = arena.alloc(size);
    fields.forEach((d, i) => {
      const view = d.type === 'int32' ? chunk.i32 : d.type === 'uint32' ? chunk.u32 : chunk.f32;
      view.set(d.data, (offset + offsets[i]!) / 4);
    });
    for (const t of inputs) this.commandQueueOwnedIds.add(t.dataId);
    this.commandQueueOwnedIds.add(output.dataId);
    const group = bindGroup(pipeline, buffers, chunk, offset, size);
    this.ensureCommandEncoderReady();
    if (!this.computePassEncoder) this.computePassEncoder = this.commandEncoder!.beginComputePass({});
    const pass = this.computePassEncoder;
    if (pass !== lastPass || pipeline !== lastPipeline) {
      pass.setPipeline(pipeline);
      lastPass = pass;
      lastPipeline = pipeline;
    } else {
      counts.setPipelineSkipped++;
    }
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(program.dispatch[0], program.dispatch[1], program.dispatch[2]);
    counts.dispatches++;
    this.dispatchCountInPass++;
    const full = (tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number) <= this.dispatchCountInPass;
    if (full || (pendingLimit > 0 && pendingBytes >= pendingLimit)) {
      if (!full) counts.pressureSubmits++;
      this.endComputePassEncoder();
      this.submitQueue();
    }
  };

  const dispose = function hostDisposeData(this: Backend, dataId: object, force?: boolean) {
    const held = this.tensorDataPendingDisposal.length;
    const done = originalDispose.call(this, dataId, force);
    if (this.tensorDataPendingDisposal.length > held) {
      const r = this.tensorMap.get(dataId)?.resource;
      if (r instanceof GPUBuffer) pendingBytes += r.size;
    }
    return done;
  };

  const submit = function hostSubmitQueue(this: Backend) {
    // Before the submit whose commands read them; see uniformArena.ts for why reusing chunks is ordered.
    arena.flush((c, used) => this.queue.writeBuffer(c.buffer, 0, c.bytes.buffer, 0, used));
    counts.submits++;
    pendingBytes = 0;
    originalSubmit.call(this);
  };

  const restorePool = stablePoolOrder(b.bufferManager, (buf) => groups.idOf(buf));
  b.recordAndSubmit = record;
  b.submitQueue = submit;
  b.disposeData = dispose;
  packed = (pipeline, buffers, uniform) => {
    const { chunk, offset } = arena.alloc(uniform.byteLength);
    chunk.bytes.set(new Uint8Array(uniform), offset);
    return bindGroup(pipeline, buffers, chunk, offset, uniform.byteLength);
  };
  installed = {
    backend: b,
    restore: () => {
      if (b.commandEncoder) {
        b.endComputePassEncoder();
        b.submitQueue();
      }
      if (hadOwn.record) b.recordAndSubmit = originalRecord;
      else delete (b as Partial<Backend>).recordAndSubmit;
      if (hadOwn.submit) b.submitQueue = originalSubmit;
      else delete (b as Partial<Backend>).submitQueue;
      if (hadOwn.dispose) b.disposeData = originalDispose;
      else delete (b as Partial<Backend>).disposeData;
      restorePool();
      groups.clear();
      // Destroying a buffer that submitted work still reads is allowed; it is freed once that work is done.
      for (const c of arena.chunks) c.buffer.destroy();
    },
    stats: () => ({
      ...counts,
      bindGroupHits: groups.hits,
      bindGroupMisses: groups.misses,
      bindGroupClears: groups.clears,
      uniformChunks: arena.chunks.length,
    }),
  };
  return true;
}

/** SADPM_PENDING_FREE_MB in bytes; 0 turns the extra submits off. */
function pendingFreeLimitBytes(): number {
  return envNumber('SADPM_PENDING_FREE_MB', 512, 'a number of MiB >= 0 (0: off)', (n) => n >= 0) * 2 ** 20;
}

/** Gives the backend back tfjs' own recordAndSubmit and submitQueue, submitting what is recorded. */
export function uninstallDispatchHost(): void {
  installed?.restore();
  installed = null;
  packed = null;
}

/**
 * For kernels that record their own dispatch in tfjs' encoder (inPlace.ts): a bind group of `pipeline`
 * with `buffers` at bindings 0.. and the bytes of `uniform` (a multiple of 4) at the next, reused and
 * packed as tfjs' dispatches are here; the bytes reach the GPU before the next submit. Null when not
 * installed: the caller then makes its own.
 */
export function packedBindGroup(
  pipeline: GPUComputePipeline,
  buffers: GPUBuffer[],
  uniform: ArrayBuffer,
): GPUBindGroup | null {
  return packed ? packed(pipeline, buffers, uniform) : null;
}

export function dispatchHostStats(): DispatchHostStats | null {
  return installed ? installed.stats() : null;
}
