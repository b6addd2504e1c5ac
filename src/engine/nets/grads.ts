/**
 * tf.variableGrads with PyTorch's memory behaviour.
 *
 * tfjs-core's gradients() keeps, until the whole backward pass ends, every gradient it has computed
 * (one per intermediate tensor), every tensor saved for backward, and every temporary a custom
 * gradient function creates (they run outside any tidy). For the cifar10 UNet that was tens of GB at
 * batch 128. This walk of the same tape frees each of those as soon as nothing later can use it:
 * a node's saved tensors and its outputs' gradients once the node has been differentiated, and the
 * temporaries of its gradient function right away. The arithmetic is tfjs' own, in the same order.
 */
import { tf } from '../tf';
import { getFilteredNodesXToY } from '@tensorflow/tfjs-core/dist/tape.js';
import { kernels } from '../gpu/registry';

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { gradientDepth: number; activeTape: TapeNode[] | null };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
}

export function variableGradsFreeing(
  f: () => tf.Scalar,
  vars: tf.Variable[],
): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const engine = tf.engine() as unknown as EngineInternals;
  // Nested (higher-order) gradients need the tape kept: leave those to tfjs.
  if (engine.state.gradientDepth !== 0)
    return tf.variableGrads(f, vars) as { value: tf.Scalar; grads: Record<string, tf.Tensor> };
  const xs = vars.filter((v) => v.trainable);
  const y = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => engine.tidy('forward', f),
  );
  if (!(y instanceof tf.Tensor) || y.rank !== 0) throw new Error('variableGradsFreeing: f must return a scalar tensor');
  const tape = engine.state.activeTape ?? [];
  const filtered = getFilteredNodesXToY(tape as never, xs, y) as unknown as TapeNode[];
  const grads = tf.tidy(() => {
    const acc = new Map<number, tf.Tensor>();
    // A gradient function may hand back the very tensor it received: count references, not ids.
    const refs = new Map<tf.Tensor, number>();
    const put = (id: number, g: tf.Tensor) => {
      acc.set(id, g);
      refs.set(g, (refs.get(g) ?? 0) + 1);
    };
    const drop = (id: number) => {
      const g = acc.get(id);
      if (!g) return;
      acc.delete(id);
      const n = (refs.get(g) ?? 1) - 1;
      if (n <= 0) {
        refs.delete(g);
        g.dispose();
      } else refs.set(g, n);
    };
    put(y.id, tf.onesLike(y));
    for (let i = filtered.length - 1; i >= 0; i--) {
      const node = filtered[i]!;
      if (!node.gradient)
        throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
      const names = Object.keys(node.inputs);
      const dxs = tf.tidy(() => {
        const fns = node.gradient!(dys);
        const out: Record<string, tf.Tensor> = {};
        for (const name of names) {
          const fn = fns[name];
          if (!fn) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
          out[name] = fn();
        }
        return out;
      });
      for (const name of names) {
        const dx = dxs[name]!;
        const x = node.inputs[name]!;
        if (dx.dtype !== 'float32')
          throw new Error(`Error in gradient for op ${node.kernelName}: gradient of '${name}' has dtype ${dx.dtype}`);
        if (!tf.util.arraysEqual(dx.shape, x.shape)) {
          throw new Error(
            `Error in gradient for op ${node.kernelName}: gradient of '${name}' has shape [${dx.shape}], input has [${x.shape}]`,
          );
        }
        const cur = acc.get(x.id);
        if (cur === undefined) put(x.id, dx);
        else if (refs.get(cur) === 1 && kernels().addInto(cur, dx)) {
          // Summed into the buffer it already has: no third activation-sized buffer for the sum.
          dx.dispose();
        } else {
          const sum = tf.add(cur, dx);
          drop(x.id);
          dx.dispose();
          put(x.id, sum);
        }
      }
      // Nothing earlier on the tape produces these tensors, so their gradients are complete and used.
      for (const o of node.outputs) drop(o.id);
      for (const t of node.saved ?? []) t.dispose();
      node.saved = [];
    }
    const out: Record<string, tf.Tensor> = {};
    for (const v of xs) {
      const g = acc.get(v.id);
      if (g) out[v.name] = g;
    }
    return out;
  });
  for (const node of tape) for (const t of node.saved ?? []) t.dispose();
  engine.state.activeTape = null;
  return { value: y as tf.Scalar, grads };
}

/**
 * tf.valueAndGrads(f)(xs, dy), callable from a gradient function: tfjs' gradients() starts a new active
 * tape when none is being recorded and clears it when done, which would drop the tape of a gradients()
 * call whose backward pass is running this one (tf.variableGrads reads its tape again at its end).
 */
export function valueAndGradsWithin(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  xs: tf.Tensor[],
  dy: tf.Tensor,
): { value: tf.Tensor; grads: tf.Tensor[] } {
  const engine = tf.engine() as unknown as EngineInternals;
  const tape = engine.state.activeTape;
  try {
    return tf.valueAndGrads(f)(xs, dy);
  } finally {
    engine.state.activeTape = tape;
  }
}
