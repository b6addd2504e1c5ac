/**
 * For kernels that record compute passes of their own in tfjs-webgpu's command encoder instead of
 * going through runWebGPUProgram (which always writes one fresh output and binds its inputs
 * read-only): in-place updates (inPlace.ts) and multi-pass kernels with scratch buffers
 * (winograd.ts). Pipelines are cached per device and shader text; bind groups carry their uniform
 * words packed as tfjs' own dispatches are (dispatchHost.ts), or in a uniform buffer of their own.
 */
import { packedBindGroup } from './dispatchHost';
import { webgpuBackend, type TfjsWebGPUBackend } from './flatCopy';

export interface OwnDispatchBackend extends TfjsWebGPUBackend {
  device: GPUDevice;
  queue: GPUQueue;
  bufferManager: { acquireBuffer(size: number, usage: number): GPUBuffer };
  uniformPendingDisposal: GPUBuffer[];
}

/** The tfjs-webgpu backend when it has what own dispatches need, else null. */
export function ownDispatchBackend(): OwnDispatchBackend | null {
  const be = webgpuBackend() as OwnDispatchBackend | null;
  if (!be || !be.device || !be.queue || !Array.isArray(be.uniformPendingDisposal)) return null;
  return be;
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** The compute pipeline of `code` (entry point `main`, layout from the shader), compiled once per device. */
export function cachedPipeline(device: GPUDevice, code: string): GPUComputePipeline {
  let byCode = pipelines.get(device);
  if (!byCode) pipelines.set(device, (byCode = new Map()));
  let p = byCode.get(code);
  if (!p) {
    p = device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code }), entryPoint: 'main' },
    });
    byCode.set(code, p);
  }
  return p;
}

/** A bind group of `pipe` with `bufs` at bindings 0.. and the bytes of `uniform` at the next binding. */
export function uniformBindGroup(
  be: OwnDispatchBackend,
  pipe: GPUComputePipeline,
  bufs: GPUBuffer[],
  uniform: ArrayBuffer,
): GPUBindGroup {
  const packed = packedBindGroup(pipe, bufs, uniform);
  if (packed) return packed;
  const uni = be.bufferManager.acquireBuffer(uniform.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  // The pool hands out a uniform buffer only after the submit that last used it, so this write is ordered.
  be.queue.writeBuffer(uni, 0, uniform);
  be.uniformPendingDisposal.push(uni);
  const entries = [...bufs, uni].map((buffer, binding) => ({ binding, resource: { buffer } }));
  return be.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries });
}

/** Invocations per workgroup of the flat (element-per-invocation) passes. */
export const FLAT_THREADS = 256;

/** WGSL: the flat index `i` of an invocation of a 2-D grid of FLAT_THREADS-wide workgroups (needs gid, nwg). */
export const FLAT_INDEX = `let i = gid.x + gid.y * (nwg.x * ${FLAT_THREADS}u);`;

/** A 2-D grid of workgroups covering `threads` flat invocations, within the per-dimension limit. */
export function flatGrid(device: GPUDevice, threads: number): [number, number] {
  const groups = Math.ceil(threads / FLAT_THREADS);
  const wx = Math.max(1, Math.min(groups, device.limits.maxComputeWorkgroupsPerDimension));
  return [wx, Math.ceil(groups / wx)];
}
