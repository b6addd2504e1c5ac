/**
 * Speed of the convolution kernels on the UNet's layer shapes: tfjs' conv2d (the baseline) against
 * the implicit-GEMM kernel (gpu/conv2d.ts) forward, and the split-K filter gradient, in ms and
 * TFLOP/s (2·M·N·K per product), best of 3 interleaved rounds. Each case checks that both forward
 * results agree.
 *   npm run bench:kernels -- [--batch 128] [--reps 10] [--backend webgpu]
 * Prints one line per shape and one JSON line (prefix BENCH_KERNEL_JSON).
 */
import { tf } from '../src/engine/tf';
import { parseArgs, flagNumber, flagString } from '../src/cli/args';
import { initBackend, describeBackend, assertGpuHealthy } from '../src/engine/backend';
import { conv2dGpu } from '../src/engine/gpu/conv2d';
import { pickTile } from '../src/engine/gpu/gemmTile';
import { convFilterBiasGrad } from '../src/engine/gpu/convFilterGrad';

/** [h=w, cin, cout, k, stride]: the cifar10 preset's convolutions (ch 128, mult 1,2,2,2). */
const SHAPES: [number, number, number, number, number][] = [
  [32, 128, 128, 3, 1],
  [32, 256, 128, 3, 1],
  [32, 128, 128, 3, 2],
  [16, 256, 256, 3, 1],
  [16, 512, 256, 3, 1],
  [8, 256, 256, 3, 1],
  [4, 512, 256, 3, 1],
  [16, 256, 256, 1, 1],
];

/** Mean wall time of `reps` calls of fn after one warm-up, waiting for the GPU at the end. */
async function timeIt(fn: () => tf.Tensor | tf.Tensor[], reps: number): Promise<number> {
  const once = () => {
    const out = fn();
    return Array.isArray(out) ? out : [out];
  };
  const warm = once();
  await warm[0]!.data();
  tf.dispose(warm);
  const t0 = performance.now();
  let last: tf.Tensor[] = [];
  for (let r = 0; r < reps; r++) {
    tf.dispose(last);
    last = once();
  }
  await tf.slice(last[0]!.reshape([-1]), 0, 1).data();
  const ms = (performance.now() - t0) / reps;
  tf.dispose(last);
  return ms;
}

async function main(): Promise<void> {
  const { flags } = parseArgs(['bench', ...process.argv.slice(2)]);
  const batch = flagNumber(flags, 'batch', 128);
  const reps = flagNumber(flags, 'reps', 10);
  const info = await initBackend((flagString(flags, 'backend') ?? 'webgpu') as 'webgpu');
  console.log(`# backend ${describeBackend(info)}; batch ${batch}; ${reps} reps`);
  console.log('# shape (h cin→cout k/s) | tfjs conv2d ms (TFLOP/s) | ours ms (TFLOP/s) | speed-up | filter grad ms (TFLOP/s)');
  for (const [size, cin, cout, k, s] of SHAPES) {
    const pad = Math.floor(Math.max((Math.ceil(size / s) - 1) * s + k - size, 0) / 2);
    const o = Math.ceil(size / s);
    const x = tf.randomNormal([batch, size, size, cin]) as tf.Tensor4D;
    const w = tf.mul(tf.randomNormal([k, k, cin, cout]), 0.05) as tf.Tensor4D;
    const b = tf.randomNormal([cout]) as tf.Tensor1D;
    const dy = tf.randomNormal([batch, o, o, cout]) as tf.Tensor4D;
    const flops = 2 * batch * o * o * cout * k * k * cin;
    const tfjs = () => tf.fused.conv2d({ x, filter: w, strides: s, pad: 'same', bias: b });
    const ours = () => conv2dGpu(x, w, b, s, pad, pad, o, o);
    const a = tfjs();
    const c = ours();
    const diff = (await tf.max(tf.abs(tf.sub(a, c))).data())[0]! / Math.max((await tf.max(tf.abs(a)).data())[0]!, 1e-6);
    tf.dispose([a, c]);
    // The same kernel with each tile size, to check pickTile's choice (marked *).
    const picked = pickTile(batch * o * o, cout);
    const candidates = [{ bm: 128, bn: 128 }, { bm: 128, bn: 64 }, { bm: 64, bn: 128 }, { bm: 64, bn: 64 }];
    const cases: (() => tf.Tensor | tf.Tensor[])[] = [tfjs, ours, () => convFilterBiasGrad(x, dy, k, s, pad, pad), ...candidates.map((tile) => () => conv2dGpu(x, w, b, s, pad, pad, o, o, tile))];
    const best = cases.map(() => Infinity);
    // Interleaved rounds, best of each: clocks and other load drift between consecutive timings.
    for (let round = 0; round < 3; round++) {
      for (const [i, run] of cases.entries()) best[i] = Math.min(best[i]!, await timeIt(run, reps));
    }
    const [tTfjs, tOurs, tGrad] = best as [number, number, number];
    const tiles: string[] = [];
    for (const [i, tile] of candidates.entries()) tiles.push(`${tile.bm}x${tile.bn}${tile.bm === picked.bm && tile.bn === picked.bn ? '*' : ''} ${best[3 + i]!.toFixed(2)}`);
    assertGpuHealthy();
    const tf_ = (ms: number) => (flops / ms / 1e9).toFixed(2);
    const label = `${size} ${cin}→${cout} ${k}/${s}`;
    console.log(
      `${label.padEnd(18)} | ${tTfjs.toFixed(2)} (${tf_(tTfjs)}) | ${tOurs.toFixed(2)} (${tf_(tOurs)}) | ${(tTfjs / tOurs).toFixed(2)}x | ${tGrad.toFixed(2)} (${tf_(tGrad)})  rel diff ${diff.toExponential(1)}; tiles ${tiles.join(', ')}`,
    );
    console.log(`BENCH_KERNEL_JSON ${JSON.stringify({ size, cin, cout, k, s, batch, tfjsMs: tTfjs, oursMs: tOurs, filterGradMs: tGrad, gflop: flops / 1e9, relDiff: diff })}`);
    tf.dispose([x, w, b, dy]);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
