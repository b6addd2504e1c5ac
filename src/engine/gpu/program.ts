/**
 * What the hand-written WGSL kernels share: running a program as a tfjs kernel (registered for the
 * webgpu backend on first use, executed by tfjs-webgpu 4.x's runWebGPUProgram), and the geometry of
 * a k×k NHWC convolution that the convolution kernels bake into their shaders as constants.
 */
import { tf } from '../tf';

/** Values of the fields a program declares in its `uniforms` string, in that order. */
export interface ProgramUniform {
  type: 'int32' | 'uint32' | 'float32';
  data: number[];
}

interface WebGPUBackendLike {
  runWebGPUProgram(
    program: unknown,
    inputs: tf.TensorInfo[],
    dtype: tf.DataType,
    uniforms?: ProgramUniform[],
  ): tf.TensorInfo;
}

/**
 * A tfjs-webgpu program: its inputs are bound in the order of variableNames. Values that change
 * from call to call without changing the shader (a random key) travel as uniforms: tfjs writes one
 * uniform buffer per dispatch anyway, so they cost no upload and no recompilation.
 */
interface Program {
  readonly variableNames: string[];
  readonly uniformData?: ProgramUniform[];
}

const registered = new Set<string>();

/**
 * Runs kernel `name` on `inputs` (keyed by the program's variable names): the program `make` builds
 * from the inputs' shapes and `attrs`, with a float32 output. Registers the kernel on first use, so
 * the first call's `make` serves every later call: it must depend on its arguments only.
 */
export function runGpuKernel<A extends object>(
  name: string,
  inputs: Record<string, tf.Tensor>,
  attrs: A,
  make: (inputs: Record<string, tf.TensorInfo>, attrs: A) => Program,
): tf.Tensor {
  if (!registered.has(name)) {
    registered.add(name);
    tf.registerKernel({
      kernelName: name,
      backendName: 'webgpu',
      kernelFunc: ({ inputs: given, backend, attrs: a }) => {
        const infos = given as Record<string, tf.TensorInfo>;
        const program = make(infos, a as unknown as A);
        const gpu = backend as unknown as WebGPUBackendLike;
        const bound = program.variableNames.map((v) => infos[v]!);
        return gpu.runWebGPUProgram(program, bound, 'float32', program.uniformData);
      },
    });
  }
  return tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** x [n,h,w,cin] → y [n,oh,ow,cout] by a k×k filter with stride s and padding pt/pl before. */
export interface ConvGeometry {
  n: number;
  h: number;
  w: number;
  cin: number;
  oh: number;
  ow: number;
  cout: number;
  k: number;
  s: number;
  pt: number;
  pl: number;
}

/** The device's workgroup memory per workgroup (WebGPU's default when the backend is not tfjs-webgpu). */
export function workgroupMemoryLimit(): number {
  const be = tf.backend() as unknown as { device?: GPUDevice };
  return be?.device?.limits?.maxComputeWorkgroupStorageSize ?? 16384;
}
