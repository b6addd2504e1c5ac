/** The one place the engine imports TensorFlow.js from (registers gradients and the cpu backend). */
import * as tf from '@tensorflow/tfjs';
import { registerCpuKernelFixes } from './cpuKernels';

registerCpuKernelFixes(tf);

export { tf };
export type Tensor = tf.Tensor;
