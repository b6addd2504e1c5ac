/**
 * Kernels that write tensors' GPU buffers in place, recorded in tfjs-webgpu's command encoder as
 * compute passes of their own (tfjs' programs always write a fresh output buffer): the optimiser's
 * update of its flat state, and gradient accumulation in the backward pass. Writing in place keeps
 * the buffers a step needs at the ones it already has; a fresh output per update was, for Adam
 * alone, a dozen weight-sized temporaries (1.9 GB for the cifar10 UNet) idle in the pool for the
 * rest of the step.
 *
 * The rules of flatCopy.ts apply: a tensor is written only when it alone holds its buffer (tfjs
 * refCount 1), every tensor involved is marked as used by the pending encoder so its buffer is not
 * recycled before the submit, and a written tensor drops any values tfjs cached on the CPU.
 */
import type { tf } from '../tf';
import { encoder, forgetCpuValues, gpuBuffer, webgpuBackend, type TfjsWebGPUBackend } from './flatCopy';
import {
  FLAT_INDEX,
  FLAT_THREADS,
  cachedPipeline,
  flatGrid,
  ownDispatchBackend,
  uniformBindGroup,
} from './ownDispatch';

const WORKGROUP = FLAT_THREADS;
const INDEX = FLAT_INDEX;

/**
 * Runs `code` over n elements with `bound` tensors at bindings 0.. and the uniform words `uniform`
 * (f32 or u32 bit patterns) at the next binding; `written` are the tensors it writes. False, with
 * nothing recorded, when the backend is not tfjs-webgpu or a written tensor shares its buffer.
 */
function dispatchInPlace(code: string, bound: tf.Tensor[], written: tf.Tensor[], uniform: ArrayBuffer, n: number) {
  const be = ownDispatchBackend();
  if (!be) return false;
  const bufs: GPUBuffer[] = [];
  for (const t of bound) {
    const b = gpuBuffer(be, t);
    if (!b || b.size < t.size * 4) return false;
    bufs.push(b);
  }
  if (written.some((t) => be.tensorMap.get(t.dataId)!.refCount !== 1)) return false;
  if (n === 0) return true;
  const device = be.device;
  const pipe = cachedPipeline(device, code);
  const group = uniformBindGroup(be, pipe, bufs, uniform);
  const pass = encoder(be).beginComputePass();
  pass.setPipeline(pipe);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(...flatGrid(device, n));
  pass.end();
  for (const t of bound) be.commandQueueOwnedIds.add(t.dataId);
  for (const t of written) forgetCpuValues(be, t);
  return true;
}

const ADD_INTO = `
  @group(0) @binding(0) var<storage, read_write> acc: array<f32>;
  @group(0) @binding(1) var<storage, read> x: array<f32>;
  struct U { n: u32 }
  @group(0) @binding(2) var<uniform> u: U;
  @compute @workgroup_size(${WORKGROUP})
  fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    ${INDEX}
    if (i < u.n) { acc[i] = acc[i] + x[i]; }
  }`;

/** acc += x in place (float32, one shape); false (nothing written) when that cannot be done here. */
export function addInto(acc: tf.Tensor, x: tf.Tensor): boolean {
  if (acc.dtype !== 'float32' || x.dtype !== 'float32' || acc.size !== x.size) return false;
  if (acc.dataId === x.dataId) return false;
  return dispatchInPlace(ADD_INTO, [acc, x], [acc], new Uint32Array([acc.size, 0, 0, 0]).buffer, acc.size);
}

/** Hyper-parameters of one Adam update, as the op-by-op path rounds them to float32. */
export interface AdamStepValues {
  beta1: number;
  beta2: number;
  /** 1 / sqrt(1 − beta2^t). */
  invSqrtBc2: number;
  eps: number;
  /** lr / (1 − beta1^t). */
  stepSize: number;
  /** EMA decay (ignored without an EMA). */
  decay: number;
}

/** Flat optimiser state written by adamStepInPlace. */
export interface AdamStepState {
  master: tf.Tensor1D;
  m: tf.Tensor1D;
  v: tf.Tensor1D;
  ema: tf.Tensor1D | null;
}

function adamCode(ema: boolean): string {
  return `
  @group(0) @binding(0) var<storage, read_write> p: array<f32>;
  @group(0) @binding(1) var<storage, read_write> m: array<f32>;
  @group(0) @binding(2) var<storage, read_write> v: array<f32>;
  @group(0) @binding(3) var<storage, read> g: array<f32>;
  @group(0) @binding(4) var<storage, read> coef: array<f32>;
  ${ema ? '@group(0) @binding(5) var<storage, read_write> e: array<f32>;' : ''}
  struct U { n: u32, b1: f32, c1: f32, b2: f32, c2: f32, rbc2: f32, eps: f32, step: f32, d: f32, cd: f32 }
  @group(0) @binding(${ema ? 6 : 5}) var<uniform> u: U;
  @compute @workgroup_size(${WORKGROUP})
  fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    ${INDEX}
    if (i >= u.n) { return; }
    // The op-by-op path's operations, in its order: clip, m, v, denominator, step.
    let gc = g[i] * coef[0];
    let mi = m[i] * u.b1 + gc * u.c1;
    let vi = v[i] * u.b2 + (gc * gc) * u.c2;
    let denom = sqrt(vi) * u.rbc2 + u.eps;
    let pn = p[i] - (mi / denom) * u.step;
    m[i] = mi;
    v[i] = vi;
    p[i] = pn;
    ${ema ? 'e[i] = e[i] * u.d + pn * u.cd;' : ''}
  }`;
}

/**
 * One Adam update (and EMA update, when `state.ema`) of the flat state in place, from the gradient
 * `grad` scaled by the clip coefficient `coef` (a scalar tensor): one kernel for what the op path
 * does in ~15. False, with nothing written, when that cannot be done here.
 */
export function adamStepInPlace(state: AdamStepState, grad: tf.Tensor1D, coef: tf.Scalar, h: AdamStepValues) {
  const { master, m, v, ema } = state;
  const n = master.size;
  if ([m, v, grad, ...(ema ? [ema] : [])].some((t) => t.size !== n || t.dtype !== 'float32')) return false;
  const words = new ArrayBuffer(48);
  new Uint32Array(words, 0, 1)[0] = n;
  new Float32Array(words, 4, 9).set([
    h.beta1,
    1 - h.beta1,
    h.beta2,
    1 - h.beta2,
    h.invSqrtBc2,
    h.eps,
    h.stepSize,
    h.decay,
    1 - h.decay,
  ]);
  const written = ema ? [master, m, v, ema] : [master, m, v];
  const bound = ema ? [master, m, v, grad, coef, ema] : [master, m, v, grad, coef];
  return dispatchInPlace(adamCode(ema !== null), bound, written, words, n);
}

interface Submitting {
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/**
 * Submits the commands recorded so far. tfjs-webgpu returns the buffers of disposed tensors to its
 * pool only at a submit (every 15 dispatches): until then a freed activation cannot be reused and the
 * next one of its size takes a new buffer. Called where a block has just freed its temporaries.
 */
export function submitPending(): void {
  const be = webgpuBackend() as (TfjsWebGPUBackend & Partial<Submitting>) | null;
  if (!be || !be.commandEncoder || typeof be.submitQueue !== 'function') return;
  be.endComputePassEncoder();
  be.submitQueue();
}
