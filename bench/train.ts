/**
 * Training (and optional sampling) throughput of the engine: images/s, ms/step, peak GPU bytes.
 *   npm run bench:train -- --preset small --loss sa2 --batch 32 --steps 10 [--warmup 3] [--backend auto]
 *     [--dropout P] [--dataset builtin:NAME|PATH] [--log-every N] [--ch C (the preset's base width otherwise)]
 *   add --sample-n 256 --sample-steps 100 to time DDIM sampling too.
 *   --kernels wgsl-cpu,wgsl,tfjs: time each kernel set on the same state, in interleaved rounds (--rounds 2),
 *     and print each set's ms/step as a ratio to the first's, so load from other processes hits every set alike.
 * Runs what `sadpm train` runs per step: trainStep on batches of a real dataset (the built-in one of
 * the preset's image size unless --dataset), the preset's dropout unless --dropout, and the loss read
 * back every --log-every steps (the run config's logEvery) and at the end of the timed window.
 * Prints one human line and one JSON line (prefix BENCH_JSON) per measurement.
 */
import { WINOGRAD_MODE } from '../src/engine/gpu/winograd';
import { tf } from '../src/engine/tf';
import { parseArgs, flagNumber, flagString } from '../src/cli/args';
import { presetAndLoss } from './trainFlags';
import { resolveRunConfig } from '../src/shared/config';
import {
  initBackend,
  describeBackend,
  devicePeakBytes,
  resetDevicePeak,
  assertGpuHealthy,
} from '../src/engine/backend';
import { gpuMemoryStats } from '../src/engine/gpu/memory';
import { dispatchHostStats } from '../src/engine/gpu/dispatchHost';
import { kernelChoice, overrideKernelSet } from '../src/engine/gpu/registry';
import { KERNEL_SET_NAMES, type KernelSetName } from '../src/engine/gpu/kernelSet';
import { TrainState, checkDatasetFits, trainStep } from '../src/engine/train/trainer';
import { BatchSampler, loadDataset } from '../src/engine/data/loader';
import { BUILTIN_DATASETS } from '../src/engine/data/builtin';
import { sample } from '../src/engine/diffusion/samplers';
import { epsModelOf } from '../src/engine/train/artifacts';

async function main(): Promise<void> {
  const { flags } = parseArgs(['bench', ...process.argv.slice(2)]);
  const { preset, loss, k } = presetAndLoss(flags, 'tiny');
  const batch = flagNumber(flags, 'batch', 8);
  const steps = flagNumber(flags, 'steps', 5);
  const warmup = flagNumber(flags, 'warmup', 2);
  const batchedFlag = flagString(flags, 'batched-k');
  const batched = batchedFlag === undefined ? true : batchedFlag !== 'false';
  const imageSize = resolveRunConfig({ preset }).imageSize;
  const dataset = flagString(flags, 'dataset') ?? BUILTIN_DATASETS.find((d) => d.size === imageSize)?.id;
  if (!dataset) {
    throw new Error(`--dataset: no built-in dataset has ${imageSize}x${imageSize} images; give a packed dataset path`);
  }
  const cfg = resolveRunConfig({
    preset,
    dataset,
    k: Math.max(k, 1),
    lambda: k >= 2 ? 1 : 0,
    batch,
    steps: warmup + steps,
    backend: flagString(flags, 'backend') ?? 'auto',
    dropout: flags.has('dropout') ? flagNumber(flags, 'dropout', 0) : undefined,
    ch: flags.has('ch') ? flagNumber(flags, 'ch', 0) : undefined,
    logEvery: flags.has('log-every') ? flagNumber(flags, 'log-every', 10) : undefined,
  });
  const info = await initBackend(cfg.backend);
  const size = cfg.imageSize;
  const ds = loadDataset(cfg.dataset);
  checkDatasetFits(ds, cfg);
  const sampler = new BatchSampler(ds, cfg.seed);
  const state = new TrainState(cfg);
  // Live tensor bytes as tfjs counts them, sampled after each step; the device peak below is the real one.
  let tensorPeak = 0;
  const track = () => {
    const m = tf.memory() as { numBytesInGPU?: number };
    if (m.numBytesInGPU !== undefined) tensorPeak = Math.max(tensorPeak, m.numBytesInGPU);
  };
  const params = state.net.paramCount().toLocaleString('en-US');
  console.log(
    `# backend ${describeBackend(info)}; kernels ${kernelChoice().set.name}; winograd ${WINOGRAD_MODE}; preset ${preset} (${params} params, ${size}x${size}x${cfg.channels}); ` +
      `loss ${loss}; batch ${batch}; dropout ${cfg.dropout}; data ${cfg.dataset} (${ds.info.count} images)`,
  );
  // As the trainer's loop: the step's scalars are read back on logging steps only (and at the end
  // of a window, to time it), so the host prepares the next batch while the device works.
  const runSteps = async (from: number, n: number) => {
    for (let s = from; s < from + n; s++) {
      const out = trainStep(state, ds, sampler, s, batched);
      if (s % cfg.logEvery === 0 || s === from + n - 1) {
        const packed = tf.stack([out.loss, out.simple, out.sa, out.gradNorm]);
        const v = await packed.data();
        packed.dispose();
        assertGpuHealthy();
        if (!Array.from(v).every(Number.isFinite)) throw new Error(`loss or grad norm is not finite at step ${s}`);
      }
      for (const t of Object.values(out)) t.dispose();
      track();
    }
  };
  // --profile N: profile one step first, printing the N costliest kernels.
  if (flags.has('profile')) await profileStep(() => runSteps(1, 1), flagNumber(flags, 'profile', 25));
  const sets = kernelSetsFlag(flagString(flags, 'kernels'));
  const rounds = sets.length > 1 ? flagNumber(flags, 'rounds', 2) : 1;
  const times = new Map<string, { ms: number[]; cpuMs: number[]; warmMs: number }>();
  let next = 1;
  for (let round = 0; round < rounds; round++) {
    for (const set of sets) {
      overrideKernelSet(set);
      const w0 = performance.now();
      // Each set compiles its shaders in its first warm-up; later rounds warm up again after the switch.
      await runSteps(next, warmup);
      next += warmup;
      const warmMs = performance.now() - w0;
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await runSteps(next, steps);
      next += steps;
      // Process CPU time per step: host work on a GPU; on a software adapter (llvmpipe runs the kernels
      // on this process's threads) all the work, and steadier than wall time on a shared machine.
      const cpu = process.cpuUsage(c0);
      const key = kernelChoice().set.name;
      const e = times.get(key) ?? { ms: [], cpuMs: [], warmMs };
      e.ms.push((performance.now() - t0) / steps);
      e.cpuMs.push((cpu.user + cpu.system) / 1000 / steps);
      times.set(key, e);
    }
  }
  overrideKernelSet(null);
  const first = times.values().next().value!;
  for (const [set, e] of times) {
    // The best round: interference from other processes only ever adds time.
    const ms = Math.min(...e.ms);
    const cpuMs = Math.min(...e.cpuMs);
    const result: Record<string, unknown> = {
      kind: 'train',
      backend: info.name,
      adapter: describeBackend(info),
      kernels: set,
      preset,
      loss,
      batch,
      dropout: cfg.dropout,
      dataset: cfg.dataset,
      steps,
      rounds,
      msPerStep: ms,
      cpuMsPerStep: cpuMs,
      imagesPerSec: (batch * 1000) / ms,
      warmupMs: e.warmMs,
      peakGpuBytes: devicePeakBytes() ?? null,
      // Bytes in use at the step's peak (tensors, uniforms, staging); peakGpuBytes adds the pool's idle buffers.
      peakUsedBytes: info.name === 'webgpu' ? gpuMemoryStats().usedPeakBytes : null,
      peakTensorBytes: tensorPeak || null,
      pool: info.name === 'webgpu' ? gpuMemoryStats() : null,
      numTensors: tf.memory().numTensors,
      // Steps whose inputs (images, noise, noised images) the worker computed ahead / this thread computed
      // (train/lossInputs.ts).
      inputs: { ...state.inputs.stats },
      // Bind-group reuse and uniform packing (gpu/dispatchHost.ts); null with SADPM_DISPATCH_CACHE=0.
      dispatchHost: dispatchHostStats(),
      winograd: WINOGRAD_MODE,
    };
    if (sets.length > 1) {
      result.msRatioToFirst = ms / Math.min(...first.ms);
      result.cpuRatioToFirst = cpuMs / Math.min(...first.cpuMs);
    }
    const peak = devicePeakBytes();
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    const ratio = sets.length > 1 ? ` [x${(result.msRatioToFirst as number).toFixed(2)} of ${sets[0]}]` : '';
    console.log(
      `train ${preset} ${loss} batch ${batch} dropout ${cfg.dropout} kernels ${set}: ` +
        `${(result.imagesPerSec as number).toFixed(2)} images/s, ` +
        `${ms.toFixed(1)} ms/step (CPU ${cpuMs.toFixed(0)} ms)${ratio}, ` +
        `peak GPU ${peak ? mib(peak) : 'n/a'} (in use ${mib(gpuMemoryStats().usedPeakBytes)}, ` +
        `tensors after a step ${mib(tensorPeak)}) (warm-up ${(e.warmMs / 1000).toFixed(1)} s)`,
    );
    console.log('BENCH_JSON ' + JSON.stringify(result));
  }

  const sampleN = flagNumber(flags, 'sample-n', 0);
  if (sampleN > 0) {
    const sampleSteps = flagNumber(flags, 'sample-steps', 100);
    const sb = flagNumber(flags, 'sample-batch', Math.min(sampleN, 256));
    const run = (n: number, steps: number) =>
      sample({
        model: epsModelOf(state.net),
        schedule: state.schedule,
        n,
        shape: [size, size, cfg.channels],
        sampler: 'ddim',
        steps,
        spacing: 'uniform',
        eta: 0,
        seed: 0,
        batchSize: sb,
      });
    // Warm-up outside the timing, as torch_sample.py's (one batch there, two steps here): the first
    // forward at a batch size compiles its pipelines, a one-time cost that PyTorch's side does not time either.
    const warm = performance.now();
    await run(Math.min(sb, sampleN), 2);
    const warmSec = (performance.now() - warm) / 1000;
    resetDevicePeak();
    const st = performance.now();
    await run(sampleN, sampleSteps);
    assertGpuHealthy();
    const sec = (performance.now() - st) / 1000;
    const r = {
      kind: 'sample',
      backend: info.name,
      preset,
      n: sampleN,
      steps: sampleSteps,
      seconds: sec,
      imagesPerSec: sampleN / sec,
      warmupSeconds: warmSec,
      peakGpuBytes: devicePeakBytes() ?? null,
    };
    console.log(
      `sample ${preset} DDIM ${sampleSteps} steps, ${sampleN} images: ${(sampleN / sec).toFixed(2)} images/s ` +
        `(${sec.toFixed(1)} s; warm-up ${warmSec.toFixed(1)} s)`,
    );
    console.log('BENCH_JSON ' + JSON.stringify(r));
  }
  state.dispose();
}

/** --kernels: the sets to compare, or [null] for the backend's own choice. */
function kernelSetsFlag(v: string | undefined): (KernelSetName | null)[] {
  if (v === undefined) return [null];
  const names = v.split(',').map((x) => x.trim());
  for (const n of names) {
    if (!KERNEL_SET_NAMES.includes(n as KernelSetName)) {
      throw new Error(`--kernels: unknown kernel set '${n}'; expected a comma list of ${KERNEL_SET_NAMES.join(', ')}`);
    }
  }
  return names as KernelSetName[];
}

/**
 * Runs one step under tf.profile and prints GPU time per kernel name (timestamp queries, when the
 * device offers them) and dispatch counts: what dominates a step.
 */
async function profileStep(step: () => Promise<void>, top: number): Promise<void> {
  const t0 = performance.now();
  const prof = await tf.profile(step);
  const wall = performance.now() - t0;
  const by = new Map<string, { n: number; ms: number }>();
  let total = 0;
  for (const k of prof.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const shapes = ` ${JSON.stringify(k.inputShapes)}`;
    const key = k.name + shapes;
    const e = by.get(key) ?? { n: 0, ms: 0 };
    e.n += 1;
    e.ms += ms;
    by.set(key, e);
    total += ms;
  }
  const byName = new Map<string, { n: number; ms: number }>();
  for (const k of prof.kernels) {
    const e = byName.get(k.name) ?? { n: 0, ms: 0 };
    e.n += 1;
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byName.set(k.name, e);
  }
  console.log(
    `# profile: ${prof.kernels.length} kernels, GPU ${total.toFixed(1)} ms, wall ${wall.toFixed(0)} ms (profiling serialises the GPU; passes recorded outside tfjs, Winograd and in-place updates, are not counted)`,
  );
  for (const [name, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
    console.log(
      `#   ${name.padEnd(28)} ${String(e.n).padStart(5)} x  ${e.ms.toFixed(1).padStart(8)} ms  ${((100 * e.ms) / (total || 1)).toFixed(1)}%`,
    );
  }
  console.log('# by shape:');
  for (const [name, e] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
    console.log(`#   ${e.ms.toFixed(1).padStart(8)} ms ${String(e.n).padStart(4)} x ${name}`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench:train: ${(err as Error).message}`);
    process.exit(1);
  },
);
