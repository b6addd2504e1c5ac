/**
 * Corrections to tfjs-backend-cpu kernels, registered over the package's own.
 *
 * ResizeNearestNeighborGrad (4.22): the package offsets dy by the batch stride of the input image,
 * which is smaller than dy's, so every image after the first receives another image's gradient
 * (the UNet's x2 upsample: 11 of 14 parameter groups off by 7-180 % at batch > 1). The kernel here is
 * the exact transpose of the cpu forward kernel: each dy pixel is added to the input pixel that the
 * forward pass copied it from, with the same corner conventions.
 */
import type * as tfjs from '@tensorflow/tfjs';

type Tf = typeof tfjs;

interface CpuBackendLike {
  data: { get(id: object): { values: ArrayLike<number> } };
  makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tfjs.TensorInfo;
}

/** Source row (or column) of each output row in the cpu ResizeNearestNeighbor forward kernel. */
export function nearestSources(
  inSize: number,
  outSize: number,
  alignCorners: boolean,
  halfPixelCenters: boolean,
): Int32Array {
  const eff = alignCorners && outSize > 1;
  const ratio = (eff ? inSize - 1 : inSize) / (eff ? outSize - 1 : outSize);
  const src = new Int32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const frac = halfPixelCenters ? ratio * (o + 0.5) : ratio * o;
    let s = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
    if (halfPixelCenters) s = Math.max(0, s);
    src[o] = s;
  }
  return src;
}

interface KernelArgs {
  inputs: tfjs.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tfjs.NamedAttrMap;
}

function resizeNearestNeighborGrad(args: KernelArgs): tfjs.TensorInfo {
  const { images, dy } = args.inputs as { images: tfjs.TensorInfo; dy: tfjs.TensorInfo };
  const alignCorners = args.attrs?.alignCorners === true;
  const halfPixelCenters = args.attrs?.halfPixelCenters === true;
  const backend = args.backend as CpuBackendLike;
  const [batch, xh, xw, depth] = images.shape as [number, number, number, number];
  const [, yh, yw] = dy.shape as [number, number, number, number];
  const dyv = backend.data.get(dy.dataId).values;
  const rows = nearestSources(xh, yh, alignCorners, halfPixelCenters);
  const cols = nearestSources(xw, yw, alignCorners, halfPixelCenters);
  const out = new Float32Array(batch * xh * xw * depth);
  let src = 0;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < yh; r++) {
      const rowBase = (b * xh + rows[r]!) * xw;
      for (let c = 0; c < yw; c++) {
        const dst = (rowBase + cols[c]!) * depth;
        for (let d = 0; d < depth; d++) out[dst + d]! += dyv[src++]!;
      }
    }
  }
  return backend.makeTensorInfo(images.shape, images.dtype, out);
}

/** Replaces the broken cpu kernels; called once where the engine imports tfjs. */
export function registerCpuKernelFixes(tf: Tf): void {
  const kernelName = 'ResizeNearestNeighborGrad';
  if (tf.getKernel(kernelName, 'cpu')) tf.unregisterKernel(kernelName, 'cpu');
  tf.registerKernel({ kernelName, backendName: 'cpu', kernelFunc: resizeNearestNeighborGrad as tfjs.KernelFunc });
}
