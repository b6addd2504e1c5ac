/**
 * Where a training step's main-thread time goes: runs steps of the real trainStep under V8's sampling
 * profiler and prints the main thread's busy ms per step (against wall ms per step: equal means the step
 * is bound by this thread), the functions with the most self time, and which functions the time spent
 * in native code (dawn.node) is called from.
 *   npm run bench:host -- --preset small --loss plain --batch 128 [--steps 10] [--warmup 3] [--kernels wgsl]
 *     [--out FILE.cpuprofile] [--top 30] [--exclude NAME]
 * --exclude NAME leaves out samples under a frame whose function name ends with NAME: on llvmpipe the kernels
 * run inside the queue submit (`--exclude submitQueue`), which is not host overhead there; on a GPU it is.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tf } from '../src/engine/tf';
import { parseArgs, flagNumber, flagString } from '../src/cli/args';
import { presetAndLoss } from './trainFlags';
import { resolveRunConfig } from '../src/shared/config';
import { initBackend, describeBackend } from '../src/engine/backend';
import { overrideKernelSet } from '../src/engine/gpu/registry';
import { KERNEL_SET_NAMES, type KernelSetName } from '../src/engine/gpu/kernelSet';
import { TrainState, trainStep } from '../src/engine/train/trainer';
import { BatchSampler, loadDataset } from '../src/engine/data/loader';
import { BUILTIN_DATASETS } from '../src/engine/data/builtin';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

async function main(): Promise<void> {
  const { flags } = parseArgs(['bench', ...process.argv.slice(2)]);
  const { preset, loss, k } = presetAndLoss(flags, 'small');
  const steps = flagNumber(flags, 'steps', 10);
  const warmup = flagNumber(flags, 'warmup', 3);
  const set = flagString(flags, 'kernels');
  if (set !== undefined && !KERNEL_SET_NAMES.includes(set as KernelSetName)) {
    throw new Error(`--kernels: expected one of ${KERNEL_SET_NAMES.join(', ')}, got '${set}'`);
  }
  const imageSize = resolveRunConfig({ preset }).imageSize;
  const dataset = BUILTIN_DATASETS.find((d) => d.size === imageSize)?.id;
  if (!dataset) throw new Error(`no built-in dataset has ${imageSize}x${imageSize} images`);
  const cfg = resolveRunConfig({
    preset,
    dataset,
    k: Math.max(k, 1),
    lambda: k >= 2 ? 1 : 0,
    batch: flagNumber(flags, 'batch', 128),
    steps: warmup + steps + 1,
    backend: flagString(flags, 'backend') ?? 'auto',
  });
  const info = await initBackend(cfg.backend);
  if (set) overrideKernelSet(set as KernelSetName);
  const ds = loadDataset(cfg.dataset);
  const sampler = new BatchSampler(ds, cfg.seed);
  const state = new TrainState(cfg);
  const step = async (s: number) => {
    const out = trainStep(state, ds, sampler, s, true);
    if (s % cfg.logEvery === 0) await out.loss.data();
    for (const t of Object.values(out)) t.dispose();
  };
  for (let s = 1; s <= warmup; s++) await step(s);
  await tf.scalar(0).data();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  const t0 = performance.now();
  for (let s = warmup + 1; s <= warmup + steps; s++) await step(s);
  await tf.scalar(0).data();
  const wall = (performance.now() - t0) / steps;
  const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
  session.disconnect();
  const out = flagString(flags, 'out');
  if (out) writeFileSync(out, JSON.stringify(profile));
  console.log(`# backend ${describeBackend(info)}; preset ${preset}; loss ${loss}; batch ${cfg.batch}; ${steps} steps`);
  summarise(profile, steps, wall, flagNumber(flags, 'top', 30), flagString(flags, 'exclude'));
  state.dispose();
}

function summarise(prof: CpuProfile, steps: number, wallMs: number, top: number, exclude?: string): void {
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const msOf = new Map<number, number>();
  prof.samples.forEach((id, i) => msOf.set(id, (msOf.get(id) ?? 0) + (prof.timeDeltas[i + 1] ?? 0) / 1000));
  const label = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
  const self = new Map<string, number>();
  const nativeFrom = new Map<string, number>();
  let busy = 0;
  let left = 0;
  for (const [id, ms] of msOf) {
    const chain: ProfileNode[] = [];
    for (let c: number | undefined = id; c !== undefined; c = parent.get(c)) chain.push(byId.get(c)!);
    const leaf = chain[0]!;
    if (['(idle)', '(program)', '(root)'].includes(leaf.callFrame.functionName)) continue;
    if (exclude && chain.some((n) => n.callFrame.functionName.endsWith(exclude))) {
      left += ms;
      continue;
    }
    busy += ms;
    self.set(label(leaf), (self.get(label(leaf)) ?? 0) + ms);
    // A native frame (no script; V8's own, like the garbage collector, are in parentheses) is charged to the
    // script function that called it.
    if (leaf.callFrame.url === '' && !leaf.callFrame.functionName.startsWith('(') && chain[1])
      nativeFrom.set(label(chain[1]), (nativeFrom.get(label(chain[1])) ?? 0) + ms);
  }
  const perStep = (ms: number) => (ms / steps).toFixed(2).padStart(8);
  console.log(
    `main thread busy ${(busy / steps).toFixed(1)} ms per step, wall ${wallMs.toFixed(1)} ms per step` +
      (exclude ? ` (${(left / steps).toFixed(1)} ms per step under ${exclude} left out)` : '') +
      ' (the profiler adds its own overhead)',
  );
  console.log('# self time, ms per step');
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${perStep(v)}  ${k}`);
  console.log('# native code (Dawn and other addons), by the calling function, ms per step');
  for (const [k, v] of [...nativeFrom].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${perStep(v)}  ${k}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench:host: ${(err as Error).message}`);
    process.exit(1);
  },
);
