/**
 * sadpm: the headless front end of the engine. train | resume | sample | gap | import | info.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, configFromFlags, configFields, flagString, flagNumber, rejectUnknown, type ParsedArgs } from './args';
import { humanSink, jsonSink, fmtBytes } from './progress';
import { resolveRunConfig, parseRunConfig, RUN_PRESETS, SAMPLERS, SPACINGS, type RunConfig } from '../shared/config';
import type { EngineSink } from '../shared/engineMessages';
import { train, TrainState, checkDatasetFits } from '../engine/train/trainer';
import { findCheckpoint, readCheckpoint } from '../engine/train/checkpoint';
import { writeRunSamples, writeRunGap } from '../engine/train/artifacts';
import { initBackend, describeBackend } from '../engine/backend';
import { importDataset } from '../engine/data/import';
import { loadDataset, holdOutIndices } from '../engine/data/loader';
import { readPackedHeader } from '../engine/data/packed';
import { renderGapChart } from './gapChart';

const HELP = `sadpm — SA-DPM Studio's command line: train, sample and measure diffusion models with the
Sequence-Aware (SA) loss of "On Inference Stability for Diffusion Models" (AAAI 2024).

Commands
  sadpm train [flags]                 train a model (one flag per config field, see 'sadpm train --help')
  sadpm resume --run-dir DIR [--steps N]
  sadpm sample --run-dir DIR [--checkpoint latest|STEP] [--ema] [--n 64] [--sampler ddim|ddpm]
               [--steps 50] [--spacing uniform|quad|trailing] [--eta 0] [--seed 0] [--out grid.png]
  sadpm gap    --run-dir DIR [--checkpoint latest|STEP] [--ema] [--t0 300] [--n 16]
  sadpm import PATH --out FILE.sadpm-ds [--format auto|idx|cifar10|folder|npy|builtin] [--size N]
               [--grayscale] [--strict] [--limit N] [--labels FILE]
  sadpm info [--backend auto|webgpu|tensorflow|cpu]
Add --json to train/resume/sample/gap for one JSON engine message per line on stdout.`;

function trainHelp(): string {
  const lines = configFields().map((f) => {
    const kind = f.kind === 'enum' ? f.values!.join('|') : f.kind === 'numberList' ? 'n,n,...' : f.kind;
    return `  --${f.flag.padEnd(18)} ${kind.padEnd(26)} ${f.description}`;
  });
  return [
    'sadpm train [--config run.json] [--run-preset quick-cpu|official-cifar10|official-celeba64] [flags]',
    '  --run-dir DIR        where checkpoints, samples and gap curves go (default runs/<time>-<name>)',
    '  --json               JSON engine messages on stdout instead of a progress bar',
    '  (--T is also accepted as --t; --k, --lambda, --tau set the SA loss)',
    ...lines,
    `Run presets: ${Object.keys(RUN_PRESETS).join(', ')}. Flags override --config, which overrides the run preset.`,
  ].join('\n');
}

function sinkFor(args: ParsedArgs): EngineSink {
  return args.flags.get('json') === true ? jsonSink() : humanSink();
}

/** Image size and channels of a dataset spec, without loading pixels where possible. */
function datasetDims(spec: string): { size: number; channels: number } {
  if (spec.startsWith('builtin:')) {
    const ds = loadDataset(spec);
    return { size: ds.info.height, channels: ds.info.channels };
  }
  const h = readPackedHeader(spec);
  return { size: h.height, channels: h.channels };
}

function defaultRunDir(cfg: RunConfig): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const loss = cfg.lambda > 0 && cfg.k >= 2 ? `sa${cfg.k}-l${cfg.lambda}` : 'ddpm';
  const name = cfg.name ? cfg.name.replace(/[^A-Za-z0-9_.-]+/g, '_') : `${cfg.preset}-${loss}`;
  return resolve('runs', `${stamp}-${name}`);
}

function installStopHandler(): AbortController {
  const ctl = new AbortController();
  let hits = 0;
  process.on('SIGINT', () => {
    hits += 1;
    if (hits === 1) {
      process.stderr.write('\nstopping after this step (a checkpoint is written first); press Ctrl-C again to quit now\n');
      ctl.abort();
    } else {
      process.exit(130);
    }
  });
  process.on('SIGTERM', () => ctl.abort());
  return ctl;
}

async function cmdTrain(args: ParsedArgs): Promise<number> {
  if (args.flags.get('help')) {
    console.log(trainHelp());
    return 0;
  }
  const { values, used } = configFromFlags(args.flags);
  rejectUnknown(args.flags, [...used, 'config', 'run-preset', 'run-dir', 'json'], 'train');
  let input: Record<string, unknown> = {};
  const runPreset = flagString(args.flags, 'run-preset');
  if (runPreset) {
    const p = RUN_PRESETS[runPreset];
    if (!p) throw new Error(`--run-preset: unknown '${runPreset}' (expected one of ${Object.keys(RUN_PRESETS).join(', ')})`);
    input = { ...p };
  }
  const configPath = flagString(args.flags, 'config');
  if (configPath) {
    let fromFile: unknown;
    try {
      fromFile = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (err) {
      throw new Error(`--config ${configPath}: ${(err as Error).message}`);
    }
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
      throw new Error(`--config ${configPath}: expected a JSON object of config fields`);
    }
    input = { ...input, ...(fromFile as Record<string, unknown>) };
  }
  input = { ...input, ...values };
  // A model preset supplies sizes; the dataset decides image size and channels unless given.
  const dataset = String(input.dataset ?? 'builtin:shapes');
  if (input.imageSize === undefined || input.channels === undefined) {
    const dims = datasetDims(dataset);
    input.imageSize ??= dims.size;
    input.channels ??= dims.channels;
  }
  const cfg = resolveRunConfig(input);
  const runDir = resolve(flagString(args.flags, 'run-dir') ?? defaultRunDir(cfg));
  if (existsSync(join(runDir, 'checkpoints')) && findCheckpointSafe(runDir)) {
    throw new Error(`--run-dir ${runDir} already holds a run; use 'sadpm resume --run-dir ${runDir}' or another folder`);
  }
  const ctl = installStopHandler();
  const res = await train(cfg, { runDir, sink: sinkFor(args), signal: ctl.signal });
  return res.reason === 'completed' ? 0 : 130;
}

function findCheckpointSafe(runDir: string): boolean {
  try {
    findCheckpoint(runDir, 'latest');
    return true;
  } catch {
    return false;
  }
}

function loadRunConfig(runDir: string): RunConfig {
  const p = join(runDir, 'config.json');
  if (!existsSync(p)) throw new Error(`--run-dir ${runDir}: no config.json (is this a sadpm run folder?)`);
  try {
    return parseRunConfig(JSON.parse(readFileSync(p, 'utf8')));
  } catch (err) {
    throw new Error(`${p}: ${(err as Error).message}`);
  }
}

function requireRunDir(args: ParsedArgs): string {
  const d = flagString(args.flags, 'run-dir') ?? args.positional[0];
  if (!d) throw new Error(`sadpm ${args.command}: --run-dir DIR is required`);
  return resolve(d);
}

async function cmdResume(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, ['run-dir', 'steps', 'json', 'backend'], 'resume');
  const runDir = requireRunDir(args);
  const ck = findCheckpoint(runDir, 'latest');
  let cfg = loadRunConfig(runDir);
  const steps = flagString(args.flags, 'steps');
  const backend = flagString(args.flags, 'backend');
  if (steps !== undefined || backend !== undefined) {
    cfg = parseRunConfig({ ...cfg, ...(steps !== undefined ? { steps: Number(steps) } : {}), ...(backend ? { backend } : {}) });
  }
  if (ck.step >= cfg.steps) {
    throw new Error(`run ${runDir} already reached step ${ck.step} of ${cfg.steps}; pass --steps N (N > ${ck.step}) to train longer`);
  }
  const ctl = installStopHandler();
  const res = await train(cfg, { runDir, sink: sinkFor(args), signal: ctl.signal, resumeFrom: ck.path });
  return res.reason === 'completed' ? 0 : 130;
}

async function loadHolder(args: ParsedArgs): Promise<{ runDir: string; state: TrainState; backend: string }> {
  const runDir = requireRunDir(args);
  const which = flagString(args.flags, 'checkpoint') ?? 'latest';
  if (which !== 'latest' && !/^\d+$/.test(which)) throw new Error(`--checkpoint: expected 'latest' or a step number, got '${which}'`);
  const ck = findCheckpoint(runDir, which === 'latest' ? 'latest' : Number(which));
  const data = readCheckpoint(ck.path);
  const backendFlag = flagString(args.flags, 'backend');
  const cfg = backendFlag ? parseRunConfig({ ...data.config, backend: backendFlag }) : data.config;
  const info = await initBackend(cfg.backend);
  const state = new TrainState(cfg);
  state.restore(data);
  return { runDir, state, backend: describeBackend(info) };
}

async function cmdSample(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, ['run-dir', 'checkpoint', 'ema', 'raw', 'n', 'sampler', 'steps', 'spacing', 'eta', 'seed', 'out', 'cols', 'batch', 'json', 'backend'], 'sample');
  const sampler = flagString(args.flags, 'sampler') ?? 'ddim';
  if (!(SAMPLERS as readonly string[]).includes(sampler)) throw new Error(`--sampler: expected ddim or ddpm, got '${sampler}'`);
  const spacing = flagString(args.flags, 'spacing') ?? 'uniform';
  if (!(SPACINGS as readonly string[]).includes(spacing)) throw new Error(`--spacing: expected ${SPACINGS.join(', ')}, got '${spacing}'`);
  const n = flagNumber(args.flags, 'n', 64);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--n: expected a positive integer, got ${n}`);
  const { runDir, state, backend } = await loadHolder(args);
  const sink = sinkFor(args);
  try {
    const steps = flagNumber(args.flags, 'steps', 50);
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
      batchSize: args.flags.has('batch') ? flagNumber(args.flags, 'batch', 64) : undefined,
      out: out ? resolve(out) : undefined,
      onStep: json ? undefined : (k, total) => process.stderr.write(`\r\x1b[Kstep ${k}/${total}`),
    });
    if (!json) process.stderr.write('\r\x1b[K');
    sink(msg);
    if (!json) console.log(`grid: ${msg.path}\nsidecar: ${msg.path.replace(/\.png$/i, '')}.json`);
  } finally {
    state.dispose();
  }
  return 0;
}

async function cmdGap(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, ['run-dir', 'checkpoint', 'ema', 't0', 'n', 'json', 'backend'], 'gap');
  const { runDir, state } = await loadHolder(args);
  try {
    const cfg = state.cfg;
    const ds = loadDataset(cfg.dataset);
    checkDatasetFits(ds, cfg);
    const n = flagNumber(args.flags, 'n', cfg.gapBatch);
    const t0 = flagNumber(args.flags, 't0', cfg.gapT0);
    if (!Number.isInteger(t0) || t0 < 1 || t0 > cfg.T) throw new Error(`--t0: expected an integer in 1..${cfg.T}, got ${t0}`);
    const msg = await writeRunGap(state, ds, holdOutIndices(ds, Math.min(n, ds.info.count), cfg.seed), runDir, {
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
  rejectUnknown(args.flags, ['out', 'format', 'size', 'grayscale', 'strict', 'limit', 'labels', 'json'], 'import');
  const input = args.positional[0];
  if (!input) throw new Error('sadpm import: give the dataset path (or builtin:<name>) to import');
  const out = flagString(args.flags, 'out');
  if (!out) throw new Error('sadpm import: --out FILE.sadpm-ds is required');
  const format = (flagString(args.flags, 'format') ?? 'auto') as Parameters<typeof importDataset>[0]['format'];
  const json = args.flags.get('json') === true;
  let lastPct = -1;
  const res = await importDataset({
    input,
    format,
    out: resolve(out),
    size: args.flags.has('size') ? flagNumber(args.flags, 'size', 32) : undefined,
    grayscale: args.flags.get('grayscale') === true,
    strict: args.flags.get('strict') === true,
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

const COMMANDS: Record<string, (a: ParsedArgs) => Promise<number>> = {
  train: cmdTrain,
  resume: cmdResume,
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
    console.error(`sadpm ${args.command}: ${(err as Error).message}`);
    if (process.env.SADPM_DEBUG) console.error((err as Error).stack);
    return 1;
  }
}
