/**
 * The shared matrix-product core's code variants on the cifar10 UNet's heaviest layer
 * shapes, forward convolution and filter gradient, in GPU time (timestamp queries through tf.time:
 * run with SADPM_DAWN_FLAGS=enable-dawn-features=allow_unsafe_apis) and in wall time over `reps`
 * back-to-back calls. Every variant's output is checked bit-equal to the default's.
 *   npm run bench:kernels -- --sweep all|H [--batch 256] [--reps 20]   (H: only the shapes of that height)
 * Prints one line per case and one JSON line each (prefix BENCH_GEMM_JSON).
 */
import { tf } from '../src/engine/tf';
import { assertGpuHealthy } from '../src/engine/backend';
import { conv2dGpu } from '../src/engine/gpu/conv2d';
import { convFilterBiasGrad } from '../src/engine/gpu/convFilterGrad';
import { parseVariant, pickTile } from '../src/engine/gpu/gemmTile';

/** [h=w, cin, cout, k]: the cifar10 preset's most frequent stride-1 convolutions. */
const SWEEP_SHAPES: [number, number, number, number][] = [
  [32, 128, 128, 3],
  [16, 256, 256, 3],
  [8, 256, 256, 3],
  [4, 256, 256, 3],
  [16, 256, 256, 1],
];

/** The forward variants timed at the picked tile, and the filter gradient's (the first sweeps' leaders, with db). */
const FWD = ['none', 'unroll,bk32,aT', 'unroll,bk32,aT,db', 'unroll,aT,db', 'unroll,bk32,db', 'unroll,aRows,bk32,db'];
const FGRAD = ['none', 'warp,unroll', 'warp,unroll,db', 'warp,unroll,bk32,db', 'unroll,db'];

async function gpuMs(run: () => tf.Tensor | tf.Tensor[]): Promise<number> {
  let out: tf.Tensor | tf.Tensor[] = [];
  const t = await tf.time(() => {
    out = run();
  });
  tf.dispose(out);
  return typeof t.kernelMs === 'number' ? t.kernelMs : NaN;
}

async function wallMs(run: () => tf.Tensor | tf.Tensor[], reps: number): Promise<number> {
  const first = [run()].flat();
  await first[0]!.data();
  tf.dispose(first);
  const t0 = performance.now();
  let last: tf.Tensor[] = [];
  for (let r = 0; r < reps; r++) {
    tf.dispose(last);
    last = [run()].flat();
  }
  await tf.slice(last[0]!.reshape([-1]), 0, 1).data();
  tf.dispose(last);
  return (performance.now() - t0) / reps;
}

interface Case {
  label: string;
  run: () => tf.Tensor | tf.Tensor[];
}

export async function benchGemmSweep(batch: number, reps: number, onlySize?: number): Promise<void> {
  console.log('# kind shape | tile variant | GPU ms (TFLOP/s) | wall ms (TFLOP/s)');
  for (const [size, cin, cout, k] of SWEEP_SHAPES.filter(([h]) => onlySize === undefined || h === onlySize)) {
    const pad = (k - 1) / 2;
    const x = tf.randomNormal([batch, size, size, cin]) as tf.Tensor4D;
    const w = tf.mul(tf.randomNormal([k, k, cin, cout]), 0.05) as tf.Tensor4D;
    const b = tf.randomNormal([cout]) as tf.Tensor1D;
    const dy = tf.randomNormal([batch, size, size, cout]) as tf.Tensor4D;
    const flops = 2 * batch * size * size * cout * k * k * cin;
    const picked = pickTile(batch * size * size, cout);
    const cases: Case[] = [];
    for (const text of FWD) {
      const variant = parseVariant(text)!;
      cases.push({
        label: `fwd ${picked.bm}x${picked.bn}* ${text}`,
        run: () => conv2dGpu(x, w, b, 1, pad, pad, size, size, { ...picked, variant }),
      });
    }
    for (const text of FGRAD) {
      const variant = parseVariant(text)!;
      cases.push({ label: `fgrad ${text}`, run: () => convFilterBiasGrad(x, dy, k, 1, pad, pad, variant) });
    }
    // Bit-equality against the first variant of each kind.
    const firstFwd = await (cases[0]!.run() as tf.Tensor).data();
    const firstGrad = await ([cases.find((c) => c.label.startsWith('fgrad'))!.run()].flat()[0] as tf.Tensor).data();
    for (const c of cases) {
      const out = [c.run()].flat();
      const want = c.label.startsWith('fgrad') ? firstGrad : firstFwd;
      const got = await out[0]!.data();
      let same = got.length === want.length;
      for (let i = 0; same && i < got.length; i++) same = got[i] === want[i];
      if (!same) console.log(`MISMATCH ${c.label} at ${size} ${cin}->${cout} k${k}`);
      tf.dispose(out);
    }
    const gpu = cases.map(() => Infinity);
    const wall = cases.map(() => Infinity);
    for (let round = 0; round < 3; round++) {
      for (const [i, c] of cases.entries()) {
        gpu[i] = Math.min(gpu[i]!, await gpuMs(c.run), await gpuMs(c.run));
        wall[i] = Math.min(wall[i]!, await wallMs(c.run, reps));
      }
    }
    assertGpuHealthy();
    const tflops = (ms: number) => (flops / ms / 1e9).toFixed(1);
    for (const [i, c] of cases.entries()) {
      const g = gpu[i]!;
      const wl = wall[i]!;
      console.log(
        `${`${size} ${cin}->${cout} k${k}`.padEnd(17)} ${c.label.padEnd(28)} | ${g.toFixed(3)} (${tflops(g)}) | ${wl.toFixed(3)} (${tflops(wl)})`,
      );
      const json = { size, cin, cout, k, batch, case: c.label, gpuMs: g, wallMs: wl, gflop: flops / 1e9 };
      console.log(`BENCH_GEMM_JSON ${JSON.stringify(json)}`);
    }
    tf.dispose([x, w, b, dy]);
  }
}
