/**
 * Run store benchmarks (issue 3):
 *   npm run bench:store [-- --points 900000 --series 1000000 --runs 10000 --steps 30
 *                          --parts ingest,series,listing,training]
 * 1. Metric ingest capacity: a simulated engine message stream (progress messages of 9 points each,
 *    sent as fast as possible) through RunRecorder (batched transactions), against the baseline of one
 *    transaction per point.
 * 2. Ingest while a real training loop runs: the tiny model trains in an engine child process (as
 *    the CLI runs it) and this process records it, while also recording a simulated second run at the
 *    highest rate it can; baseline: the same training with only its own metrics recorded.
 * 3. Latency of RunStore.series on a 1M-point series read as at most 2,000 points from the multi-resolution
 *    summary (issue 15), for the whole run and zoomed step ranges, against the rows downsampled with LTTB
 *    (the earlier way) and reading the rows without downsampling.
 * 4. Listing 10,000 runs with filters (status + tag + text), against an unfiltered page.
 * Prints human lines and one BENCH_JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, flagNumber } from '../src/cli/args';
import { RunStore, type NewRun } from '../src/store/runStore';
import { RunRecorder, progressPoints } from '../src/store/recorder';
import type { ProgressMessage } from '../src/shared/engineMessages';
import { RUN_STATUSES } from '../src/shared/records';

const { flags } = parseArgs(['bench', ...process.argv.slice(2)]);
const POINTS = flagNumber(flags, 'points', 900_000);
const BASELINE_POINTS = flagNumber(flags, 'baseline-points', 30_000);
const SERIES = flagNumber(flags, 'series', 1_000_000);
const RUNS = flagNumber(flags, 'runs', 10_000);
const STEPS = flagNumber(flags, 'steps', 30);

const results: Record<string, unknown> = {};

function newRun(name: string, over: Partial<NewRun> = {}): NewRun {
  const config = { dataset: 'builtin:shapes', preset: 'tiny', k: 2, lambda: 1, T: 1000, seed: 0, steps: 1e6 };
  return { name, appVersion: 'bench', config, ...over };
}

function progress(step: number): ProgressMessage {
  const loss = 1 / Math.sqrt(step) + 0.01 * Math.sin(step);
  return {
    type: 'progress',
    step,
    totalSteps: 1e9,
    loss,
    simple: loss * 0.6,
    sa: loss * 0.4,
    gradNorm: 2 + Math.cos(step),
    lr: 2e-4,
    imagesPerSec: 100,
    msPerStep: 10,
    etaSec: 1,
    memory: { numTensors: 100, numBytes: 1e6, gpuBytes: 2e6 },
  };
}
const POINTS_PER_MSG = 9;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeIt(fn: () => void, reps: number): { median: number; min: number } {
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    ts.push(performance.now() - t);
  }
  return { median: median(ts), min: Math.min(...ts) };
}

function withStore<T>(fn: (store: RunStore) => T): T {
  const root = mkdtempSync(join(tmpdir(), 'sadpm-bench-store-'));
  const store = RunStore.open(root);
  try {
    return fn(store);
  } finally {
    store.close();
    rmSync(root, { recursive: true, force: true });
  }
}

function ingestCapacity(): void {
  const msgs = Math.ceil(POINTS / POINTS_PER_MSG);
  const batched = withStore((store) => {
    const run = store.runs.create(newRun('ingest'));
    const rec = new RunRecorder(store, run.id);
    const t = performance.now();
    for (let s = 1; s <= msgs; s++) {
      rec.handle(progress(s));
      if (s % 2000 === 0) rec.handle({ type: 'checkpoint', step: s, path: `/ck${s}`, bytes: 1 });
    }
    rec.flush();
    const ms = performance.now() - t;
    const n = store.metrics.series(run.id, 'loss', 10).total * POINTS_PER_MSG;
    return { points: n, ms, perSec: (n / ms) * 1000 };
  });
  const single = withStore((store) => {
    const run = store.runs.create(newRun('ingest-single'));
    const n = Math.ceil(BASELINE_POINTS / POINTS_PER_MSG);
    const t = performance.now();
    for (let s = 1; s <= n; s++) {
      for (const p of progressPoints(progress(s))) store.metrics.append(run.id, [p]);
    }
    const ms = performance.now() - t;
    const points = store.db.prepare('SELECT COUNT(*) FROM metrics').pluck().get() as number;
    return { points, ms, perSec: (points / ms) * 1000 };
  });
  console.log(
    `ingest (simulated stream, max rate): RunRecorder batched ${fmt(batched.perSec)} points/s ` +
      `(${batched.points} points in ${batched.ms.toFixed(0)} ms)`,
  );
  console.log(
    `  baseline, one transaction per point: ${fmt(single.perSec)} points/s ` +
      `(${single.points} points in ${single.ms.toFixed(0)} ms) -> ` +
      `batched is ${(batched.perSec / single.perSec).toFixed(0)}x`,
  );
  results.ingestBatchedPointsPerSec = Math.round(batched.perSec);
  results.ingestSingleRowPointsPerSec = Math.round(single.perSec);
}

async function ingestWhileTraining(): Promise<void> {
  const { resolveRunConfig } = await import('../src/shared/config');
  const { RunService } = await import('../src/app/runService');
  const { forkEngine } = await import('../src/app/engineProcess');
  const cfg = resolveRunConfig({
    preset: 'tiny',
    dataset: 'builtin:shapes',
    imageSize: 16,
    channels: 3,
    batch: 2,
    T: 100,
    steps: STEPS,
    logEvery: 1,
    checkpointEvery: 10,
    gapT0: 4,
    gapBatch: 2,
    sampleN: 2,
    sampleSteps: 2,
  });
  const root = mkdtempSync(join(tmpdir(), 'sadpm-bench-train-'));
  const store = RunStore.open(root);
  // As the CLI does it: the engine trains in a child process, this process owns the store and records.
  const service = new RunService(store, forkEngine);
  let adapter = '';
  const phase = { started: 0, finished: 0, ms: [] as number[] };
  service.onMessage((_id, m) => {
    if (m.type === 'started') {
      adapter = m.adapter;
      phase.started = performance.now();
    } else if (m.type === 'progress') {
      phase.ms.push(m.msPerStep);
    } else if (m.type === 'finished') {
      phase.finished = performance.now();
    }
  });
  const trainOnce = async (name: string, during?: (finished: () => boolean) => Promise<void>) => {
    phase.ms = [];
    const run = store.runs.create({ name, config: cfg, appVersion: 'bench' });
    let finished = false;
    let load: Promise<void> | undefined;
    const started = new Promise<void>((res) => {
      const off = service.onMessage((_id, m) => {
        if (m.type === 'started' && _id === run.id) {
          off();
          res();
        }
      });
    });
    const done = service.enqueue(run.id);
    if (during) {
      await started;
      load = during(() => finished);
    }
    const outcome = await done;
    finished = true;
    await load;
    if (outcome.status !== 'completed') throw new Error(`bench run ${name}: ${outcome.status} ${outcome.reason}`);
    // The first steps compile shaders.
    return { run, msPerStep: median(phase.ms.slice(2)), wall: phase.finished - phase.started };
  };
  const base = await trainOnce('alone');
  const baseStored = store.metrics.series(base.run.id, 'loss', 10).total;
  // Side load: a second (simulated) run streams progress as fast as this process can, in chunks of
  // 100 messages, yielding to the event loop in between so the engine's messages are handled.
  const side = store.runs.create(newRun('side'));
  const sideRec = new RunRecorder(store, side.id);
  let sideStep = 0;
  const loaded = await trainOnce('with-side-load', async (finished) => {
    while (!finished()) {
      for (let i = 0; i < 100; i++) sideRec.handle(progress(++sideStep));
      await new Promise((r) => setImmediate(r));
    }
    sideRec.flush();
  });
  const sidePoints = store.metrics.series(side.id, 'loss', 10).total * POINTS_PER_MSG;
  const trainPoints = store.metrics.series(loaded.run.id, 'loss', 10).total * POINTS_PER_MSG;
  store.close();
  rmSync(root, { recursive: true, force: true });
  const perSec = ((sidePoints + trainPoints) / loaded.wall) * 1000;
  console.log(
    `ingest while training (real tiny loop in an engine child process on ${adapter}, ${STEPS} steps, ` +
      'log every step; the store process also ingests a simulated run at max rate):',
  );
  console.log(
    `  ${fmt(perSec)} points/s recorded during training (${sidePoints + trainPoints} points in ` +
      `${loaded.wall.toFixed(0)} ms; the training run's own ${trainPoints} points all stored, ` +
      `baseline run ${baseStored * POINTS_PER_MSG})`,
  );
  console.log(
    `  engine ${loaded.msPerStep.toFixed(1)} ms/step under this load ` +
      `vs ${base.msPerStep.toFixed(1)} ms/step ` +
      'with only its own metrics recorded (baseline); 2 CPU cores shared',
  );
  results.whileTraining = {
    adapter,
    pointsPerSec: Math.round(perSec),
    msPerStep: loaded.msPerStep,
    baselineMsPerStep: base.msPerStep,
    trainPointsStored: trainPoints,
  };
}

function seriesLatency(): void {
  withStore((store) => {
    const run = store.runs.create(newRun('series'));
    const batch = 100_000;
    const t = performance.now();
    for (let from = 1; from <= SERIES; from += batch) {
      const pts = [];
      for (let s = from; s < Math.min(from + batch, SERIES + 1); s++) {
        pts.push({ step: s, name: 'loss', value: 1 / Math.sqrt(s) + (s % 99_991 === 0 ? 10 : 0) });
      }
      store.metrics.append(run.id, pts);
    }
    const ingestMs = performance.now() - t;
    // Issue 15: charts read the multi-resolution summary kept as points arrive, for the whole run or a zoom.
    const ranges: [string, { from?: number; to?: number }][] = [
      ['whole run', {}],
      ['zoom 10%', { from: SERIES * 0.4, to: SERIES * 0.5 }],
      ['zoom 1%', { from: SERIES * 0.61, to: SERIES * 0.62 }],
      ['zoom 0.1%', { from: SERIES * 0.733, to: SERIES * 0.734 }],
    ];
    const summary: Record<string, number> = {};
    for (const [label, range] of ranges) {
      store.metrics.series(run.id, 'loss', 2000, range);
      const r = timeIt(() => store.metrics.series(run.id, 'loss', 2000, range), 7);
      const got = store.metrics.series(run.id, 'loss', 2000, range);
      console.log(
        `series: ${SERIES} points, ${label} -> ${got.steps.length} points from the summary: ` +
          `median ${r.median.toFixed(1)} ms (min ${r.min.toFixed(1)})`,
      );
      summary[label] = Number(r.median.toFixed(2));
    }
    // Baseline: the rows read and downsampled with LTTB (what every read did before the summary).
    store.metrics.summary.minPoints = Number.MAX_SAFE_INTEGER;
    const down = timeIt(() => store.metrics.series(run.id, 'loss', 2000), 5);
    const rows = store.db
      .prepare('SELECT step, value FROM metrics WHERE run_id = ? AND name_id = 1 ORDER BY step')
      .raw(true);
    const raw = timeIt(() => rows.all(run.id), 5);
    console.log(
      `  baseline: the rows -> 2000 (LTTB) median ${down.median.toFixed(0)} ms ` +
        `(min ${down.min.toFixed(0)}); reading every row as [step, value] ${raw.median.toFixed(0)} ms; ` +
        `writing the ${SERIES} points with their summary took ${ingestMs.toFixed(0)} ms`,
    );
    results.seriesFromSummaryMs = summary;
    results.series1MTo2000Ms = Math.round(down.median);
    results.seriesReadAllRowsMs = Math.round(raw.median);
  });
}

function listing(): void {
  withStore((store) => {
    const words = ['cifar', 'celeba', 'mnist', 'shapes', 'sweep', 'ablation', 'baseline', 'long'];
    store.writeTransaction(() => {
      for (let i = 0; i < RUNS; i++) {
        const w = words[i % words.length]!;
        store.runs.create(
          newRun(`${w}-run-${i}`, {
            status: RUN_STATUSES[i % RUN_STATUSES.length],
            tags: [`t${i % 10}`, i % 3 === 0 ? 'paper' : 'scratch'],
            notes: i % 7 === 0 ? `lr sweep ${i}` : '',
            config: {
              dataset: 'builtin:shapes',
              preset: 'tiny',
              k: 1 + (i % 3),
              lambda: (i % 4) / 4,
              T: i % 2 ? 1000 : 100,
              seed: i,
              steps: 1000,
            },
          }),
        );
      }
    });
    const f = { status: ['completed' as const, 'failed' as const], tags: ['paper'], text: 'sweep', limit: 50 };
    const filtered = timeIt(() => store.runs.list(f), 20);
    const count = timeIt(() => store.runs.count(f), 20);
    const n = store.runs.count(f);
    const page = timeIt(() => store.runs.list({ limit: 50 }), 20);
    const all = timeIt(() => store.runs.list({ limit: RUNS }), 5);
    console.log(
      `listing ${RUNS} runs: status+tag+text filter, first page of 50: ` +
        `median ${filtered.median.toFixed(2)} ms ` +
        `(${n} match; count ${count.median.toFixed(2)} ms); unfiltered page of 50: ${page.median.toFixed(2)} ms; ` +
        `all ${RUNS}: ${all.median.toFixed(0)} ms`,
    );
    // Issue 15: the experiment table's pages, sorted by a config field and by a result, and its group rows.
    const byLr = timeIt(() => store.runs.list({ sort: { key: 'lr', dir: 'desc' }, limit: 100, offset: 5000 }), 20);
    const byLoss = timeIt(() => store.runs.list({ sort: { key: 'loss', dir: 'asc' }, limit: 100 }), 20);
    const where = [{ key: 'lambda' as const, op: 'ge' as const, value: 0.5 }];
    const cond = timeIt(() => store.runs.list({ where, sort: { key: 'k', dir: 'asc' }, limit: 100 }), 20);
    const groups = timeIt(() => store.runs.groups({}, 'lambda', ['loss', 'gap', 'ips', 'duration']), 20);
    console.log(
      `  table pages of 100: sorted by lr (a config field) at offset 5000 ${byLr.median.toFixed(2)} ms; ` +
        `by loss ${byLoss.median.toFixed(2)} ms; λ >= 0.5 sorted by K ${cond.median.toFixed(2)} ms; ` +
        `group by λ with 4 mean ± std columns ${groups.median.toFixed(2)} ms`,
    );
    results.table10kSortedPageMs = { lr: byLr.median, loss: byLoss.median, conditionSortedByK: cond.median };
    results.table10kGroupsMs = groups.median;
    results.list10kFilteredMs = filtered.median;
    results.list10kCountMs = count.median;
    results.list10kPageMs = page.median;
    results.list10kAllMs = all.median;
  });
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, better-sqlite3 (WAL, synchronous=NORMAL), data in ${tmpdir()}`);
  const parts = String(flags.get('parts') ?? 'ingest,series,listing,training').split(',');
  if (parts.includes('ingest')) ingestCapacity();
  if (parts.includes('series')) seriesLatency();
  if (parts.includes('listing')) listing();
  if (parts.includes('training')) await ingestWhileTraining();
  console.log(`BENCH_JSON ${JSON.stringify(results)}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
