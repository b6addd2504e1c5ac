/**
 * Every private TensorFlow.js internal the engine reads or patches, checked on live backends, and the
 * installed tfjs packages against the exact versions package.json pins. The engine's patches return
 * false and fall back quietly when an internal is missing (a slower step, a pool that grows without
 * bound), so an upgrade that moves one must fail here, naming the internal, the version and the user.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tape from '@tensorflow/tfjs-core/dist/tape.js';
import { tf } from '../../../src/engine/tf';
import { initBackend } from '../../../src/engine/backend';
import { runGpuKernel } from '../../../src/engine/gpu/program';

const ROOT = join(__dirname, '..', '..', '..');

function installedVersion(pkg: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return null;
  }
}

type Kind =
  | 'function'
  | 'number'
  | 'Map'
  | 'WeakSet'
  | 'object'
  | 'array'
  | 'GPUBuffer'
  | 'GPUQueue'
  | 'GPUCommandEncoder'
  | 'null';

function kindOf(v: unknown): Kind | string {
  if (v === null) return 'null';
  if (v instanceof Map) return 'Map';
  if (v instanceof WeakSet) return 'WeakSet';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.size === 'number' && typeof o.mapState === 'string' && typeof o.destroy === 'function')
      return 'GPUBuffer';
    if (typeof o.writeBuffer === 'function' && typeof o.submit === 'function') return 'GPUQueue';
    if (typeof o.copyBufferToBuffer === 'function' && typeof o.finish === 'function') return 'GPUCommandEncoder';
    return 'object';
  }
  return typeof v;
}

interface Internal {
  /** Where it lives, as a path from the package's object (WebGPUBackend.bufferManager.freeBuffers). */
  name: string;
  kind: Kind;
  /** The engine code that relies on it. */
  usedBy: string;
  get: () => unknown;
}

function expectInternal(pkg: string, i: Internal): void {
  let found: string;
  try {
    found = kindOf(i.get());
  } catch (err) {
    found = `an error (${(err as Error).message})`;
  }
  const version = installedVersion(pkg) ?? 'not installed';
  const msg = `${pkg} ${version}: ${i.name} is ${found}, expected ${i.kind} (relied on by ${i.usedBy})`;
  expect(found, msg).toBe(i.kind);
}

describe('tfjs versions', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  const pinned = Object.entries({ ...pkg.dependencies, ...pkg.optionalDependencies }).filter(([name]) =>
    name.startsWith('@tensorflow/'),
  );

  it('package.json pins every @tensorflow package to one exact version', () => {
    expect(pinned.length).toBeGreaterThan(0);
    for (const [name, spec] of pinned)
      expect(spec, `${name}: "${spec}" in package.json must be an exact version`).toMatch(/^\d+\.\d+\.\d+$/);
    expect(
      new Set(pinned.map(([, spec]) => spec)).size,
      `one tfjs version for all of ${pinned.map(([n]) => n).join(', ')}`,
    ).toBe(1);
  });

  it('the installed packages (and the tfjs parts they pull in) are the pinned version', () => {
    const want = pinned[0]![1];
    for (const [name] of pinned) {
      const got = installedVersion(name);
      if (got === null && name in (pkg.optionalDependencies ?? {})) continue;
      expect(got, `${name}: installed ${got}, package.json pins ${want}`).toBe(want);
    }
    for (const [part, got] of Object.entries(tf.version))
      expect(got, `${part}: loaded ${got}, package.json pins ${want}`).toBe(want);
  });
});

describe('tfjs-core internals (nets/grads.ts)', () => {
  interface EngineInternals {
    state: { gradientDepth: number; activeTape: Record<string, unknown>[] | null };
    scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
    startTape(): void;
    endTape(): void;
    tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
  }
  const engine = () => tf.engine() as unknown as EngineInternals;
  const core = '@tensorflow/tfjs-core';

  it.for<Internal>([
    {
      name: 'Engine.state.gradientDepth',
      kind: 'number',
      usedBy: 'variableGradsFreeing',
      get: () => engine().state.gradientDepth,
    },
    { name: 'Engine.scopedRun', kind: 'function', usedBy: 'variableGradsFreeing', get: () => engine().scopedRun },
    { name: 'Engine.startTape', kind: 'function', usedBy: 'variableGradsFreeing', get: () => engine().startTape },
    { name: 'Engine.endTape', kind: 'function', usedBy: 'variableGradsFreeing', get: () => engine().endTape },
    { name: 'Engine.tidy(name, f)', kind: 'function', usedBy: 'variableGradsFreeing', get: () => engine().tidy },
    {
      name: 'dist/tape.js getFilteredNodesXToY',
      kind: 'function',
      usedBy: 'variableGradsFreeing',
      get: () => tape.getFilteredNodesXToY,
    },
  ])('$name', (i) => expectInternal(core, i));

  it('a recorded tape node has id, kernelName, inputs, outputs, saved and gradient', () => {
    const e = engine();
    const a = tf.variable(tf.tensor1d([1, 2, 3]));
    const y = e.scopedRun(
      () => e.startTape(),
      () => e.endTape(),
      () => e.tidy('forward', () => tf.sum(tf.mul(a, a))),
    );
    const recorded = e.state.activeTape;
    const node = recorded?.find((n) => n.kernelName === 'Multiply');
    e.state.activeTape = null;
    expectInternal(core, {
      name: 'Engine.state.activeTape (after a taped scope)',
      kind: 'array',
      usedBy: 'variableGradsFreeing',
      get: () => recorded,
    });
    for (const [field, kind] of [
      ['id', 'number'],
      ['kernelName', 'string'],
      ['inputs', 'object'],
      ['outputs', 'array'],
      ['saved', 'array'],
      ['gradient', 'function'],
    ] as const) {
      expectInternal(core, {
        name: `tape node .${field}`,
        kind: kind as Kind,
        usedBy: 'variableGradsFreeing',
        get: () => (node ?? {})[field],
      });
    }
    tf.dispose([a, y]);
  });
});

describe('tfjs-backend-cpu internals (cpuKernels.ts)', () => {
  const cpu = '@tensorflow/tfjs-backend-cpu';
  interface CpuBackendLike {
    data: { get(id: object): { values: unknown } };
    makeTensorInfo: unknown;
  }

  it('the cpu backend keeps values in data.get(dataId).values and has makeTensorInfo', async () => {
    await tf.setBackend('cpu');
    const t = tf.tensor1d([1, 2, 3]);
    const be = tf.backend() as unknown as CpuBackendLike;
    expectInternal(cpu, {
      name: 'MathBackendCPU.data.get(dataId).values',
      kind: 'object',
      usedBy: 'resizeNearestNeighborGrad',
      get: () => be.data.get(t.dataId).values,
    });
    expect(be.data.get(t.dataId).values, `${cpu}: values is a typed array`).toBeInstanceOf(Float32Array);
    expectInternal(cpu, {
      name: 'MathBackendCPU.makeTensorInfo',
      kind: 'function',
      usedBy: 'resizeNearestNeighborGrad',
      get: () => be.makeTensorInfo,
    });
    t.dispose();
  });
});

let webgpu = false;
let whyNot = '';

describe('tfjs-backend-webgpu internals (gpu/program, memory, uploads, flatCopy; backend.ts)', () => {
  const pkg = '@tensorflow/tfjs-backend-webgpu';
  // The backend as the engine leaves it: uploads and the buffer pool already patched.
  const be = () =>
    tf.backend() as unknown as Record<string, unknown> & {
      tensorMap: { get(id: object): Record<string, unknown> | undefined };
      bufferManager: Record<string, unknown> & {
        acquireBuffer(size: number, usage: number): GPUBuffer;
        releaseBuffer(b: GPUBuffer): void;
        freeBuffers: Map<string, GPUBuffer[]>;
      };
      ensureCommandEncoderReady(): void;
      uploadToGPU(id: object): void;
    };

  beforeAll(async () => {
    try {
      webgpu = (await initBackend('webgpu')).name === 'webgpu';
    } catch (err) {
      whyNot = (err as Error).message;
    }
  });

  const skipUnlessWebgpu = (ctx: { skip: () => void }) => {
    if (webgpu) return;
    console.log(`skipped: no webgpu backend here (${whyNot || 'initBackend did not choose webgpu'})`);
    ctx.skip();
  };

  const members: Internal[] = [
    {
      name: 'WebGPUBackend.runWebGPUProgram',
      kind: 'function',
      usedBy: 'gpu/program.ts runGpuKernel',
      get: () => be().runWebGPUProgram,
    },
    {
      name: 'WebGPUBackend.bufferManager',
      kind: 'object',
      usedBy: 'gpu/memory.ts, gpu/uploads.ts',
      get: () => be().bufferManager,
    },
    {
      name: 'WebGPUBackend.bufferManager.freeBuffers',
      kind: 'Map',
      usedBy: 'gpu/memory.ts boundBufferPool',
      get: () => be().bufferManager.freeBuffers,
    },
    {
      name: 'WebGPUBackend.bufferManager.numFreeBuffers',
      kind: 'number',
      usedBy: 'gpu/memory.ts boundBufferPool',
      get: () => be().bufferManager.numFreeBuffers,
    },
    {
      name: 'WebGPUBackend.bufferManager.numBytesAllocated',
      kind: 'number',
      usedBy: 'gpu/memory.ts boundBufferPool',
      get: () => be().bufferManager.numBytesAllocated,
    },
    {
      name: 'WebGPUBackend.bufferManager.numBytesUsed',
      kind: 'number',
      usedBy: 'gpu/memory.ts boundBufferPool',
      get: () => be().bufferManager.numBytesUsed,
    },
    {
      name: 'WebGPUBackend.bufferManager.acquireBuffer',
      kind: 'function',
      usedBy: 'gpu/memory.ts, gpu/uploads.ts',
      get: () => be().bufferManager.acquireBuffer,
    },
    {
      name: 'WebGPUBackend.bufferManager.releaseBuffer',
      kind: 'function',
      usedBy: 'gpu/memory.ts boundBufferPool',
      get: () => be().bufferManager.releaseBuffer,
    },
    {
      name: 'WebGPUBackend.tensorMap',
      kind: 'object',
      usedBy: 'gpu/uploads.ts, gpu/flatCopy.ts',
      get: () => be().tensorMap,
    },
    {
      name: 'WebGPUBackend.queue',
      kind: 'GPUQueue',
      usedBy: 'gpu/uploads.ts uploadThroughQueue',
      get: () => be().queue,
    },
    {
      name: 'WebGPUBackend.uploadToGPU',
      kind: 'function',
      usedBy: 'gpu/uploads.ts, gpu/flatCopy.ts',
      get: () => be().uploadToGPU,
    },
    {
      name: 'WebGPUBackend.commandQueueOwnedIds',
      kind: 'WeakSet',
      usedBy: 'gpu/flatCopy.ts',
      get: () => be().commandQueueOwnedIds,
    },
    {
      name: 'WebGPUBackend.ensureCommandEncoderReady',
      kind: 'function',
      usedBy: 'gpu/flatCopy.ts',
      get: () => be().ensureCommandEncoderReady,
    },
    {
      name: 'WebGPUBackend.endComputePassEncoder',
      kind: 'function',
      usedBy: 'gpu/flatCopy.ts',
      get: () => be().endComputePassEncoder,
    },
    {
      name: 'WebGPUBackend.makeTensorInfo',
      kind: 'function',
      usedBy: 'gpu/flatCopy.ts emptyTensor',
      get: () => be().makeTensorInfo,
    },
    {
      name: 'WebGPUBackend.convertAndCacheOnCPU',
      kind: 'function',
      usedBy: 'gpu/flatCopy.ts forgetCpuValues',
      get: () => be().convertAndCacheOnCPU,
    },
    {
      name: 'WebGPUBackend.commandEncoder (after ensureCommandEncoderReady)',
      kind: 'GPUCommandEncoder',
      usedBy: 'gpu/flatCopy.ts',
      get: () => (be().ensureCommandEncoderReady(), be().commandEncoder),
    },
    // Issue 14: in-place kernels and early submits (gpu/inPlace.ts).
    { name: 'WebGPUBackend.device', kind: 'object', usedBy: 'gpu/inPlace.ts', get: () => be().device },
    {
      name: 'WebGPUBackend.uniformPendingDisposal',
      kind: 'array',
      usedBy: 'gpu/inPlace.ts dispatchInPlace',
      get: () => be().uniformPendingDisposal,
    },
    {
      name: 'WebGPUBackend.submitQueue',
      kind: 'function',
      usedBy: 'gpu/inPlace.ts submitPending',
      get: () => be().submitQueue,
    },
    {
      name: "Engine.registryFactory['webgpu']",
      kind: 'function',
      usedBy: 'backend.ts initWebGPU',
      get: () =>
        (tf.engine() as unknown as { registryFactory: Record<string, { factory: unknown }> }).registryFactory.webgpu
          ?.factory,
    },
    {
      name: "env flag 'WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE'",
      kind: 'object',
      usedBy: 'backend.ts initWebGPU',
      get: () =>
        (tf.env() as unknown as { flagRegistry: Record<string, unknown> }).flagRegistry
          .WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE,
    },
    // Issue 14: host time per dispatch (gpu/dispatchHost.ts replaces these on the instance).
    {
      name: 'WebGPUBackend.prototype.recordAndSubmit',
      kind: 'function',
      usedBy: 'gpu/dispatchHost.ts',
      get: () => (Object.getPrototypeOf(be()) as Record<string, unknown>).recordAndSubmit,
    },
    {
      name: 'WebGPUBackend.prototype.submitQueue',
      kind: 'function',
      usedBy: 'gpu/dispatchHost.ts',
      get: () => (Object.getPrototypeOf(be()) as Record<string, unknown>).submitQueue,
    },
    {
      name: 'WebGPUBackend.dispatchCountInPass',
      kind: 'number',
      usedBy: 'gpu/dispatchHost.ts',
      get: () => be().dispatchCountInPass,
    },
    {
      name: 'WebGPUBackend.computePassEncoder (after endComputePassEncoder)',
      kind: 'null',
      usedBy: 'gpu/dispatchHost.ts',
      get: () => {
        (be().endComputePassEncoder as () => void).call(be());
        return be().computePassEncoder;
      },
    },
    {
      name: "env flag 'WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE'",
      kind: 'number',
      usedBy: 'gpu/dispatchHost.ts',
      get: () => tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE'),
    },
  ];

  it.for(members)('$name', (i, ctx) => {
    skipUnlessWebgpu(ctx);
    expectInternal(pkg, i);
  });

  const entryFields = 'dtype, shape, refCount, values cached by a read, resource a GPUBuffer once uploaded';
  it(`a tensor's tensorMap entry: ${entryFields}`, async (ctx) => {
    skipUnlessWebgpu(ctx);
    const t = tf.add(tf.tensor1d([1, 2, 3, 4]), 1);
    const entry = () => be().tensorMap.get(t.dataId) ?? {};
    be().uploadToGPU(t.dataId);
    const used = 'gpu/uploads.ts, gpu/flatCopy.ts';
    expectInternal(pkg, {
      name: 'tensorMap entry .resource (uploaded)',
      kind: 'GPUBuffer',
      usedBy: used,
      get: () => entry().resource,
    });
    expectInternal(pkg, {
      name: 'tensorMap entry .refCount',
      kind: 'number',
      usedBy: 'gpu/flatCopy.ts copyFlatInto',
      get: () => entry().refCount,
    });
    expectInternal(pkg, {
      name: 'tensorMap entry .shape',
      kind: 'array',
      usedBy: 'gpu/uploads.ts',
      get: () => entry().shape,
    });
    expect(entry().dtype, `${pkg}: tensorMap entry .dtype`).toBe('float32');
    await t.data();
    // flatCopy.ts drops this cache after writing a buffer behind tfjs' back.
    expectInternal(pkg, {
      name: 'tensorMap entry .values (cached by data())',
      kind: 'object',
      usedBy: 'gpu/flatCopy.ts forgetCpuValues',
      get: () => entry().values,
    });
    t.dispose();
  });

  it('released buffers are pooled in freeBuffers under `${size}_${usage}`', (ctx) => {
    skipUnlessWebgpu(ctx);
    const mgr = be().bufferManager;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const size = 4 * 1237;
    const buf = mgr.acquireBuffer(size, usage);
    mgr.releaseBuffer(buf);
    const msg = `${pkg} ${installedVersion(pkg)}: freeBuffers key format (relied on by gpu/memory.ts trim)`;
    expect(mgr.freeBuffers.get(`${size}_${usage}`)?.includes(buf), msg).toBe(true);
  });

  const preamble = 'uniforms.NAN, workgroupId, localIndex, and main(index) with uniforms.size';
  it(`the shader preamble declares ${preamble}`, async (ctx) => {
    skipUnlessWebgpu(ctx);
    class Probe {
      readonly variableNames = ['x'];
      readonly outputShape = [70];
      readonly shaderKey = 'sadpmInternalsProbe';
      readonly dispatchLayout = { x: [0] };
      readonly dispatch: [number, number, number] = [2, 1, 1];
      readonly workgroupSize: [number, number, number] = [64, 1, 1];
      readonly size = true;
      getUserCode(): string {
        return `
          fn main(index: i32) {
            _ = uniforms.NAN;
            if (index < uniforms.size) { result[index] = x[index] + f32(workgroupId.x * 1000u + localIndex); }
          }`;
      }
    }
    const x = tf.range(0, 70, 1, 'float32');
    const y = runGpuKernel('SadpmInternalsProbe', { x }, {}, () => new Probe());
    const want = Array.from({ length: 70 }, (_, i) => i + Math.floor(i / 64) * 1000 + (i % 64));
    expect(
      Array.from(await y.data()),
      `${pkg} ${installedVersion(pkg)}: shader preamble (relied on by every gpu/*.ts program)`,
    ).toEqual(want);
    tf.dispose([x, y]);
  });
});
