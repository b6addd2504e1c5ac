/**
 * sadpm gamma and sadpm train-cov (issue 13): Analytic-DPM's Γ of a checkpoint (printed and cached with its run),
 * and an NPR/SN covariance head trained as a child run through the run queue (`sadpm resume COVRUN` continues it).
 */
import { BACKENDS, SPACINGS } from '../../shared/config';
import { COV_HEAD_KINDS } from '../../shared/covConfig';
import { forkEngine } from '../../app/engineProcess';
import { runCheckpoint } from '../../app/useCases/checkpointTarget';
import { createCovRun } from '../../app/useCases/covRuns';
import { estimateGammaCached, trajectoryUnion } from '../../app/useCases/gammaEstimate';
import {
  checkpointFlag,
  flagChoice,
  flagNumber,
  flagString,
  isJson,
  optionalPositiveInt,
  positiveInt,
  rejectUnknown,
  splitList,
  type ParsedArgs,
} from '../args';
import { openStore, runRef } from '../storeAccess';
import { locateCheckpoint, stepPrinter } from './sample';
import { drive } from './train';

/** --steps 10,25,50: one or more sampling step counts. */
function stepList(args: ParsedArgs): number[] {
  const raw = flagString(args.flags, 'steps');
  if (!raw) throw new Error('--steps: give the sampling step counts to estimate Γ for, e.g. --steps 10,25,50');
  return splitList(raw).map((v) => {
    if (!/^\d+$/.test(v) || Number(v) < 1)
      throw new Error(`--steps: expected positive integers like 10,25,50, got '${raw}'`);
    return Number(v);
  });
}

export async function cmdGamma(args: ParsedArgs): Promise<number> {
  const known = [
    'data-dir',
    'run-dir',
    'checkpoint',
    'ema',
    'steps',
    'spacing',
    'n',
    'seed',
    'batch',
    'backend',
    'json',
  ];
  rejectUnknown(args.flags, known, 'gamma');
  const steps = stepList(args);
  const spacing = flagChoice(args.flags, 'spacing', SPACINGS, 'uniform');
  const seed = args.flags.has('seed') ? flagNumber(args.flags, 'seed', 0) : undefined;
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0))
    throw new Error(`--seed: expected an integer >= 0, got ${seed}`);
  const loc = locateCheckpoint(args);
  try {
    const trajectory = trajectoryUnion(loc.T, steps, spacing);
    const json = isJson(args);
    const req = {
      ema: args.flags.get('ema') === true,
      nImages: optionalPositiveInt(args, 'n'),
      seed,
      trajectory,
      batchSize: optionalPositiveInt(args, 'batch'),
    };
    if (!json) process.stderr.write(`Γ at ${trajectory.length} indices (steps ${steps.join(', ')}, ${spacing})\n`);
    const { estimate: e, cached } = await estimateGammaCached(
      { store: loc.store, spawn: forkEngine },
      loc.target,
      req,
      { onProgress: stepPrinter(json) },
    );
    if (json) {
      console.log(JSON.stringify({ ...e, cached }));
      return 0;
    }
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    const where = loc.store
      ? cached
        ? 'from the cache'
        : 'estimated now, cached'
      : 'estimated now (not cached: no store)';
    console.log(`Γ estimate ${e.key} (${where})`);
    console.log(
      `  checkpoint ${e.checkpointStep}, ${e.ema ? 'EMA' : 'raw'} weights, ${e.nImages} images, seed ${e.seed}`,
    );
    const show = (m: number) => `t=${e.trajectory[m]! + 1}: ${e.gamma[m]!.toFixed(5)}`;
    const idx =
      e.trajectory.length <= 12
        ? e.trajectory.map((_, m) => m)
        : [0, 1, 2, -1, e.trajectory.length - 3, e.trajectory.length - 2, e.trajectory.length - 1];
    console.log(`  Γ: ${idx.map((m) => (m < 0 ? '...' : show(m))).join(', ')}`);
    return 0;
  } finally {
    loc.store?.close();
  }
}

export async function cmdTrainCov(args: ParsedArgs): Promise<number> {
  const known = [
    'data-dir',
    'checkpoint',
    'ema',
    'kind',
    'steps',
    'batch',
    'lr',
    'seed',
    'name',
    'backend',
    'checkpoint-every',
    'log-every',
    'tags',
    'notes',
    'json',
  ];
  rejectUnknown(args.flags, known, 'train-cov');
  if (!args.flags.has('kind')) throw new Error(`--kind: give the head's kind (${COV_HEAD_KINDS.join(' or ')})`);
  const kind = flagChoice(args.flags, 'kind', COV_HEAD_KINDS, 'npr');
  if (!args.flags.has('steps')) throw new Error('--steps: give the number of training steps of the head');
  const lr = args.flags.has('lr') ? flagNumber(args.flags, 'lr', NaN) : undefined;
  const seed = args.flags.has('seed') ? flagNumber(args.flags, 'seed', NaN) : undefined;
  const store = openStore(args);
  try {
    const parent = store.runs.get(runRef(args, store))!;
    const ck = runCheckpoint(store, parent, checkpointFlag(args)).checkpoint;
    const run = createCovRun(store, parent, {
      kind,
      steps: positiveInt(args, 'steps'),
      checkpoint: ck.step,
      ema: args.flags.get('ema') === true,
      batch: optionalPositiveInt(args, 'batch'),
      lr,
      seed,
      name: flagString(args.flags, 'name'),
      backend: args.flags.has('backend') ? flagChoice(args.flags, 'backend', BACKENDS, 'auto') : undefined,
      checkpointEvery: optionalPositiveInt(args, 'checkpoint-every'),
      logEvery: optionalPositiveInt(args, 'log-every'),
      tags: splitList(flagString(args.flags, 'tags')),
      notes: flagString(args.flags, 'notes'),
    });
    if (!isJson(args)) {
      const on = `run #${parent.id} checkpoint ${ck.step} (${run.cov!.base.ema ? 'EMA' : 'raw'} weights)`;
      process.stderr.write(`covariance run #${run.id} '${run.name}': ${kind.toUpperCase()} head on ${on}\n`);
    }
    return await drive(store, run.id, args, false);
  } finally {
    store.close();
  }
}
