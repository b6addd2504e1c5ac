/**
 * sadpm sample and sadpm gap: work on a checkpoint, run as an engine job through the same use cases as the app's
 * Gallery, Compare, Export and gap measurement; results of a stored run are recorded with it.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BACKENDS, SAMPLER_NAMES, SPACINGS, parseRunConfig } from '../../shared/config';
import { MAX_SAMPLE_N } from '../../shared/engineMessages';
import type { RunStore } from '../../store/runStore';
import { findCheckpoint, readCheckpointHeader } from '../../engine/train/checkpoint';
import { forkEngine } from '../../app/engineProcess';
import { runCheckpoint, type CheckpointTarget } from '../../app/useCases/checkpointTarget';
import { sampleCheckpoint } from '../../app/useCases/sampleCheckpoint';
import { measureGap } from '../../app/useCases/measureGap';
import {
  checkpointFlag,
  flagChoice,
  flagNumber,
  flagString,
  isJson,
  optionalPositiveInt,
  positiveInt,
  rejectUnknown,
  type ParsedArgs,
} from '../args';
import { renderGapChart } from '../gapChart';
import { fmtShapeCheck, jsonSink } from '../progress';
import { VARIANCE_FLAGS, describeVariance, varianceFromFlags } from '../varianceFlags';
import { openStore, runRef } from '../storeAccess';

/**
 * The checkpoint a command names: RUN (store) + --checkpoint, or --run-dir of a run folder (which need not be in
 * the store). The store, when there is one, stays open for the caller to record results and close.
 */
export function locateCheckpoint(args: ParsedArgs): { target: CheckpointTarget; T: number; store?: RunStore } {
  const which = checkpointFlag(args);
  const dirFlag = flagString(args.flags, 'run-dir');
  if (args.positional[0] || (dirFlag && !existsSync(join(resolve(dirFlag), 'checkpoints')))) {
    const store: RunStore = openStore(args, { quiet: true });
    try {
      const run = store.runs.get(runRef(args, store))!;
      return { target: runCheckpoint(store, run, which), T: run.T, store };
    } catch (err) {
      store.close();
      throw err;
    }
  }
  if (!dirFlag) throw new Error('name the run (id or name) or give --run-dir DIR');
  const runDir = resolve(dirFlag);
  const { path } = findCheckpoint(runDir, which);
  const T = parseRunConfig(readCheckpointHeader(path).config).T;
  return { target: { kind: 'file', runDir, path }, T };
}

export function stepPrinter(json: boolean): ((done: number, total: number) => void) | undefined {
  return json || !process.stderr.isTTY
    ? undefined
    : (done, total) => process.stderr.write(`\r\x1b[Kstep ${done}/${total}`);
}

export async function cmdSample(args: ParsedArgs): Promise<number> {
  const allowed = [
    'run-dir',
    'checkpoint',
    'ema',
    'raw',
    'n',
    'sampler',
    'steps',
    'spacing',
    'eta',
    'seed',
    'out',
    'cols',
    'batch',
  ];
  rejectUnknown(args.flags, ['data-dir', 'json', 'backend', ...allowed, ...VARIANCE_FLAGS], 'sample');
  const sampler = flagChoice(args.flags, 'sampler', SAMPLER_NAMES, 'ddim');
  const variance = varianceFromFlags(args, sampler);
  const spacing = flagChoice(args.flags, 'spacing', SPACINGS, 'uniform');
  const backend = args.flags.has('backend') ? flagChoice(args.flags, 'backend', BACKENDS, 'auto') : undefined;
  const n = args.flags.has('n') ? positiveInt(args, 'n') : 64;
  const batch = optionalPositiveInt(args, 'batch') ?? Math.min(n, 64);
  const steps = args.flags.has('steps') ? positiveInt(args, 'steps') : 50;
  if (n > MAX_SAMPLE_N) {
    const batches = Math.ceil(n / batch);
    const work = `${batches * steps} network passes (${batches} batches of ${batch} x ${steps} steps)`;
    throw new Error(
      `--n ${n}: at most ${MAX_SAMPLE_N} images per call, because they all go into one grid PNG; ` +
        `${n} images would also take ${work}. Sample in several calls with different --seed values`,
    );
  }
  const loc = locateCheckpoint(args);
  try {
    // Before an engine starts (seconds on a GPU): a request the run cannot serve fails at once.
    if (steps > loc.T) {
      throw new Error(`--steps ${steps}: this run has T = ${loc.T} diffusion steps; give --steps ${loc.T} or fewer`);
    }
    const json = isJson(args);
    const out = flagString(args.flags, 'out');
    if (!json) process.stderr.write(`sampling ${n} images\n`);
    const { message, variance: used } = await sampleCheckpoint(
      { store: loc.store, spawn: forkEngine },
      loc.target,
      {
        n,
        ema: args.flags.get('ema') === true,
        sampler,
        steps,
        spacing,
        eta: flagNumber(args.flags, 'eta', 0),
        seed: flagNumber(args.flags, 'seed', 0),
        cols: optionalPositiveInt(args, 'cols'),
        batchSize: batch,
        out: out ? resolve(out) : undefined,
        backend,
        variance,
      },
      { onProgress: stepPrinter(json) },
    );
    if (json) {
      jsonSink()(message);
    } else {
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      console.log(`grid: ${message.path}\nsidecar: ${message.path.replace(/\.png$/i, '')}.json`);
      if (message.shapes) console.log(fmtShapeCheck(message.shapes));
      const what = describeVariance(used);
      if (what) console.log(what);
    }
    return 0;
  } finally {
    loc.store?.close();
  }
}

export async function cmdGap(args: ParsedArgs): Promise<number> {
  if (args.flags.has('sampler')) {
    const why = "the gap monitor measures the mean on the DDPM chain, which a sampler's variance does not enter";
    throw new Error(`--sampler: ${why} (docs/method.md §5)`);
  }
  rejectUnknown(args.flags, ['data-dir', 'run-dir', 'checkpoint', 'ema', 't0', 'n', 'json', 'backend'], 'gap');
  const t0 = optionalPositiveInt(args, 't0');
  const n = optionalPositiveInt(args, 'n');
  const backend = args.flags.has('backend') ? flagChoice(args.flags, 'backend', BACKENDS, 'auto') : undefined;
  const loc = locateCheckpoint(args);
  try {
    if (t0 !== undefined && t0 > loc.T) throw new Error(`--t0: expected an integer in 1..${loc.T}, got ${t0}`);
    const json = isJson(args);
    const msg = await measureGap(
      { store: loc.store, spawn: forkEngine },
      loc.target,
      { ema: args.flags.get('ema') === true, t0, n, backend },
      { onProgress: stepPrinter(json) },
    );
    if (json) {
      jsonSink()(msg);
    } else {
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      console.log(renderGapChart(msg));
      console.log(`written: ${msg.path} and ${msg.path?.replace(/\.json$/, '.csv')}`);
    }
    return 0;
  } finally {
    loc.store?.close();
  }
}
