/**
 * sadpm: the headless front end: training through the run store, sampling, the gap monitor,
 * dataset import, and the store's queries (runs, show, export, prune, datasets).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, configFields, flagChoice, flagString, flagNumber, rejectUnknown, type ParsedArgs } from './args';
import { humanSink, jsonSink, fmtBytes } from './progress';
import { parseRunConfig, RUN_PRESETS, SAMPLERS, SPACINGS, type RunConfig } from '../shared/config';
import { CLASS_MODES, IMPORT_FORMATS, MAX_SAMPLE_N, type EngineSink } from '../shared/engineMessages';
import { TrainState, checkDatasetFits } from '../engine/train/trainer';
import { findCheckpoint, readCheckpoint } from '../engine/train/checkpoint';
import { writeRunSamples, writeRunGap } from '../engine/train/artifacts';
import { initBackend, describeBackend } from '../engine/backend';
import { importDataset } from '../engine/data/import';
import { loadDataset, holdOutIndices, gapImages } from '../engine/data/loader';
import { renderGapChart } from './gapChart';
import { openStore, runRef } from './storeAccess';
import { cmdTrain, cmdResume, cmdRuns, cmdShow, cmdExport, cmdPrune, cmdTag, cmdDatasets, cmdImportLibrary } from './runCommands';
import type { RunStore } from '../store/runStore';
import { cmdServe } from './serve';
import { sampleRecordOf } from '../store/recorder';

const HELP = `sadpm — SA-DPM Studio's command line: train, sample and measure diffusion models with the
Sequence-Aware (SA) loss of "On Inference Stability for Diffusion Models" (AAAI 2024).

Commands (RUN is a run's id or name; every run is recorded in the run store)
  sadpm train [flags]        train a model (one flag per config field, see 'sadpm train --help')
  sadpm resume RUN [--steps N]          continue a stopped, interrupted or finished run
  sadpm runs [--status S,S] [--tag T] [--dataset D] [--k N] [--lambda X] [--T N] [--search TEXT]
  sadpm show RUN             config, status, checkpoints, samples, gap and disk use of a run
  sadpm sample RUN [--checkpoint latest|STEP] [--ema] [--n 64] [--sampler ddim|ddpm]
               [--steps 50] [--spacing uniform|quad|trailing] [--eta 0] [--seed 0] [--out grid.png]
  sadpm gap RUN [--checkpoint latest|STEP] [--ema] [--t0 300] [--n N ≤ the run's held-out images]
  sadpm export RUN [--format csv|json|bundle] [--out PATH] [--checkpoints latest|all|none|S,S]
  sadpm prune RUN [--keep-last N] [--keep-every M] [--keep-best METRIC] [--yes]
  sadpm tag RUN TAG... [--remove] [--notes TEXT]
  sadpm import PATH [--name NAME] [--format auto|idx|cifar10|folder|npy|builtin|packed] [--size N]
               [--grayscale] [--strict] [--limit N] [--labels FILE] [--classes auto|subfolders|none]
               (--out FILE: a standalone file instead; --classes: image folders' labels from subfolders)
  sadpm datasets             the dataset library
  sadpm serve [--port N] [--concurrency 1]   web mode: the app's UI in a browser (after 'npm run build')
  sadpm info [--backend auto|webgpu|tensorflow|cpu]
The store lives in the platform's app-data folder; --data-dir DIR or SADPM_HOME=DIR puts it elsewhere.
Add --json to train/resume/sample/gap for one JSON engine message per line on stdout, and to
runs/show/datasets/export/prune for JSON output.`;

function trainHelp(): string {
  const lines = configFields().map((f) => {
    const kinds: Partial<Record<string, string>> = { numberList: 'n,n,...', boolean: '(alone) or =true|false' };
    const kind = f.kind === 'enum' ? f.values!.join('|') : (kinds[f.kind] ?? f.kind);
    return `  --${f.flag.padEnd(18)} ${kind.padEnd(26)} ${f.description}`;
  });
  return [
    'sadpm train [--config run.json] [--run-preset quick-cpu|official-cifar10|official-celeba64] [flags]',
    '  --run-dir DIR        where checkpoints, samples and gap curves go (default: the store\'s runs/<id>-<name>)',
    '  --dataset D          a library dataset (name or #id), a .sadpm-ds file, or builtin:<name>',
    '  --tags a,b --notes S tags and notes recorded with the run',
    '  --keep-last N --keep-every M --keep-best METRIC   checkpoint retention, applied at each checkpoint',
    '  --data-dir DIR       the run store (default: the platform app-data folder, or SADPM_HOME)',
    '  --json               JSON engine messages on stdout instead of a progress bar',
    '  (--T is also accepted as --t; --k, --lambda, --tau set the SA loss)',
    ...lines,
    `Run presets: ${Object.keys(RUN_PRESETS).join(', ')}. Flags override --config, which overrides the run preset.`,
  ].join('\n');
}

function sinkFor(args: ParsedArgs): EngineSink {
  return args.flags.get('json') === true ? jsonSink() : humanSink();
}

/**
 * The checkpoint a sample/gap command names: RUN (store) + --checkpoint, or --run-dir of a run folder
 * (which need not be in the store).
 */
function locateCheckpoint(args: ParsedArgs): { runDir: string; path: string; store?: RunStore; runId?: number } {
  const which = flagString(args.flags, 'checkpoint') ?? 'latest';
  if (which !== 'latest' && !/^\d+$/.test(which)) throw new Error(`--checkpoint: expected 'latest' or a step number, got '${which}'`);
  const dirFlag = flagString(args.flags, 'run-dir');
  if (args.positional[0] || (dirFlag && !existsSync(join(resolve(dirFlag), 'checkpoints')))) {
    const store = openStore(args, { quiet: true });
    const runId = runRef(args, store);
    const run = store.getRun(runId)!;
    const ck = which === 'latest' ? store.latestCheckpoint(runId) : store.checkpointAt(runId, Number(which));
    if (!ck) {
      const have = store.checkpoints(runId).map((c) => c.step);
      store.close();
      throw new Error(`run #${runId} has no checkpoint${which === 'latest' ? ' yet' : ` at step ${which}`} (checkpoints: ${have.join(', ') || 'none'})`);
    }
    return { runDir: run.runDir, path: ck.path, store, runId };
  }
  if (!dirFlag) throw new Error('name the run (id or name) or give --run-dir DIR');
  const runDir = resolve(dirFlag);
  const ck = findCheckpoint(runDir, which === 'latest' ? 'latest' : Number(which));
  return { runDir, path: ck.path };
}

async function loadHolder(
  args: ParsedArgs,
  ck: { path: string },
  check: (cfg: RunConfig) => void = () => {},
): Promise<{ state: TrainState; backend: string }> {
  const data = readCheckpoint(ck.path);
  const backendFlag = flagString(args.flags, 'backend');
  const cfg = backendFlag ? parseRunConfig({ ...data.config, backend: backendFlag }) : data.config;
  // Before the backend starts (seconds on a GPU): a request the run cannot serve fails at once.
  check(cfg);
  const info = await initBackend(cfg.backend);
  const state = new TrainState(cfg);
  state.restore(data);
  return { state, backend: describeBackend(info) };
}

async function cmdSample(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, ['data-dir', 'run-dir', 'checkpoint', 'ema', 'raw', 'n', 'sampler', 'steps', 'spacing', 'eta', 'seed', 'out', 'cols', 'batch', 'json', 'backend'], 'sample');
  const sampler = flagString(args.flags, 'sampler') ?? 'ddim';
  if (!(SAMPLERS as readonly string[]).includes(sampler)) throw new Error(`--sampler: expected ddim or ddpm, got '${sampler}'`);
  const spacing = flagString(args.flags, 'spacing') ?? 'uniform';
  if (!(SPACINGS as readonly string[]).includes(spacing)) throw new Error(`--spacing: expected ${SPACINGS.join(', ')}, got '${spacing}'`);
  const n = flagNumber(args.flags, 'n', 64);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--n: expected a positive integer, got ${n}`);
  const batch = args.flags.has('batch') ? flagNumber(args.flags, 'batch', 64) : Math.min(n, 64);
  const steps = flagNumber(args.flags, 'steps', 50);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps: expected a positive integer, got ${steps}`);
  if (n > MAX_SAMPLE_N) {
    const batches = Math.ceil(n / batch);
    const work = `${batches * steps} network passes (${batches} batches of ${batch} x ${steps} steps)`;
    throw new Error(
      `--n ${n}: at most ${MAX_SAMPLE_N} images per call, because they all go into one grid PNG; ` +
        `${n} images would also take ${work}. ` +
        `Sample in several calls with different --seed values`,
    );
  }
  const loc = locateCheckpoint(args);
  const runDir = loc.runDir;
  const { state, backend } = await loadHolder(args, loc, (cfg) => {
    if (steps > cfg.T) {
      throw new Error(`--steps ${steps}: this run has T = ${cfg.T} diffusion steps; give --steps ${cfg.T} or fewer`);
    }
  });
  const sink = sinkFor(args);
  try {
    const out = flagString(args.flags, 'out');
    const json = args.flags.get('json') === true;
    if (!json) process.stderr.write(`sampling ${n} images at step ${state.step} on ${backend}\n`);
    const msg = await writeRunSamples(state, runDir, {
      n,
      ema: args.flags.get('ema') === true,
      sampler: sampler as RunConfig['sampler'],
      steps,
      spacing: spacing as RunConfig['spacing'],
      eta: flagNumber(args.flags, 'eta', 0),
      seed: flagNumber(args.flags, 'seed', 0),
      cols: args.flags.has('cols') ? flagNumber(args.flags, 'cols', 8) : undefined,
      batchSize: batch,
      out: out ? resolve(out) : undefined,
      onStep: json ? undefined : (k, total) => process.stderr.write(`\r\x1b[Kstep ${k}/${total}`),
    });
    if (!json) process.stderr.write('\r\x1b[K');
    if (loc.store && loc.runId !== undefined) {
      loc.store.addSample(sampleRecordOf(msg, loc.runId, loc.store.checkpointAt(loc.runId, msg.step)?.id ?? null));
    }
    sink(msg);
    if (!json) console.log(`grid: ${msg.path}\nsidecar: ${msg.path.replace(/\.png$/i, '')}.json`);
  } finally {
    state.dispose();
    loc.store?.close();
  }
  return 0;
}

async function cmdGap(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, ['data-dir', 'run-dir', 'checkpoint', 'ema', 't0', 'n', 'json', 'backend'], 'gap');
  const loc = locateCheckpoint(args);
  loc.store?.close();
  const runDir = loc.runDir;
  const { state } = await loadHolder(args, loc);
  try {
    const cfg = state.cfg;
    const ds = loadDataset(cfg.dataset);
    checkDatasetFits(ds, cfg);
    const held = gapImages(ds, cfg.gapBatch, cfg.seed);
    const n = flagNumber(args.flags, 'n', held.indices.length);
    if (!Number.isInteger(n) || n < 1 || n > held.indices.length) {
      throw new Error(
        `--n: expected an integer in 1..${held.indices.length}: the run holds ${held.indices.length} of its ` +
          `${ds.info.count} images out of training for the gap monitor, and the others were trained on`,
      );
    }
    const t0 = flagNumber(args.flags, 't0', cfg.gapT0);
    if (!Number.isInteger(t0) || t0 < 1 || t0 > cfg.T) throw new Error(`--t0: expected an integer in 1..${cfg.T}, got ${t0}`);
    // A smaller n takes a subset of the held-out images (holdOutIndices draws them in a fixed order).
    const images = { ...held, indices: holdOutIndices(ds, n, cfg.seed) };
    const msg = await writeRunGap(state, ds, images, runDir, {
      ema: args.flags.get('ema') === true,
      t0,
    });
    if (args.flags.get('json') === true) {
      jsonSink()(msg);
    } else {
      console.log(renderGapChart(msg));
      console.log(`written: ${msg.path} and ${msg.path?.replace(/\.json$/, '.csv')}`);
    }
  } finally {
    state.dispose();
  }
  return 0;
}

async function cmdImport(args: ParsedArgs): Promise<number> {
  const out = flagString(args.flags, 'out');
  if (!out) return cmdImportLibrary(args);
  const allowed = ['out', 'format', 'classes', 'size', 'grayscale', 'strict', 'limit', 'labels', 'json'];
  rejectUnknown(args.flags, allowed, 'import');
  const format = flagChoice(args.flags, 'format', IMPORT_FORMATS, 'auto');
  const classes = args.flags.has('classes') ? flagChoice(args.flags, 'classes', CLASS_MODES, 'auto') : undefined;
  const input = args.positional[0];
  if (!input) throw new Error('give the dataset path (or builtin:<name>) to import');
  const json = args.flags.get('json') === true;
  let lastPct = -1;
  const res = await importDataset({
    input,
    format,
    out: resolve(out),
    size: args.flags.has('size') ? flagNumber(args.flags, 'size', 32) : undefined,
    grayscale: args.flags.get('grayscale') === true,
    strict: args.flags.get('strict') === true,
    classes,
    labelsPath: flagString(args.flags, 'labels'),
    limit: args.flags.has('limit') ? flagNumber(args.flags, 'limit', 0) : undefined,
    onProgress: (done, total) => {
      const pct = Math.floor((100 * done) / Math.max(1, total));
      if (!json && pct !== lastPct && process.stderr.isTTY) process.stderr.write(`\r\x1b[Kimporting ${done}/${total}`);
      lastPct = pct;
    },
  });
  if (!json && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  if (json) {
    console.log(JSON.stringify({ out: resolve(out), header: res.header, report: res.report }));
  } else {
    const h = res.header;
    console.log(`imported ${h.count} images (${h.height}x${h.width}x${h.channels}, ${h.format}) into ${resolve(out)}`);
    for (const n of res.report.notes) console.log(`  ${n}`);
    if (res.report.skipped.length > 0) {
      console.log(`skipped ${res.report.skipped.length}:`);
      for (const s of res.report.skipped.slice(0, 20)) console.log(`  ${s.file}: ${s.reason}`);
      if (res.report.skipped.length > 20) console.log(`  ... and ${res.report.skipped.length - 20} more`);
    }
    console.log(`train on it: sadpm train --dataset ${resolve(out)}`);
  }
  return 0;
}

async function cmdInfo(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, ['backend', 'json'], 'info');
  const pref = (flagString(args.flags, 'backend') ?? 'auto') as RunConfig['backend'];
  const info = await initBackend(pref);
  if (args.flags.get('json') === true) {
    console.log(JSON.stringify(info));
    return 0;
  }
  const a = info.adapter;
  console.log(`backend:  ${info.name}`);
  console.log(`adapter:  ${describeBackend(info)}`);
  console.log(`vendor:   ${a.vendor}${a.architecture ? ` (${a.architecture})` : ''}`);
  console.log(`device:   ${a.device || a.description || '-'}`);
  console.log(`api:      ${a.api}${a.software ? ' (software adapter: expect CPU speed)' : ''}`);
  console.log(`features: ${a.features.length ? a.features.join(', ') : '-'}`);
  for (const r of info.rejected) console.log(`not ${r.name}: ${r.reason}`);
  console.log(`node ${process.version}, ${process.platform}-${process.arch}, memory ${fmtBytes(process.memoryUsage().rss)} rss`);
  return 0;
}

const COMMANDS: Record<string, (a: ParsedArgs) => Promise<number> | number> = {
  train: (a) => cmdTrain(a, trainHelp),
  resume: cmdResume,
  runs: cmdRuns,
  show: cmdShow,
  export: cmdExport,
  prune: cmdPrune,
  tag: cmdTag,
  datasets: cmdDatasets,
  serve: cmdServe,
  sample: cmdSample,
  gap: cmdGap,
  import: cmdImport,
  info: cmdInfo,
};

export async function main(argv: string[]): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    console.error(`sadpm: ${(err as Error).message}`);
    return 2;
  }
  if (args.command === 'help' || args.command === '--help' || args.command === '-h') {
    console.log(HELP);
    return 0;
  }
  const fn = COMMANDS[args.command];
  if (!fn) {
    console.error(`sadpm: unknown command '${args.command}'\n\n${HELP}`);
    return 2;
  }
  if (args.flags.get('help') === true && args.command !== 'train') {
    console.log(HELP);
    return 0;
  }
  try {
    return await fn(args);
  } catch (err) {
    const message = (err as Error).message;
    // Some messages already say which command they are about ('sadpm tag RUN TAG...: name the run').
    console.error(message.startsWith(`sadpm ${args.command}`) ? message : `sadpm ${args.command}: ${message}`);
    if (process.env.SADPM_DEBUG) console.error((err as Error).stack);
    return 1;
  }
}
