/**
 * sadpm sweep, sweep-status, sweep-cancel and sweeps (issue 16): a grid of runs over K × λ × seeds on this
 * machine's run queue or a Slurm cluster, followed until it settles (or left to run with --detach).
 */
import { parseAxisList, type SlurmOptions, type SweepRequest } from '../../shared/sweep';
import type { RunStore } from '../../store/runStore';
import { RunService } from '../../app/runService';
import { forkEngine } from '../../app/engineProcess';
import { SlurmExecutor } from '../../app/executors/slurmExecutor';
import { parseTarget } from '../../app/executors/slurm/target';
import { createSweep, submitSweep } from '../../app/useCases/createSweep';
import {
  configFromFlags,
  flagChoice,
  flagString,
  isJson,
  nonNegativeInt,
  optionalPositiveInt,
  rejectUnknown,
  splitList,
  type ParsedArgs,
} from '../args';
import { openStore } from '../storeAccess';
import { CellChanges, sweepHeader, sweepLines } from '../sweepGrid';
import { configInput } from './train';

export const SLURM_FLAGS = [
  'partition',
  'account',
  'time',
  'gpus',
  'gpu-type',
  'cpus-per-task',
  'mem',
  'ssh',
  'remote-dir',
  'cluster-sadpm',
  'slurm-conf',
];
const SWEEP_FLAGS = [
  'k',
  'lambda',
  'seeds',
  'name',
  'tags',
  'executor',
  'max-parallel',
  'detach',
  'json',
  'data-dir',
  'config',
  'run-preset',
  'poll-ms',
];

export const SWEEP_HELP = `sadpm sweep --k 1,2,3 --lambda 0,0.5,1 --seeds 0,1 [train flags: every cell's base config]
    [--name NAME] [--tags a,b] [--executor local|slurm] [--max-parallel N] [--detach] [--json]
  Slurm: [--partition P] [--account A] [--time HH:MM:SS] [--gpus N] [--gpu-type T] [--cpus-per-task N] [--mem 16G]
    [--ssh HOST --remote-dir DIR] [--cluster-sadpm 'node /path/to/sa-dpm-studio/bin/sadpm.mjs'] [--slurm-conf FILE]
  One run per cell; local cells go through this process's run queue (max-parallel at once); Slurm cells are the
  tasks of one array job (--max-parallel sets its %N). The grid is printed as cells change until every cell has
  ended; --detach returns once submitted (Slurm only): follow with 'sadpm sweep-status SWEEP --watch'.
sadpm sweep-status SWEEP [--watch] [--json]   the grid (polls Slurm and brings results home first)
sadpm sweep-cancel SWEEP                       scancel the sweep's array job
sadpm sweeps [--json]                          every sweep`;

/** The Slurm options the flags give (undefined when none). */
export function slurmFromFlags(args: ParsedArgs): SlurmOptions | undefined {
  const f = args.flags;
  const s: SlurmOptions = {};
  const str = (flag: string) => flagString(f, flag);
  if (f.has('partition')) s.partition = str('partition');
  if (f.has('account')) s.account = str('account');
  if (f.has('time')) s.time = str('time');
  if (f.has('gpu-type')) s.gpuType = str('gpu-type');
  if (f.has('mem')) s.memory = str('mem');
  if (f.has('ssh')) s.ssh = str('ssh');
  if (f.has('remote-dir')) s.remoteDir = str('remote-dir');
  if (f.has('slurm-conf')) s.slurmConf = str('slurm-conf');
  if (f.has('cluster-sadpm')) s.sadpm = str('cluster-sadpm')!.trim().split(/\s+/).filter(Boolean);
  if (f.has('gpus')) s.gpus = nonNegativeInt(args, 'gpus');
  if (f.has('cpus-per-task')) s.cpusPerTask = optionalPositiveInt(args, 'cpus-per-task');
  return Object.keys(s).length ? s : undefined;
}

/** The request the flags describe: axes from --k/--lambda/--seeds (or the base config's one value). */
export function sweepRequestFromArgs(args: ParsedArgs): SweepRequest {
  const rest = new Map(args.flags);
  for (const k of ['k', 'lambda', 'seeds', ...SWEEP_FLAGS, ...SLURM_FLAGS]) rest.delete(k);
  const { values, used } = configFromFlags(rest);
  rejectUnknown(args.flags, [...used, ...SWEEP_FLAGS, ...SLURM_FLAGS], 'sweep');
  const base = configInput({ ...args, flags: new Map([...rest, ...pick(args, ['config', 'run-preset'])]) }, values);
  const axis = (flag: string, key: string, int: boolean): number[] => {
    const v = flagString(args.flags, flag);
    if (v !== undefined) return parseAxisList(v, `--${flag}`, { int });
    if (key in base) return [Number(base[key])];
    throw new Error(`--${flag}: give the values to sweep, e.g. --${flag} ${int ? '0,1' : '0,0.5,1'}`);
  };
  const axes = { k: axis('k', 'k', true), lambda: axis('lambda', 'lambda', false), seeds: axis('seeds', 'seed', true) };
  for (const key of ['k', 'lambda', 'seed']) delete base[key];
  const executor = flagChoice(args.flags, 'executor', ['local', 'slurm'] as const, 'local');
  const slurm = slurmFromFlags(args);
  if (slurm && executor !== 'slurm') throw new Error(`--executor: Slurm flags were given; add --executor slurm`);
  return {
    name: flagString(args.flags, 'name'),
    base,
    axes,
    executor,
    maxParallel: optionalPositiveInt(args, 'max-parallel'),
    slurm,
    tags: splitList(flagString(args.flags, 'tags')),
  };
}

function pick(args: ParsedArgs, names: string[]): [string, string | true][] {
  return names.filter((n) => args.flags.has(n)).map((n) => [n, args.flags.get(n)!]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function printGrid(store: RunStore, sweepId: number, json: boolean): void {
  const sweep = store.sweeps.get(sweepId)!;
  const cells = store.sweeps.cells(sweepId);
  if (json) {
    console.log(JSON.stringify({ sweep, cells }));
    return;
  }
  console.log(sweepHeader(sweep, cells));
  for (const l of sweepLines(cells)) console.log(`  ${l}`);
}

/** 0 when every cell completed, 1 otherwise (a cell failed, was stopped or interrupted). */
function outcome(store: RunStore, sweepId: number): number {
  return store.sweeps.cells(sweepId).every((c) => c.status === 'completed') ? 0 : 1;
}

/** Follows Slurm cells until none is live in Slurm; Ctrl-C stops following (the cells go on). */
async function watchSlurm(store: RunStore, ex: SlurmExecutor, sweepId: number, pollMs: number): Promise<boolean> {
  const changes = new CellChanges();
  const runIds = new Set(
    store.sweeps
      .cells(sweepId)
      .map((c) => c.runId)
      .filter((id) => id !== null),
  );
  let interrupted = false;
  const onSigint = () => (interrupted = true);
  process.on('SIGINT', onSigint);
  try {
    for (;;) {
      await ex.tick();
      for (const l of changes.changed(store.sweeps.cells(sweepId))) process.stderr.write(`${l}\n`);
      if (!store.remote.live().some((r) => runIds.has(r.runId))) return true;
      if (interrupted) return false;
      await sleep(pollMs);
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export async function cmdSweep(args: ParsedArgs): Promise<number> {
  if (args.flags.get('help')) {
    console.log(SWEEP_HELP);
    return 0;
  }
  const req = sweepRequestFromArgs(args);
  const detach = args.flags.get('detach') === true;
  if (detach && req.executor !== 'slurm') {
    throw new Error('--detach: local cells train in this process, so it must stay; use --executor slurm to detach');
  }
  const pollMs = optionalPositiveInt(args, 'poll-ms') ?? 3000;
  const store = openStore(args);
  const runs = new RunService(store, forkEngine, { concurrency: req.maxParallel ?? 1 });
  const slurm = new SlurmExecutor(store, { pollMs });
  try {
    const created = createSweep(store, req);
    const { sweep } = created;
    process.stderr.write(
      `sweep #${sweep.id} '${sweep.name}': ${created.runs.length} runs (#${created.runs[0]!.id}` +
        `-#${created.runs.at(-1)!.id}) in ${store.layout.root}\n`,
    );
    const done = await submitSweep(store, { runs, slurm }, created);
    if (req.executor === 'slurm') {
      process.stderr.write(`submitted to Slurm as array job ${store.sweeps.get(sweep.id)!.jobId}\n`);
      if (detach) {
        printGrid(store, sweep.id, isJson(args));
        process.stderr.write(`follow it with 'sadpm sweep-status ${sweep.id} --watch'\n`);
        return 0;
      }
      const settled = await watchSlurm(store, slurm, sweep.id, pollMs);
      printGrid(store, sweep.id, isJson(args));
      if (!settled) {
        process.stderr.write(
          `stopped following; the sweep goes on in Slurm: 'sadpm sweep-status ${sweep.id} --watch'` +
            ` follows it, 'sadpm sweep-cancel ${sweep.id}' cancels it\n`,
        );
        return 130;
      }
      return outcome(store, sweep.id);
    }
    return await followLocal(store, runs, sweep.id, done);
  } finally {
    await slurm.stop();
    store.close();
  }
}

/** Local cells: status lines as they change; Ctrl-C stops the runs after a checkpoint. */
async function followLocal(store: RunStore, runs: RunService, sweepId: number, done: Promise<unknown>[]) {
  const changes = new CellChanges();
  const show = () => {
    for (const l of changes.changed(store.sweeps.cells(sweepId))) process.stderr.write(`${l}\n`);
  };
  const off = runs.onStatus(show);
  const onSigint = () => {
    process.stderr.write('\nstopping the sweep: running cells checkpoint first\n');
    void runs.shutdown();
  };
  process.on('SIGINT', onSigint);
  try {
    show();
    await Promise.all(done);
  } finally {
    off();
    process.off('SIGINT', onSigint);
  }
  printGrid(store, sweepId, false);
  return outcome(store, sweepId);
}

function requireSweep(store: RunStore, args: ParsedArgs, command: string) {
  const ref = args.positional[0];
  if (!ref) throw new Error(`sadpm ${command} SWEEP: name the sweep (its id or name; 'sadpm sweeps' lists them)`);
  const sweep = store.sweeps.find(ref);
  if (!sweep) throw new Error(`no sweep '${ref}' in ${store.layout.db} ('sadpm sweeps' lists them)`);
  return sweep;
}

export async function cmdSweepStatus(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, ['data-dir', 'watch', 'json', 'poll-ms'], 'sweep-status');
  const pollMs = optionalPositiveInt(args, 'poll-ms') ?? 3000;
  const store = openStore(args);
  const slurm = new SlurmExecutor(store, { pollMs });
  try {
    const sweep = requireSweep(store, args, 'sweep-status');
    if (sweep.executor === 'slurm') {
      if (args.flags.get('watch') === true) await watchSlurm(store, slurm, sweep.id, pollMs);
      else await slurm.tick();
    }
    printGrid(store, sweep.id, isJson(args));
    return 0;
  } finally {
    await slurm.stop();
    store.close();
  }
}

export async function cmdSweepCancel(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, ['data-dir'], 'sweep-cancel');
  const store = openStore(args);
  const slurm = new SlurmExecutor(store);
  try {
    const sweep = requireSweep(store, args, 'sweep-cancel');
    if (sweep.executor !== 'slurm' || sweep.jobId === null) {
      throw new Error(`sweep #${sweep.id} runs on the local queue: stop it where it runs (Ctrl-C in 'sadpm sweep')`);
    }
    const live = store.sweeps.cells(sweep.id).flatMap((c) => {
      const r = c.runId !== null ? store.remote.get(c.runId) : undefined;
      return r && !r.final ? [r] : [];
    });
    if (live.length === 0) {
      console.log(`sweep #${sweep.id}: no cell is in Slurm any more`);
      return 0;
    }
    // The sweep's array job, and the one-task jobs of cells resumed since.
    const jobs = new Map(live.map((r) => [r.jobId, r]));
    for (const [jobId, r] of jobs) await slurm.cancelJob(jobId, parseTarget(r.target, r.runId));
    console.log(`scancel ${[...jobs.keys()].join(' ')}: the sweep's cells stop (each checkpoints first)`);
    return 0;
  } finally {
    await slurm.stop();
    store.close();
  }
}

export function cmdSweeps(args: ParsedArgs): number {
  rejectUnknown(args.flags, ['data-dir', 'json'], 'sweeps');
  const store = openStore(args);
  try {
    const sweeps = store.sweeps.list();
    if (isJson(args)) console.log(JSON.stringify(sweeps));
    else if (sweeps.length === 0) console.log("no sweeps yet: start one with 'sadpm sweep'");
    else for (const s of sweeps) console.log(sweepHeader(s, store.sweeps.cells(s.id)));
    return 0;
  } finally {
    store.close();
  }
}
