/**
 * What the hand-written WGSL kernels share: running a program through tfjs-webgpu (4.x)'s
 * runWebGPUProgram, and the geometry of a k×k NHWC convolution that the convolution kernels bake
 * into their shaders as constants.
 */
import { tf } from '../tf';

interface WebGPUBackendLike {
  runWebGPUProgram(program: unknown, inputs: tf.TensorInfo[], dtype: tf.DataType): tf.TensorInfo;
}

/** Runs `program` on the webgpu backend given to a kernel function; the output is float32. */
export function runProgram(backend: unknown, program: unknown, inputs: tf.TensorInfo[]): tf.TensorInfo {
  return (backend as WebGPUBackendLike).runWebGPUProgram(program, inputs, 'float32');
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
