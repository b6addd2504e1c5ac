/**
 * Which kernel set (kernelSet.ts) the active tfjs backend runs. The choice is made once per backend,
 * at its first use, from the backend, its adapter (hardware or software) and SADPM_FAST_KERNELS; tests
 * and benchmarks can override it to compare the sets on one backend.
 */
import { tf } from '../tf';
import { tfjsKernels } from '../nets/tfjsKernels';
import { xnnKernels } from '../nets/xnnKernels';
import { wgslKernels } from './wgslKernels';
import { wgslCpuKernels } from './wgslCpuKernels';
import { activeBackend } from '../backend';
import { KERNEL_SET_NAMES, type KernelSet, type KernelSetName } from './kernelSet';

const SETS: Record<KernelSetName, KernelSet> = {
  tfjs: tfjsKernels,
  wgsl: wgslKernels,
  'wgsl-cpu': wgslCpuKernels,
  'tfjs-xnn': xnnKernels,
};
/** Sets written with tfjs ops only, which every backend runs. */
const OPS_ONLY: readonly KernelSetName[] = ['tfjs', 'tfjs-xnn'];

export interface KernelChoice {
  set: KernelSet;
  /** Why this set, in words (bench and `sadpm info` print it). */
  reason: string;
}

/**
 * The set a backend gets unless overridden: the WGSL kernels need tfjs-webgpu, and a software adapter
 * (`software`: llvmpipe, SwiftShader) runs the variant shaped for a CPU's SIMD units.
 */
export function chooseKernelSet(
  backend: string,
  software: boolean,
  env: NodeJS.ProcessEnv = process.env,
): KernelChoice {
  if (backend === 'wasm') {
    return { set: xnnKernels, reason: 'tfjs ops, both conv gradients as forward convs (XNNPACK on wasm)' };
  }
  if (backend !== 'webgpu') return { set: tfjsKernels, reason: `the ${backend} backend runs tfjs ops only` };
  if (env.SADPM_FAST_KERNELS === '0') return { set: tfjsKernels, reason: 'SADPM_FAST_KERNELS=0' };
  if (software)
    return { set: wgslCpuKernels, reason: 'WGSL kernels for a software adapter (register blocks, no barriers)' };
  return { set: wgslKernels, reason: 'hand-written WGSL kernels on webgpu' };
}

const chosen = new Map<string, KernelChoice>();
let override: KernelSetName | null = null;

/** The active backend's choice (made on first call for that backend). */
export function kernelChoice(): KernelChoice {
  const backend = tf.getBackend();
  if (override) {
    if (!OPS_ONLY.includes(override) && backend !== 'webgpu') {
      throw new Error(`kernel set '${override}' needs the webgpu backend; the active backend is ${backend}`);
    }
    return { set: SETS[override], reason: `overridden (${override})` };
  }
  let c = chosen.get(backend);
  if (!c) {
    const active = activeBackend();
    c = chooseKernelSet(backend, active?.name === backend && active.adapter.software);
    chosen.set(backend, c);
  }
  return c;
}

/** The kernel set the active backend runs. */
export function kernels(): KernelSet {
  return kernelChoice().set;
}

/** Runs every backend on `name` from now on (tests, benchmarks); null returns to each backend's choice. */
export function overrideKernelSet(name: KernelSetName | null): void {
  if (name !== null && !KERNEL_SET_NAMES.includes(name)) {
    throw new Error(`unknown kernel set '${String(name)}'; known: ${KERNEL_SET_NAMES.join(', ')}`);
  }
  override = name;
}
