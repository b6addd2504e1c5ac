/**
 * Faster kernels for tfjs-backend-wasm, registered over the package's own when the wasm backend starts.
 *
 * Slice (4.22) reads its input with readSync, which copies the whole tensor out of the WebAssembly heap on every
 * call: slicing 1,232 values out of 177k took 233 µs, out of 5k 7.5 µs. This one copies only the slice, row by row,
 * from a view of the heap. Unpack, SplitV and StridedSlice's simple cases are built on Slice and gain too.
 *
 * BatchMatMul runs XNNPACK only for one unbatched, untransposed product; batched or transposed ones (attention,
 * the gradients of every dense layer) take a naive loop ~10× slower. This one copies each batch's operands,
 * transposed where asked, into fresh [1, m, k] and [1, k, n] tensors and runs the fast product on each. Fresh
 * tensors, not reused ones: XNNPACK caches the packed right operand per tensor id.
 */
import type * as tfjs from '@tensorflow/tfjs';

type Tf = typeof tfjs;

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): tfjs.TensorInfo;
  typedArrayFromHeap(t: tfjs.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object): boolean;
}

/** Writes matrix `index` of x ([..., r, c] row-major) into dst as [r, c], or as [c, r] when `transpose`. */
function copyMatrix(x: ArrayLike<number>, index: number, r: number, c: number, transpose: boolean, dst: Float32Array) {
  const base = index * r * c;
  if (!transpose) {
    dst.set((x as Float32Array).subarray(base, base + r * c));
    return;
  }
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) dst[j * r + i] = x[base + i * c + j]!;
}

function batchMatMulByParts(tf: Tf, original: tfjs.KernelConfig): tfjs.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: tfjs.TensorInfo; b: tfjs.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
    const plain = !transposeA && !transposeB && batchA === 1 && batchB === 1;
    const broadcastable = batchA === batchB || batchA === 1 || batchB === 1;
    if (plain || !broadcastable || a.dtype !== 'float32' || b.dtype !== 'float32') return original.kernelFunc(args);
    const backend = args.backend as WasmBackendLike;
    const [ar, ac] = a.shape.slice(-2) as [number, number];
    const [br, bc] = b.shape.slice(-2) as [number, number];
    const [m, k] = transposeA ? [ac, ar] : [ar, ac];
    const n = transposeB ? br : bc;
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batch = Math.max(batchA, batchB);
    const out = backend.makeOutput([...outer, m, n], 'float32');
    for (let i = 0; i < batch; i++) {
      const left = backend.makeOutput([1, m, k], 'float32');
      const right = backend.makeOutput([1, k, n], 'float32');
      const heap = (t: tfjs.TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
      copyMatrix(heap(a), batchA === 1 ? 0 : i, ar, ac, transposeA, heap(left));
      copyMatrix(heap(b), batchB === 1 ? 0 : i, br, bc, transposeB, heap(right));
      const part = original.kernelFunc({
        inputs: { a: left, b: right },
        backend: args.backend,
        attrs: { transposeA: false, transposeB: false },
      }) as tfjs.TensorInfo;
      heap(out).set(heap(part), i * m * n);
      for (const t of [left, right, part]) backend.disposeData(t.dataId);
    }
    return out;
  };
}

/** Copies the box [begin, begin + size) of x (row-major, `shape`) into out, one innermost run at a time. */
export function copyBox(
  x: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> },
  shape: number[],
  begin: number[],
  size: number[],
  out: { set(v: ArrayLike<number>, offset: number): void },
): void {
  const rank = shape.length;
  if (size.some((s) => s === 0)) return;
  const strides = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1]! * shape[d + 1]!;
  const run = size[rank - 1]!;
  const idx = new Array<number>(Math.max(0, rank - 1)).fill(0);
  let o = 0;
  for (;;) {
    let off = begin[rank - 1]!;
    for (let d = 0; d < rank - 1; d++) off += (begin[d]! + idx[d]!) * strides[d]!;
    out.set(x.subarray(off, off + run), o);
    o += run;
    let d = rank - 2;
    while (d >= 0 && ++idx[d]! === size[d]!) idx[d--] = 0;
    if (d < 0) return;
  }
}

export function registerWasmKernelFixes(tf: Tf): void {
  const matMul = tf.getKernel('BatchMatMul', 'wasm');
  if (matMul) {
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel({ ...matMul, kernelFunc: batchMatMulByParts(tf, matMul) });
  }
  const original = tf.getKernel('Slice', 'wasm');
  if (!original) return;
  tf.unregisterKernel('Slice', 'wasm');
  tf.registerKernel({
    kernelName: 'Slice',
    backendName: 'wasm',
    setupFunc: original.setupFunc,
    kernelFunc: (args) => {
      const x = args.inputs.x as tfjs.TensorInfo;
      if (x.dtype === 'string' || x.shape.length === 0) return original.kernelFunc(args);
      const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
      const [b, s] = tf.slice_util.parseSliceParams(x as tfjs.Tensor, begin, size) as [number[], number[]];
      const backend = args.backend as WasmBackendLike;
      const out = backend.makeOutput(s, x.dtype);
      // Views after makeOutput: an allocation can grow the heap and detach views taken before it.
      copyBox(backend.typedArrayFromHeap(x), x.shape, b, s, backend.typedArrayFromHeap(out));
      return out;
    },
  });
}
