/**
 * sadpm: the headless front door. Each command turns flags into a call of the application layer's use cases
 * (src/app) and prints the outcome; the desktop app and web mode call the same use cases through the contract.
 */
import { configFields, kebab, parseArgs, type ParsedArgs } from './args';
import { FieldError } from '../shared/errors';
import { RUN_PRESETS } from '../shared/config';
import { cmdTrain, cmdResume } from './commands/train';
import { cmdRuns, cmdShow, cmdPrune, cmdTag } from './commands/runs';
import { cmdDatasets, cmdImport } from './commands/data';
import { cmdExport } from './commands/export';
import { cmdSample, cmdGap } from './commands/sample';
import { cmdInfo } from './commands/info';
import { cmdServe } from './commands/serve';
import { cmdEval, cmdStudy } from './commands/eval';
import { cmdGamma, cmdTrainCov } from './commands/variance';
import { cmdSweep, cmdSweepCancel, cmdSweepStatus, cmdSweeps } from './commands/sweep';
import { cmdStrip } from './commands/strip'; // issue 12/15

const HELP = `sadpm — SA-DPM Studio's command line: train, sample and measure diffusion models with the
Sequence-Aware (SA) loss of "On Inference Stability for Diffusion Models" (AAAI 2024).

Commands (RUN is a run's id or name; every run is recorded in the run store)
  sadpm train [flags]        train a model (one flag per config field, see 'sadpm train --help')
  sadpm resume RUN [--steps N]          continue a stopped, interrupted or finished run
  sadpm runs [--status S,S] [--tag T] [--dataset D] [--k N] [--lambda X] [--T N] [--search TEXT]
  sadpm show RUN             config, status, checkpoints, samples, gap and disk use of a run
  sadpm sample RUN [--checkpoint latest|STEP] [--ema] [--n 64] [--sampler ddim|ddpm|analytic-*|npr-*|sn-*]
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
  sadpm eval RUN [--checkpoint latest|STEP] [--ema] [--metrics fid,kid,is,pr] [--n 10000]
               [--sampler ddim|ddpm|analytic-*|npr-*|sn-* (their flags as for sample, below)]
               [--steps 10,20,50,100] [--inception FILE] [--ref-n N] [--seed 0] [--batch N]
               FID/KID/IS/precision-recall per sampling-step count, stored with the run; without Inception
               weights (--inception, SADPM_INCEPTION_WEIGHTS or the app's Settings) in a labelled pixel space
  sadpm study BASELINE SA_RUN... [--t0 N] [--gap-weights raw|ema] [--measure-gap missing|none]
               [--steps 10,20,50,100 --n N --metrics ... (evaluate missing step counts)] [--out DIR]
               the gap ratio baseline/SA per t and the metric-vs-steps table; a report folder (Markdown, PNG, CSV)
  sadpm info [--backend auto|webgpu|tensorflow|cpu]
Reverse-variance samplers (issue 13): analytic-ddpm, analytic-ddim (Analytic-DPM's Γ, estimated once per checkpoint,
weights, images and seed, and cached), npr-ddpm, npr-ddim, sn-ddpm, sn-ddim (a covariance head, a child run):
  sadpm sample RUN --sampler analytic-ddim [--gamma-images N (default: every training image)] [--gamma-seed 0]
  sadpm sample RUN --sampler npr-ddpm [--cov-run COVRUN (default: the newest completed NPR head that fits)]
               [--cov-head-file FILE.sadpm-cov (instead of --cov-run; e.g. with --run-dir)]
  sadpm gamma RUN [--checkpoint S] [--ema] --steps 10,25,50 [--spacing uniform] [--n N] [--seed 0]
  sadpm train-cov RUN [--checkpoint S] [--ema] --kind npr|sn --steps N [--batch 128] [--lr 1e-4]
               [--checkpoint-every 5000] [--log-every 10] [--seed 0] [--name NAME]  (resume: sadpm resume COVRUN)
  sadpm sweep --k 1,2 --lambda 0,0.5,1 --seeds 0,1 [train flags] [--executor local|slurm] [--max-parallel N]
              [--partition P --account A --time HH:MM:SS --gpus N --ssh HOST --remote-dir DIR] [--detach]
  sadpm sweep-status SWEEP [--watch]    sadpm sweep-cancel SWEEP    sadpm sweeps   ('sadpm sweep --help')
Samples over training (issue 12/15): the same noise at every checkpoint, rows = noise image, columns = step:
  sadpm strip RUN [--n 8] [--seed 0] [--sampler ddim|ddpm|analytic-*|npr-*|sn-*] [--steps 50] [--ema|--raw]
               [--every K | --checkpoints S,S] [--spacing uniform] [--eta 0] [--out FILE.png]
               checkpoints already sampled with the same settings are reused; default EMA weights
The store lives in the platform's app-data folder; --data-dir DIR or SADPM_HOME=DIR puts it elsewhere.
Add --json to train/resume/sample/gap for one JSON engine message per line on stdout, and to
runs/show/datasets/export/prune/eval/study for JSON output.`;

function trainHelp(): string {
  const lines = configFields().map((f) => {
    const kinds: Partial<Record<string, string>> = { numberList: 'n,n,...', boolean: '(alone) or =true|false' };
    const kind = f.kind === 'enum' ? f.values!.join('|') : (kinds[f.kind] ?? f.kind);
    return `  --${f.flag.padEnd(18)} ${kind.padEnd(26)} ${f.description}`;
  });
  return [
    'sadpm train [--config run.json] [--run-preset demo|quick-cpu|official-cifar10|official-celeba64] [flags]',
    "  --run-dir DIR        where checkpoints, samples and gap curves go (default: the store's runs/<id>-<name>)",
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
  // issue 12
  eval: cmdEval,
  study: cmdStudy,
  // Issue 13: Γ estimates and covariance heads.
  gamma: cmdGamma,
  'train-cov': cmdTrainCov,
  // issue 16: sweeps, local or on Slurm
  sweep: cmdSweep,
  'sweep-status': cmdSweepStatus,
  'sweep-cancel': cmdSweepCancel,
  sweeps: cmdSweeps,
  // issue 12/15: one fixed noise at every checkpoint, a strip over training
  strip: cmdStrip,
};

/** An error as the terminal shows it: a use case's bad field is named as the flag that set it. */
function describeError(err: unknown): string {
  if (err instanceof FieldError)
    return `--${kebab(err.field)}${err.value !== undefined ? ` ${err.value}` : ''}: ${err.detail}`;
  return (err as Error).message;
}

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
  if (args.flags.get('help') === true && args.command !== 'train' && args.command !== 'sweep') {
    console.log(HELP);
    return 0;
  }
  try {
    return await fn(args);
  } catch (err) {
    const message = describeError(err);
    // Some messages already say which command they are about ('sadpm tag RUN TAG...: name the run').
    console.error(message.startsWith(`sadpm ${args.command}`) ? message : `sadpm ${args.command}: ${message}`);
    if (process.env.SADPM_DEBUG) console.error((err as Error).stack);
    return 1;
  }
}
