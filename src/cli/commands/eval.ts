/**
 * sadpm eval and sadpm study (issue 12): FID, KID, IS and precision/recall of a checkpoint at several sampling-step
 * counts, and the SA-vs-baseline study with its report, through the same use cases as the app.
 */
import { SAMPLER_NAMES, SPACINGS } from '../../shared/config';
import { EVAL_METRICS, type EvalMetric } from '../../shared/engineMessages';
import {
  samplerLabel,
  type EvalOutcome,
  type EvalSettingsInput,
  type Study,
  type StudyReport,
} from '../../shared/evaluation';
import { forkEngine } from '../../app/engineProcess';
import { runCheckpoint } from '../../app/useCases/checkpointTarget';
import { evaluateCheckpoint } from '../../app/useCases/evaluate';
import { runStudyReport } from '../../app/useCases/studyReport';
import { chooseInceptionWeights } from '../../app/settings';
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
import { printTable } from '../table';
import { VARIANCE_FLAGS, describeVariance, varianceFromFlags } from '../varianceFlags';
import { openStore } from '../storeAccess';
import type { RunStore } from '../../store/runStore';

const DEFAULT_STEPS = [10, 20, 50, 100];

function metricsFlag(args: ParsedArgs, pixel: boolean): EvalMetric[] {
  const raw = flagString(args.flags, 'metrics');
  if (raw === undefined) return pixel ? ['fid', 'kid', 'pr'] : ['fid', 'kid', 'is', 'pr'];
  const list = splitList(raw);
  const bad = list.filter((m) => !(EVAL_METRICS as readonly string[]).includes(m));
  if (bad.length || list.length === 0) {
    throw new Error(`--metrics: expected a comma-separated list of ${EVAL_METRICS.join(', ')}, got '${raw}'`);
  }
  return [...new Set(list)] as EvalMetric[];
}

function stepsFlag(args: ParsedArgs, fallback: number[]): number[] {
  const raw = flagString(args.flags, 'steps');
  if (raw === undefined) return fallback;
  const list = splitList(raw).map(Number);
  if (list.length === 0 || list.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new Error(`--steps: expected comma-separated positive integers like 10,20,50,100, got '${raw}'`);
  }
  return list;
}

/**
 * The evaluation settings the flags give (the feature space decides the default metrics), and a variance
 * sampler's --cov-head-file (a file, which the app's requests never carry).
 */
function evalSettings(
  args: ParsedArgs,
  store: RunStore,
  stepsFallback: number[],
): EvalSettingsInput & {
  covHeadFile?: string;
} {
  const inception = flagString(args.flags, 'inception');
  const pixel = chooseInceptionWeights(store.layout.root, inception).path === null;
  const sampler = flagChoice(args.flags, 'sampler', SAMPLER_NAMES, 'ddim');
  const { covHeadFile, ...variance } = varianceFromFlags(args, sampler);
  const given = Object.fromEntries(Object.entries(variance).filter(([, v]) => v !== undefined));
  return {
    ema: args.flags.get('ema') === true,
    metrics: metricsFlag(args, pixel),
    n: args.flags.has('n') ? positiveInt(args, 'n') : 10_000,
    sampler,
    ...(Object.keys(given).length ? { variance: given } : {}),
    ...(covHeadFile ? { covHeadFile } : {}),
    steps: stepsFlag(args, stepsFallback),
    spacing: flagChoice(args.flags, 'spacing', SPACINGS, 'uniform'),
    eta: flagNumber(args.flags, 'eta', 0),
    seed: flagNumber(args.flags, 'seed', 0),
    refN: optionalPositiveInt(args, 'ref-n'),
    batchSize: optionalPositiveInt(args, 'batch'),
  };
}

const fmt = (v: number | null, digits = 4) => (v === null ? '-' : Number(v.toPrecision(digits)).toString());
const pm = (v: number | null, s: number | null) => (v === null ? '-' : `${fmt(v)} ± ${fmt(s, 2)}`);

/** The terminal table of an evaluation: a row per step count, a column per metric, the space in every header. */
export function printEvalTable(o: EvalOutcome): void {
  const tag = o.featureSpace === 'pixel' ? '[pixel]' : '';
  const cols: { head: string; cell: (r: EvalOutcome['rows'][number]) => string }[] = [
    { head: 'steps', cell: (r) => String(r.sampleSteps) },
  ];
  if (o.metrics.includes('fid')) cols.push({ head: `FID${tag}`, cell: (r) => fmt(r.fid) });
  if (o.metrics.includes('kid')) cols.push({ head: `KID${tag}`, cell: (r) => pm(r.kid, r.kidStd) });
  if (o.metrics.includes('is')) cols.push({ head: 'IS', cell: (r) => pm(r.is, r.isStd) });
  if (o.metrics.includes('pr')) {
    cols.push({ head: `precision${tag}`, cell: (r) => fmt(r.precision, 3) });
    cols.push({ head: `recall${tag}`, cell: (r) => fmt(r.recall, 3) });
  }
  cols.push({ head: 'seconds', cell: (r) => r.seconds.toFixed(1) });
  const weights = o.ema ? 'EMA' : 'raw';
  console.log(
    `run #${o.runId} ${o.runName}, checkpoint step ${o.checkpointStep} (${weights} weights), ` +
      `${o.sampler} (${o.spacing}${o.eta ? `, eta ${o.eta}` : ''}), n = ${o.n} per step count, seed ${o.seed}`,
  );
  const variance = describeVariance(o.varianceUsed);
  if (variance) console.log(`variance: ${variance}`);
  console.log(`feature space: ${o.space.label}`);
  console.log(
    `reference: ${o.refCount} dataset images (${o.refCached ? 'cached statistics' : 'computed now and cached'})`,
  );
  printTable(
    cols.map((c) => c.head),
    o.rows.map((r) => cols.map((c) => c.cell(r))),
  );
}

export async function cmdEval(args: ParsedArgs): Promise<number> {
  rejectUnknown(
    args.flags,
    [
      'data-dir',
      'json',
      'checkpoint',
      'ema',
      'metrics',
      'n',
      'sampler',
      'steps',
      'spacing',
      'eta',
      'seed',
      'inception',
      'ref-n',
      'batch',
      ...VARIANCE_FLAGS,
    ],
    'eval',
  );
  if (!args.positional[0]) throw new Error("name the run (its id or name; 'sadpm runs' lists them)");
  const store = openStore(args, { quiet: true });
  try {
    const run = store.runs.require(args.positional[0]);
    const target = runCheckpoint(store, run, checkpointFlag(args));
    const json = isJson(args);
    const { covHeadFile, ...settings } = evalSettings(args, store, DEFAULT_STEPS);
    const outcome = await evaluateCheckpoint({ store, spawn: forkEngine }, target, settings, {
      inception: flagString(args.flags, 'inception'),
      covHeadFile,
      onSpace: ({ note }) => {
        if (note && !json) process.stderr.write(`note: ${note}\n`);
      },
      onProgress: json ? undefined : (done, total) => process.stderr.write(`\r\x1b[Kimages ${done}/${total}`),
    });
    if (json) console.log(JSON.stringify(outcome, null, 2));
    else {
      process.stderr.write('\r\x1b[K');
      printEvalTable(outcome);
      console.log(`stored ${outcome.results.length} results with run #${run.id}; preview grids in ${run.runDir}/evals`);
    }
    return 0;
  } finally {
    store.close();
  }
}

function printStudy(study: Study, report: StudyReport): void {
  const [base, ...sa] = study.runs;
  console.log(
    `study: baseline #${base!.id} ${base!.name} (${base!.loss}) vs ` +
      sa.map((r) => `#${r.id} ${r.name} (${r.loss})`).join(', '),
  );
  const kinds = { refuse: 'must match', loss: 'the SA loss', warn: 'training recipe: a confound', ignore: '' };
  for (const d of study.differences.filter((x) => x.kind !== 'ignore')) {
    console.log(`differs: ${d.field} (${d.values.map((v) => `#${v.runId} ${v.value}`).join(', ')}) [${kinds[d.kind]}]`);
  }
  const g = study.gap;
  console.log(
    `\ngap from t0 = ${g.t0}, ${g.weights} weights, ${g.step === null ? "each run's latest curve" : `checkpoint step ${g.step}`}:`,
  );
  if (g.ratios.length) {
    printTable(
      ['SA run', 'final gap ratio (t=1)', 'mean ratio over t'],
      g.ratios.map((r) => [`#${r.runId}`, fmt(r.final, 3), fmt(r.mean, 3)]),
    );
    console.log(
      "(baseline mean |D_t| / SA mean |D_t|: above 1, the SA run's gap is smaller; the paper: ~2.5 for SA-2)",
    );
  } else console.log('no gap ratio: the baseline or every SA run lacks a curve with these settings');
  if (study.metrics.length) console.log(`\nmetrics (${study.spaceLabel}):`);
  for (const m of study.metrics) {
    const counts = [...new Set(m.curves.flatMap((c) => c.points.map((p) => p.sampleSteps)))].sort((a, b) => a - b);
    const tag = m.featureSpace === 'pixel' ? '[pixel]' : '';
    const line = (c: (typeof m.curves)[number]) => `#${c.runId} @${c.step} ${c.weights} ${samplerLabel(c)}`;
    const head = [`${m.metric}${tag} steps`, ...m.curves.map(line)];
    printTable(
      head,
      counts.map((k) => [
        String(k),
        ...m.curves.map((c) => fmt(c.points.find((p) => p.sampleSteps === k)?.value ?? null)),
      ]),
    );
  }
  for (const n of study.notes) console.log(`note: ${n}`);
  console.log(`\nreport: ${report.markdown} (${report.files.length} files)`);
}

export async function cmdStudy(args: ParsedArgs): Promise<number> {
  rejectUnknown(
    args.flags,
    [
      'data-dir',
      'json',
      'metrics',
      'n',
      'sampler',
      'steps',
      'spacing',
      'eta',
      'seed',
      'ema',
      'inception',
      'ref-n',
      'batch',
      'out',
      't0',
      'gap-weights',
      'measure-gap',
      'feature-space',
      ...VARIANCE_FLAGS,
    ],
    'study',
  );
  if (args.positional.length < 2)
    throw new Error('name the baseline run and at least one SA run: sadpm study BASELINE SA_RUN...');
  const store = openStore(args, { quiet: true });
  try {
    const [baselineId, ...saIds] = args.positional.map((ref) => store.runs.require(ref).id);
    const json = isJson(args);
    const evalOnly = [
      'metrics',
      'n',
      'sampler',
      'spacing',
      'eta',
      'seed',
      'ema',
      'ref-n',
      'batch',
      ...VARIANCE_FLAGS,
    ].filter((f) => args.flags.has(f));
    // A covariance run or head file belongs to one run's checkpoint: each run of a study uses its own newest head.
    const oneRun = ['cov-run', 'cov-head-file'].find((f) => args.flags.has(f));
    if (oneRun) {
      throw new Error(
        `--${oneRun}: a study evaluates several runs, each with its own newest completed head; ` +
          'evaluate a run with a chosen head by sadpm eval RUN --cov-run COVRUN',
      );
    }
    if (evalOnly.length && !args.flags.has('steps')) {
      throw new Error(
        `--${evalOnly[0]} sets the evaluation of missing step counts: give --steps too (e.g. --steps 10,20,50,100)`,
      );
    }
    const evaluate = args.flags.has('steps') ? evalSettings(args, store, DEFAULT_STEPS) : undefined;
    const report = await runStudyReport(
      { store, spawn: forkEngine },
      {
        baselineId: baselineId!,
        saIds,
        t0: optionalPositiveInt(args, 't0'),
        gapEma: flagChoice(args.flags, 'gap-weights', ['raw', 'ema'] as const, 'raw') === 'ema',
        measureMissing: flagChoice(args.flags, 'measure-gap', ['missing', 'none'] as const, 'missing') === 'missing',
        featureSpace: args.flags.has('feature-space')
          ? flagChoice(args.flags, 'feature-space', ['inception', 'pixel'] as const, 'pixel')
          : undefined,
        evaluate,
      },
      {
        out: flagString(args.flags, 'out'),
        inception: flagString(args.flags, 'inception'),
        onStage: json ? undefined : (s) => process.stderr.write(`\r\x1b[K${s}\n`),
        onProgress: json ? undefined : (done, total) => process.stderr.write(`\r\x1b[K${done}/${total}`),
      },
    );
    if (json) console.log(JSON.stringify(report, null, 2));
    else {
      process.stderr.write('\r\x1b[K');
      printStudy(report.study, report);
    }
    return 0;
  } finally {
    store.close();
  }
}
