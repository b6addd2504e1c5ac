/**
 * Training (and optional sampling) throughput of the engine: images/s, ms/step, peak GPU bytes.
 *   npm run bench:train -- --preset small --loss sa2 --batch 32 --steps 10 [--warmup 3] [--backend auto]
 *   add --sample-n 256 --sample-steps 100 to time DDIM sampling too.
 * Data is random uint8 images of the preset's size (throughput does not depend on content).
 * Prints one human line and one JSON line (prefix BENCH_JSON) per measurement.
 */
import { tf } from '../src/engine/tf';
import { parseArgs, flagNumber, flagString } from '../src/cli/args';
import { resolveRunConfig, MODEL_PRESET_NAMES, type ModelPresetName } from '../src/shared/config';
import { initBackend, describeBackend, deviceBytes, assertGpuHealthy } from '../src/engine/backend';
import { TrainState, trainStep } from '../src/engine/train/trainer';
import { BatchSampler } from '../src/engine/data/loader';
import type { PackedDataset } from '../src/engine/data/packed';
import { sample } from '../src/engine/diffusion/samplers';
import { epsModelOf } from '../src/engine/train/artifacts';
import { Rng } from '../src/engine/rng';

async function main(): Promise<void> {
  const { flags } = parseArgs(['bench', ...process.argv.slice(2)]);
  const preset = (flagString(flags, 'preset') ?? 'tiny') as ModelPresetName;
  if (!MODEL_PRESET_NAMES.includes(preset)) throw new Error(`--preset: expected ${MODEL_PRESET_NAMES.join(', ')}`);
  const loss = flagString(flags, 'loss') ?? 'plain';
  const m = /^(plain|sa(\d+))$/.exec(loss);
  if (!m) throw new Error(`--loss: expected plain or saK (e.g. sa2), got '${loss}'`);
  const k = m[2] ? Number(m[2]) : 1;
  const batch = flagNumber(flags, 'batch', 8);
  const steps = flagNumber(flags, 'steps', 5);
  const warmup = flagNumber(flags, 'warmup', 2);
  const batchedFlag = flagString(flags, 'batched-k');
  const batched = batchedFlag === undefined ? true : batchedFlag !== 'false';
  const cfg = resolveRunConfig({
    preset,
    k: Math.max(k, 1),
    lambda: k >= 2 ? 1 : 0,
    batch,
    steps: warmup + steps,
    backend: flagString(flags, 'backend') ?? 'auto',
    dropout: flags.has('dropout') ? flagNumber(flags, 'dropout', 0) : undefined,
  });
  const info = await initBackend(cfg.backend);
  const size = cfg.imageSize;
  const count = Math.max(batch * 2, 64);
  const pixels = new Uint8Array(count * size * size * cfg.channels);
  const rng = Rng.keyed(1234);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.nextU32() & 255;
  const ds = {
    info: { version: 1, name: 'random', count, height: size, width: size, channels: cfg.channels, hasLabels: false, source: 'bench', format: 'builtin', checksum: '', createdAt: '', skipped: [] },
    pixels,
  } as unknown as PackedDataset;
  const sampler = new BatchSampler(ds, 0);
  const state = new TrainState(cfg);
  let peak = 0;
  const track = () => {
    const b = deviceBytes();
    if (b !== undefined) peak = Math.max(peak, b);
  };
  console.log(`# backend ${describeBackend(info)}; preset ${preset} (${state.net.paramCount().toLocaleString('en-US')} params, ${size}x${size}x${cfg.channels}); loss ${loss}; batch ${batch}`);
  const runSteps = async (from: number, n: number) => {
    for (let s = from; s < from + n; s++) {
      const out = trainStep(state, ds, sampler, s, batched);
      const v = await out.loss.data();
      for (const t of Object.values(out)) t.dispose();
      assertGpuHealthy();
      track();
      if (!Number.isFinite(v[0]!)) throw new Error(`loss is ${v[0]} at step ${s}`);
    }
  };
  const w0 = performance.now();
  await runSteps(1, warmup);
  const warmMs = performance.now() - w0;
  const t0 = performance.now();
  await runSteps(warmup + 1, steps);
  const ms = (performance.now() - t0) / steps;
  const result: Record<string, unknown> = {
    kind: 'train',
    backend: info.name,
    adapter: describeBackend(info),
    preset,
    loss,
    batch,
    steps,
    msPerStep: ms,
    imagesPerSec: (batch * 1000) / ms,
    warmupMs: warmMs,
    peakGpuBytes: peak || null,
    numTensors: tf.memory().numTensors,
  };
  console.log(`train ${preset} ${loss} batch ${batch}: ${(result.imagesPerSec as number).toFixed(2)} images/s, ${ms.toFixed(1)} ms/step, peak GPU ${peak ? (peak / 2 ** 20).toFixed(0) + ' MiB' : 'n/a'} (warm-up ${(warmMs / 1000).toFixed(1)} s)`);
  console.log('BENCH_JSON ' + JSON.stringify(result));

  const sampleN = flagNumber(flags, 'sample-n', 0);
  if (sampleN > 0) {
    const sampleSteps = flagNumber(flags, 'sample-steps', 100);
    const sb = flagNumber(flags, 'sample-batch', Math.min(sampleN, 256));
    const st = performance.now();
    await sample({
      model: epsModelOf(state.net),
      schedule: state.schedule,
      n: sampleN,
      shape: [size, size, cfg.channels],
      sampler: 'ddim',
      steps: sampleSteps,
      spacing: 'uniform',
      eta: 0,
      seed: 0,
      batchSize: sb,
    });
    assertGpuHealthy();
    const sec = (performance.now() - st) / 1000;
    const r = { kind: 'sample', backend: info.name, preset, n: sampleN, steps: sampleSteps, seconds: sec, imagesPerSec: sampleN / sec };
    console.log(`sample ${preset} DDIM ${sampleSteps} steps, ${sampleN} images: ${(sampleN / sec).toFixed(2)} images/s (${sec.toFixed(1)} s)`);
    console.log('BENCH_JSON ' + JSON.stringify(r));
  }
  state.dispose();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench:train: ${(err as Error).message}`);
    process.exit(1);
  },
);
