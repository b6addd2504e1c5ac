/** L_simple = E‖f(x_t, t) − ε‖²: sum over pixels, mean over the batch (the official reduction). */
import { tf } from '../../tf';

/** `r` holds residuals ε − f, one row per image ([B, P]). */
export function simpleLossFromResiduals(r: tf.Tensor2D): tf.Scalar {
  return tf.div(tf.sum(tf.square(r)), r.shape[0]) as tf.Scalar;
}
