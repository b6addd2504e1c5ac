/**
 * Issue 12/15: sadpm strip — one fixed noise sampled at every checkpoint of a run (or every k-th), as a strip PNG
 * over training, through the same use case as the app's Gallery. Checkpoints already sampled with the same
 * settings are read back, not sampled again.
 */
import { resolve } from 'node:path';
import { BACKENDS, SAMPLER_NAMES, SPACINGS } from '../../shared/config';
import { MAX_STRIP_N } from '../../shared/strip';
import { forkEngine } from '../../app/engineProcess';
import { sampleStrip } from '../../app/useCases/sampleStrip';
import {
  flagChoice,
  flagNumber,
  flagString,
  isJson,
  nonNegativeInt,
  optionalPositiveInt,
  positiveInt,
  rejectUnknown,
  splitList,
  type ParsedArgs,
} from '../args';
import { openStore, runRef } from '../storeAccess';
import { stepPrinter } from './sample';

const FLAGS = ['n', 'seed', 'sampler', 'steps', 'spacing', 'eta', 'ema', 'raw', 'every', 'checkpoints', 'out'];
const MORE = ['gamma-images', 'gamma-seed', 'batch', 'backend', 'data-dir', 'run-dir', 'json'];

/** --checkpoints 200,400,600: training steps. */
function checkpointSteps(args: ParsedArgs): number[] | undefined {
  const raw = flagString(args.flags, 'checkpoints');
  if (raw === undefined) return undefined;
  const steps = splitList(raw).map((v) => {
    if (!/^\d+$/.test(v))
      throw new Error(`--checkpoints: expected training steps like 200,400, got '${v}' in '${raw}'`);
    return Number(v);
  });
  if (steps.length === 0) throw new Error(`--checkpoints: expected training steps like 200,400, got '${raw}'`);
  return steps;
}

export async function cmdStrip(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, [...FLAGS, ...MORE], 'strip');
  if (args.flags.has('ema') && args.flags.has('raw'))
    throw new Error('--ema and --raw: give one of them (default EMA)');
  if (args.flags.has('every') && args.flags.has('checkpoints')) {
    throw new Error('--every and --checkpoints: give one of them (every k-th checkpoint, or the steps to show)');
  }
  const n = args.flags.has('n') ? positiveInt(args, 'n') : 8;
  if (n > MAX_STRIP_N) throw new Error(`--n ${n}: at most ${MAX_STRIP_N} noise images (rows) per strip`);
  const eta = flagNumber(args.flags, 'eta', 0);
  if (!(eta >= 0 && eta <= 1))
    throw new Error(`--eta: expected a number in 0..1, got '${flagString(args.flags, 'eta')}'`);
  const request = {
    n,
    seed: nonNegativeInt(args, 'seed', 0),
    sampler: flagChoice(args.flags, 'sampler', SAMPLER_NAMES, 'ddim'),
    steps: args.flags.has('steps') ? positiveInt(args, 'steps') : 50,
    spacing: flagChoice(args.flags, 'spacing', SPACINGS, 'uniform'),
    eta,
    ema: !args.flags.has('raw'),
    every: optionalPositiveInt(args, 'every') ?? 1,
    checkpoints: checkpointSteps(args),
    gammaImages: optionalPositiveInt(args, 'gamma-images'),
    gammaSeed: args.flags.has('gamma-seed') ? nonNegativeInt(args, 'gamma-seed', 0) : undefined,
    batchSize: optionalPositiveInt(args, 'batch'),
    backend: args.flags.has('backend') ? flagChoice(args.flags, 'backend', BACKENDS, 'auto') : undefined,
    out: flagString(args.flags, 'out'),
  };
  const store = openStore(args, { quiet: true });
  try {
    const run = store.runs.get(runRef(args, store))!;
    const json = isJson(args);
    const out = request.out === undefined ? undefined : resolve(request.out);
    const r = await sampleStrip(
      { store, spawn: forkEngine },
      run,
      { ...request, out },
      { onProgress: stepPrinter(json) },
    );
    if (json) {
      console.log(JSON.stringify(r, null, 2));
      return 0;
    }
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    const shown = r.columns.filter((c) => c.sample);
    const cached = shown.filter((c) => !r.sampled.includes(c.step)).map((c) => c.step);
    console.log(`checkpoints sampled now: ${r.sampled.join(', ') || 'none'}`);
    console.log(`checkpoints already sampled with these settings: ${cached.join(', ') || 'none'}`);
    for (const c of r.columns.filter((x) => x.skipped)) console.log(`checkpoint ${c.step} skipped: ${c.skipped}`);
    const weights = request.ema ? 'EMA' : 'raw';
    const what = `${shown.length} checkpoints x ${n} noise images, ${request.sampler} ${request.steps} steps`;
    console.log(`strip (${what}, seed ${request.seed}, ${weights} weights): ${r.path}\nsidecar: ${r.sidecar}`);
    return 0;
  } finally {
    store.close();
  }
}
