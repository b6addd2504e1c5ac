/** The one place the engine imports TensorFlow.js from (registers gradients and the cpu backend). */
import * as tf from '@tensorflow/tfjs';

export { tf };
export type Tensor = tf.Tensor;
