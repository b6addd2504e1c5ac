/**
 * Picks and initialises the tfjs backend: webgpu (Dawn; Vulkan on a GPU, the OpenGL compatibility
 * adapter on llvmpipe without one), tensorflow (tfjs-node-gpu, when it loads) or cpu.
 * Records why each other backend was not chosen, and turns GPU errors into thrown errors.
 */
import { envNumber } from './envNumber';
import { createRequire } from 'node:module';
import { tf } from './tf';
import type { Backend } from '../shared/config';
import { uploadThroughQueue } from './gpu/uploads';
import { registerWasmKernelFixes } from './wasmKernels';
import { boundBufferPool, gpuMemoryStats, instrumentDevice, resetGpuPeak } from './gpu/memory';
import { installDispatchHost } from './gpu/dispatchHost';

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** 'vulkan', 'opengl', ... for webgpu; 'cuda' or 'native' for tensorflow; 'js' for cpu. */
  api: string;
  /** True for software adapters (llvmpipe, SwiftShader). */
  software: boolean;
  features: string[];
}

export interface BackendInfo {
  name: 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';
  adapter: AdapterInfo;
  rejected: { name: string; reason: string }[];
}

interface DawnModule {
  create(options: string[]): GPU;
  globals: Record<string, unknown>;
}

let active: BackendInfo | null = null;
let gpuError: string | null = null;
let webgpuDevice: GPUDevice | null = null;

function loadDawn(): DawnModule {
  const explicit = process.env.SADPM_DAWN_NODE;
  const require = createRequire(import.meta.url);
  if (explicit) {
    try {
      return require(explicit) as DawnModule;
    } catch (err) {
      throw new Error(`SADPM_DAWN_NODE=${explicit}: could not load dawn.node (${(err as Error).message})`);
    }
  }
  // The npm package 'webgpu' ships dawn.node per platform; resolve it without importing its ESM entry
  // so that a bundled build can run with SADPM_DAWN_NODE alone.
  const pkgDir = require.resolve('webgpu/package.json').replace(/package\.json$/, '');
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;
  return require(`${pkgDir}dist/${process.platform}-${arch}/dawn.node`) as DawnModule;
}

type AdapterNames = Partial<Pick<GPUAdapterInfo, 'vendor' | 'architecture' | 'device' | 'description'>>;

/**
 * Whether Dawn's adapter is a CPU rasteriser (Mesa's llvmpipe or lavapipe, SwiftShader), from the
 * names in its GPUAdapterInfo or its fallback flag. Dawn on llvmpipe reports vendor 'unknown' and a
 * device such as 'llvmpipe-llvm-15-0-6-256-bits-'; the kernel set for such adapters is chosen by this.
 */
export function isSoftwareAdapter(info: AdapterNames & { isFallbackAdapter?: boolean }): boolean {
  const names = [info.vendor, info.architecture, info.device, info.description];
  const text = names
    .map((v) => v ?? '')
    .join(' ')
    .toLowerCase();
  return /llvmpipe|lavapipe|swiftshader|software/.test(text) || info.isFallbackAdapter === true;
}

function describeAdapter(adapter: GPUAdapter, api: string): AdapterInfo {
  const info = adapter.info;
  const software = isSoftwareAdapter(info as GPUAdapterInfo & { isFallbackAdapter?: boolean });
  return {
    vendor: info.vendor || 'unknown',
    architecture: info.architecture || '',
    device: info.device || '',
    description: info.description || '',
    api,
    software,
    features: [...adapter.features].map(String).sort(),
  };
}

async function requestWebGPU(
  dawn: DawnModule,
  api: 'vulkan' | 'opengl',
): Promise<{ adapter: GPUAdapter; gpu: GPU } | { reason: string }> {
  // ';'-separated, since one flag's value can hold a comma list (enable-dawn-features=a,b).
  const extra = process.env.SADPM_DAWN_FLAGS ? process.env.SADPM_DAWN_FLAGS.split(';') : [];
  const gpu = dawn.create([`backend=${api}`, ...extra]);
  const adapter =
    api === 'opengl'
      ? await gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions)
      : await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { reason: `Dawn (${api}) found no adapter` };
  return { adapter, gpu };
}

interface WebGPUCandidate {
  adapter: GPUAdapter;
  gpu: GPU;
  info: AdapterInfo;
}

interface WebGPUProbe {
  hardware?: WebGPUCandidate;
  software?: WebGPUCandidate;
  reasons: string[];
}

let probed: WebGPUProbe | null = null;

/** Asks Dawn for adapters once: Vulkan first (GPUs), then OpenGL compatibility (llvmpipe). */
async function probeWebGPU(): Promise<WebGPUProbe> {
  if (probed) return probed;
  process.env.EGL_PLATFORM ??= 'surfaceless';
  let dawn: DawnModule;
  try {
    dawn = loadDawn();
  } catch (err) {
    probed = { reasons: [`Dawn could not be loaded: ${(err as Error).message}`] };
    return probed;
  }
  Object.assign(globalThis, dawn.globals);
  const res: WebGPUProbe = { reasons: [] };
  for (const api of ['vulkan', 'opengl'] as const) {
    const r = await requestWebGPU(dawn, api);
    if ('reason' in r) {
      res.reasons.push(r.reason);
      continue;
    }
    const info = describeAdapter(r.adapter, api);
    if (!info.software) {
      res.hardware = { ...r, info };
      break;
    }
    res.software ??= { ...r, info };
    res.reasons.push(
      `Dawn (${api}) offers only a software adapter (${info.vendor} ${info.device || info.description})`,
    );
  }
  probed = res;
  return res;
}

/**
 * SADPM_SUBMIT_BATCH: dispatches per queue submit (tfjs' default 15), for benchmarks. Fewer submits cost less host
 * time, but freed buffers return to the pool only at a submit, so a larger batch holds more memory.
 */
function submitBatchFromEnv(): number | null {
  return envNumber('SADPM_SUBMIT_BATCH', null, 'a positive integer', (n) => Number.isInteger(n) && n >= 1);
}

async function initWebGPU(allowSoftware: boolean): Promise<BackendInfo['adapter'] | string> {
  // Refused before anything is initialised.
  const submitBatch = submitBatchFromEnv();
  const poolMb = envNumber('SADPM_GPU_POOL_MB', null, 'MiB >= 0', (mb) => mb >= 0);
  const poolFraction = envNumber('SADPM_GPU_POOL_FRACTION', null, 'a fraction > 0', (f) => f > 0);
  const probe = await probeWebGPU();
  const picked = probe.hardware ?? (allowSoftware ? probe.software : undefined);
  if (!picked) return probe.reasons.join('; ') || 'Dawn found no adapter';
  const { adapter, gpu, info } = picked;
  // tfjs-backend-webgpu checks navigator.gpu when its backend is constructed.
  if (!('navigator' in globalThis) || !(globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  const L = adapter.limits;
  const requiredFeatures = (['timestamp-query', 'subgroups'] as GPUFeatureName[]).filter((f) =>
    adapter.features.has(f),
  );
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: L.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
      maxBufferSize: L.maxBufferSize,
      maxComputeWorkgroupSizeX: L.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
    },
  });
  device.addEventListener('uncapturederror', (ev) => {
    const e = (ev as GPUUncapturedErrorEvent).error;
    const kind = e.constructor?.name ?? 'GPUError';
    gpuError ??= `${kind === 'GPUOutOfMemoryError' ? 'GPU out of memory' : kind}: ${e.message}`;
  });
  void device.lost.then((l) => {
    if (l.reason !== 'destroyed') gpuError ??= `GPU device lost (${l.reason}): ${l.message}`;
  });
  webgpuDevice = device;
  // Before tfjs allocates anything, so that every buffer it creates is counted.
  instrumentDevice(device);
  // The package registers a default factory on import (it asks for an adapter we may not want);
  // replace it with one bound to the adapter chosen here.
  if ('webgpu' in (tf.engine() as unknown as { registryFactory: Record<string, unknown> }).registryFactory) {
    tf.removeBackend('webgpu');
  }
  tf.registerBackend('webgpu', () => new WebGPUBackend(device, adapter.info), 3);
  const ok = await tf.setBackend('webgpu');
  if (!ok) return 'tfjs could not initialise its webgpu backend on this adapter';
  await tf.ready();
  // tfjs-webgpu's default transposed convolution (the input gradient of every conv) is a naive
  // kernel, 3x slower on the H100 than its own matmul-based one, which is exact and used here.
  if (process.env.SADPM_NAIVE_CONV_TRANSPOSE !== '1') tf.env().set('WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE', false);
  if (submitBatch !== null) tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', submitBatch);
  boundBufferPool(
    tf.backend(),
    poolMb !== null ? { bytes: poolMb * 2 ** 20 } : poolFraction !== null ? { fraction: poolFraction } : {},
  );
  // SADPM_QUEUE_UPLOADS=0 keeps tfjs' own staging-buffer uploads (for comparison).
  if (process.env.SADPM_QUEUE_UPLOADS !== '0') uploadThroughQueue(tf.backend());
  // SADPM_DISPATCH_CACHE=0 keeps tfjs' own per-dispatch bind groups and uniform buffers (for comparison).
  if (process.env.SADPM_DISPATCH_CACHE !== '0') installDispatchHost(tf.backend());
  return info;
}

async function initTensorflow(): Promise<AdapterInfo | string> {
  try {
    const mod = '@tensorflow/tfjs-node-gpu';
    await import(/* @vite-ignore */ mod);
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0] ?? String(err);
    return `@tensorflow/tfjs-node-gpu did not load (${msg}); it needs libtensorflow with CUDA 11.2 + cuDNN 8.1`;
  }
  const ok = await tf.setBackend('tensorflow');
  if (!ok) return 'tfjs-node-gpu loaded but its backend failed to initialise';
  return {
    vendor: 'tensorflow',
    architecture: '',
    device: 'libtensorflow',
    description: '',
    api: 'native',
    software: false,
    features: [],
  };
}

async function initCpu(): Promise<AdapterInfo> {
  await tf.setBackend('cpu');
  await tf.ready();
  return {
    vendor: 'tfjs',
    architecture: 'js',
    device: 'cpu',
    description: 'pure JavaScript kernels',
    api: 'js',
    software: true,
    features: [],
  };
}

/**
 * tfjs' WebAssembly backend (XNNPACK, SIMD; one thread in Node): with the tfjs-xnn kernel set it trains the
 * small presets several times faster than WebGPU on llvmpipe (bench:train, issue 17).
 */
async function initWasm(): Promise<AdapterInfo | string> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    registerWasmKernelFixes(tf);
    if (!(await tf.setBackend('wasm'))) return 'tfjs-backend-wasm did not initialise';
    await tf.ready();
  } catch (err) {
    return `tfjs-backend-wasm failed to load: ${(err as Error).message}`;
  }
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  return {
    vendor: 'tfjs',
    architecture: 'wasm',
    device: 'cpu',
    description: `WebAssembly${simd ? ' SIMD' : ''} kernels (XNNPACK), one thread`,
    api: 'wasm',
    software: true,
    features: simd ? ['simd'] : [],
  };
}

/**
 * Initialises the requested backend. 'auto' tries a hardware WebGPU adapter, then tfjs-node-gpu,
 * then WebGPU on a software adapter, then cpu. An explicit choice that fails throws with the reason.
 */
export async function initBackend(pref: Backend): Promise<BackendInfo> {
  if (active && (pref === 'auto' || pref === active.name)) return active;
  const rejected: BackendInfo['rejected'] = [];
  const attempt = async (
    name: BackendInfo['name'],
    fn: () => Promise<AdapterInfo | string>,
  ): Promise<BackendInfo | null> => {
    const r = await fn();
    if (typeof r === 'string') {
      rejected.push({ name, reason: r });
      return null;
    }
    active = { name, adapter: r, rejected };
    return active;
  };
  if (pref === 'webgpu') {
    const r = await attempt('webgpu', () => initWebGPU(true));
    if (r) return r;
    throw new Error(`backend webgpu unavailable: ${rejected[0]?.reason}`);
  }
  if (pref === 'tensorflow') {
    const r = await attempt('tensorflow', initTensorflow);
    if (r) return r;
    throw new Error(`backend tensorflow unavailable: ${rejected[0]?.reason}`);
  }
  if (pref === 'wasm') {
    rejected.push({ name: 'webgpu', reason: 'not requested (--backend wasm)' });
    const r = await attempt('wasm', initWasm);
    if (r) return r;
    throw new Error(`backend wasm unavailable: ${rejected.at(-1)?.reason}`);
  }
  if (pref === 'cpu') {
    rejected.push(
      { name: 'webgpu', reason: 'not requested (--backend cpu)' },
      { name: 'tensorflow', reason: 'not requested (--backend cpu)' },
    );
    const r = await attempt('cpu', initCpu);
    return r!;
  }
  const hw = await initWebGPU(false);
  if (typeof hw !== 'string') {
    rejected.push({ name: 'tensorflow', reason: 'a hardware WebGPU adapter was found first' });
    active = { name: 'webgpu', adapter: hw, rejected };
    return active;
  }
  const tfr = await attempt('tensorflow', initTensorflow);
  if (tfr) {
    rejected.unshift({ name: 'webgpu', reason: hw });
    return tfr;
  }
  const sw = await initWebGPU(true);
  if (typeof sw !== 'string') {
    rejected.unshift({ name: 'webgpu (hardware)', reason: hw });
    rejected.push({ name: 'cpu', reason: 'WebGPU on a software adapter is ~20-40x faster than tfjs cpu kernels' });
    active = { name: 'webgpu', adapter: sw, rejected };
    return active;
  }
  rejected.unshift({ name: 'webgpu', reason: sw });
  return (await attempt('cpu', initCpu))!;
}

export function activeBackend(): BackendInfo | null {
  return active;
}

export function describeBackend(info: BackendInfo): string {
  const a = info.adapter;
  const dev = [a.vendor, a.architecture, a.device || a.description].filter(Boolean).join(' ');
  return `${info.name} (${a.api}${a.software ? ', software' : ''}: ${dev})`;
}

/** Throws the first uncaptured GPU error (out-of-memory, validation, device lost) seen so far. */
export function assertGpuHealthy(): void {
  if (gpuError) {
    const msg = gpuError;
    gpuError = null;
    throw new Error(msg);
  }
}

/**
 * Bytes currently allocated on the device: on webgpu every GPUBuffer alive (tensors, tfjs' pool of
 * freed buffers, uniforms, staging), otherwise what the backend reports, if anything.
 */
export function deviceBytes(): number | undefined {
  if (webgpuDevice && active?.name === 'webgpu') return gpuMemoryStats().liveBytes;
  const m = tf.memory() as { numBytesInGPUAllocated?: number; numBytesInGPU?: number };
  return m.numBytesInGPUAllocated ?? m.numBytesInGPU;
}

/** Largest deviceBytes() since the backend started or since resetDevicePeak(); undefined off webgpu. */
export function devicePeakBytes(): number | undefined {
  return webgpuDevice && active?.name === 'webgpu' ? gpuMemoryStats().peakBytes : undefined;
}

export function resetDevicePeak(): void {
  resetGpuPeak();
}

export function gpuDevice(): GPUDevice | null {
  return webgpuDevice;
}
