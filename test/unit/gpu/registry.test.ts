/**
 * The kernel registry: which set each backend gets, the override tests use, and that the network and
 * the optimiser reach the GPU kernels only through it (no backend branches of their own).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { chooseKernelSet, kernelChoice, kernels, overrideKernelSet } from '../../../src/engine/gpu/registry';
import { tfjsKernels } from '../../../src/engine/nets/tfjsKernels';
import { conv2dSame } from '../../../src/engine/nets/ops';
import type { KernelSetName } from '../../../src/engine/gpu/kernelSet';
import { isSoftwareAdapter } from '../../../src/engine/backend';

const SRC = join(__dirname, '..', '..', '..', 'src', 'engine');

describe('kernel registry', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterEach(() => {
    overrideKernelSet(null);
    vi.restoreAllMocks();
  });

  it('an adapter is software from its GPUAdapterInfo names or fallback flag, as Dawn reports them', () => {
    // Dawn's OpenGL compatibility adapter on Mesa's llvmpipe (this project's CI machine), Vulkan on lavapipe.
    expect(
      isSoftwareAdapter({ vendor: '', architecture: '', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: '' }),
    ).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'mesa', device: '', description: 'llvmpipe (LLVM 17.0.6, 256 bits)' })).toBe(
      true,
    );
    expect(isSoftwareAdapter({ vendor: 'mesa', device: 'lavapipe', description: '' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'google', architecture: '', device: 'SwiftShader Device (Subzero)' })).toBe(
      true,
    );
    expect(isSoftwareAdapter({ vendor: 'unknown', device: 'x', isFallbackAdapter: true })).toBe(true);
    // Hardware: NVIDIA, AMD (RADV), Intel (ANV), Apple.
    expect(
      isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', description: '' }),
    ).toBe(false);
    expect(
      isSoftwareAdapter({ vendor: 'amd', architecture: 'rdna-3', device: 'AMD Radeon RX 7900 XTX (RADV NAVI31)' }),
    ).toBe(false);
    expect(
      isSoftwareAdapter({ vendor: 'intel', architecture: 'gen-12lp', description: 'Intel open-source Mesa driver' }),
    ).toBe(false);
    expect(isSoftwareAdapter({ vendor: 'apple', architecture: 'metal-3', device: '', isFallbackAdapter: false })).toBe(
      false,
    );
  });

  it('webgpu gets a WGSL set (on a software adapter its CPU variant) unless SADPM_FAST_KERNELS=0; wasm tfjs-xnn; others tfjs', () => {
    expect(chooseKernelSet('webgpu', false, {}).set.name).toBe('wgsl');
    expect(chooseKernelSet('webgpu', false, { SADPM_FAST_KERNELS: '1' }).set.name).toBe('wgsl');
    expect(chooseKernelSet('webgpu', true, {}).set.name).toBe('wgsl-cpu');
    for (const software of [false, true]) {
      const off = chooseKernelSet('webgpu', software, { SADPM_FAST_KERNELS: '0' });
      expect(off.set.name).toBe('tfjs');
      expect(off.reason).toMatch(/SADPM_FAST_KERNELS=0/);
    }
    for (const b of ['cpu', 'tensorflow']) expect(chooseKernelSet(b, true, {}).set.name).toBe('tfjs');
    expect(chooseKernelSet('wasm', true, {}).set.name).toBe('tfjs-xnn');
    expect(kernels().name).toBe('tfjs');
  });

  it('an override applies to every op and is refused where the set cannot run', () => {
    overrideKernelSet('tfjs');
    expect(kernelChoice().reason).toMatch(/overridden/);
    overrideKernelSet('wgsl');
    expect(() => kernels()).toThrow(/kernel set 'wgsl' needs the webgpu backend; the active backend is cpu/);
    overrideKernelSet('tfjs-xnn');
    expect(kernels().name).toBe('tfjs-xnn');
    expect(() => overrideKernelSet('cuda' as KernelSetName)).toThrow(
      /unknown kernel set 'cuda'; known: tfjs, wgsl, wgsl-cpu/,
    );
    overrideKernelSet(null);
    expect(kernels().name).toBe('tfjs');
  });

  it('nets/ops runs the active set, forward and backward', () => {
    const fwd = vi.spyOn(tfjsKernels, 'conv2dSame');
    const dx = vi.spyOn(tfjsKernels, 'conv2dSameInputGrad');
    const dw = vi.spyOn(tfjsKernels, 'conv2dSameFilterBiasGrad');
    const x = tf.randomNormal([1, 4, 4, 2]) as tf.Tensor4D;
    const f = tf.randomNormal([3, 3, 2, 4]) as tf.Tensor4D;
    const b = tf.zeros([4]) as tf.Tensor1D;
    const g = tf.grads((xx: tf.Tensor, ff: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(conv2dSame(xx as tf.Tensor4D, ff as tf.Tensor4D, bb as tf.Tensor1D, 1)),
    )([x, f, b]);
    expect([fwd.mock.calls.length, dx.mock.calls.length, dw.mock.calls.length]).toEqual([1, 1, 1]);
    tf.dispose([x, f, b, ...g]);
  });

  it('the network and the optimiser import no GPU kernel module but the registry', () => {
    const offenders: string[] = [];
    for (const dir of ['nets', 'train', 'diffusion']) {
      for (const file of readdirSync(join(SRC, dir), { recursive: true }) as string[]) {
        if (!file.endsWith('.ts')) continue;
        const text = readFileSync(join(SRC, dir, file), 'utf8');
        for (const m of text.matchAll(/from '(\.\.\/)+gpu\/([\w/]+)'/g)) {
          if (m[2] !== 'registry' && m[2] !== 'kernelSet') offenders.push(`${dir}/${file} imports gpu/${m[2]}`);
        }
        if (/getBackend\(\)\s*===\s*'webgpu'/.test(text)) offenders.push(`${dir}/${file} branches on the backend`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
