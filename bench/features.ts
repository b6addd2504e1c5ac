/**
 * Feature-extraction throughput of the FID Inception-v3 (images/s): the forward pass plus reading pool3
 * and the logits back, optionally (--moments) the on-device FID moments as well.
 *   node --import tsx bench/features.ts --n 512 --batch 64 [--size 32] [--backend auto] [--width 1] [--weights FILE] [--moments on]
 * Random weights unless --weights (speed does not depend on them); random input images of --size px
 * (resized to 299 inside, as for CIFAR-sized samples). Prints one human line and one JSON line (BENCH_JSON).
 */
import { tf } from '../src/engine/tf';
import { parseArgs, flagNumber, flagString } from '../src/cli/args';
import { assertGpuHealthy, describeBackend, devicePeakBytes, initBackend } from '../src/engine/backend';
import type { Backend } from '../src/shared/config';
import { Rng } from '../src/engine/rng';
import { inceptionPlan } from '../src/engine/metrics/inception/architecture';
import { loadInceptionWeights, type InceptionWeights } from '../src/engine/metrics/inception/weights';
import { InceptionV3Fid } from '../src/engine/metrics/inception/model';
import { GaussianAccumulator } from '../src/engine/metrics/stats';
import { TfMomentAccumulator } from '../src/engine/metrics/tfKernels';

function randomWeights(widthDivisor: number): InceptionWeights {
  const plan = inceptionPlan({ widthDivisor, classes: 1008 });
  const rng = Rng.keyed(7, 7);
  const convs = new Map<string, { filter: Float32Array; bias: Float32Array }>();
  for (const s of plan.convs.values()) {
    const std = Math.sqrt(2 / (s.kh * s.kw * s.cin));
    convs.set(s.name, {
      filter: rng.normal(s.kh * s.kw * s.cin * s.cout).map((v) => v * std),
      bias: new Float32Array(s.cout),
    });
  }
  const fcT = rng.normal(plan.features * 1008).map((v) => v / Math.sqrt(plan.features));
  return { plan, convs, fcT, fcBias: new Float32Array(1008), sha256: null };
}

async function main(): Promise<void> {
  const { flags } = parseArgs(['bench', ...process.argv.slice(2)]);
  const n = flagNumber(flags, 'n', 512);
  const batch = flagNumber(flags, 'batch', 64);
  const size = flagNumber(flags, 'size', 32);
  const width = flagNumber(flags, 'width', 1);
  const moments = (flagString(flags, 'moments') ?? 'off') === 'on';
  const info = await initBackend((flagString(flags, 'backend') ?? 'auto') as Backend);
  const file = flagString(flags, 'weights');
  const weights = file ? await loadInceptionWeights(file) : randomWeights(width);
  const model = new InceptionV3Fid(weights);
  const acc = moments ? new TfMomentAccumulator(new GaussianAccumulator(model.features), 4096) : null;
  const runBatch = async (b: number, seed: number) => {
    const x = tf.tidy(() => tf.randomUniform([b, size, size, 3], 0, 1, 'float32', seed) as tf.Tensor4D);
    const { pool3, logits } = model.forward(x);
    if (acc) await acc.add(pool3);
    const [p] = await Promise.all([pool3.data(), logits.data()]);
    tf.dispose([x, pool3, logits]);
    assertGpuHealthy();
    if (!Number.isFinite(p[0]!)) throw new Error('non-finite features');
  };
  console.log(
    `# backend ${describeBackend(info)}; FID Inception-v3 width ÷${width} (${model.features} features), input ${size}x${size} → 299; batch ${batch}`,
  );
  const w0 = performance.now();
  await runBatch(Math.min(batch, n), 0); // shader compilation, buffer pool
  const warmMs = performance.now() - w0;
  const t0 = performance.now();
  for (let done = 0, k = 1; done < n; done += batch, k++) await runBatch(Math.min(batch, n - done), k);
  if (acc) {
    await acc.flush();
    acc.target.finish();
    acc.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  const result = {
    kind: 'features',
    backend: info.name,
    adapter: `${info.adapter.vendor} ${info.adapter.device || info.adapter.description}`.trim(),
    width,
    n,
    batch,
    size,
    moments,
    warmupSeconds: +(warmMs / 1000).toFixed(2),
    seconds: +seconds.toFixed(3),
    imagesPerSecond: +(n / seconds).toFixed(1),
    peakDeviceGiB: devicePeakBytes() !== undefined ? +(devicePeakBytes()! / 2 ** 30).toFixed(2) : null,
  };
  console.log(
    `${result.imagesPerSecond} images/s (${n} images in ${result.seconds} s after a ${result.warmupSeconds} s warm-up)`,
  );
  console.log(`BENCH_JSON ${JSON.stringify(result)}`);
  model.dispose();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
