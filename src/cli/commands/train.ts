/** sadpm train and sadpm resume: a run through the store and an engine process, with a progress bar. */
import { readFileSync } from 'node:fs';
import { RUN_PRESETS, unknownConfigFields, BACKENDS, type Backend } from '../../shared/config';
import { EngineMessageSchema } from '../../shared/engineMessages';
import type { RetentionPolicy } from '../../shared/records';
import type { RunStore } from '../../store/runStore';
import { RunService } from '../../app/runService';
import { forkEngine } from '../../app/engineProcess';
import { adoptCheckpoints, describeAdoption } from '../../app/recovery';
import { createRun } from '../../app/useCases/createRun';
import { prepareResume } from '../../app/useCases/resumeRun';
import {
  configFromFlags,
  flagChoice,
  flagString,
  isJson,
  positiveInt,
  rejectUnknown,
  splitList,
  type ParsedArgs,
} from '../args';
import { humanSink, jsonSink } from '../progress';
import { openStore, runRef } from '../storeAccess';

const RETENTION_FLAGS = ['keep-last', 'keep-every', 'keep-best'];

export function retentionFromFlags(args: ParsedArgs): RetentionPolicy | undefined {
  const p: RetentionPolicy = {};
  if (args.flags.has('keep-last')) p.keepLast = positiveInt(args, 'keep-last');
  if (args.flags.has('keep-every')) p.milestoneEvery = positiveInt(args, 'keep-every');
  const best = flagString(args.flags, 'keep-best');
  if (best) p.bestBy = best;
  return Object.keys(p).length ? p : undefined;
}

/** The partial config the flags describe: run preset, then --config FILE, then one flag per field. */
export function configInput(args: ParsedArgs, values: Record<string, unknown>): Record<string, unknown> {
  let input: Record<string, unknown> = {};
  const runPreset = flagString(args.flags, 'run-preset');
  if (runPreset) {
    const p = RUN_PRESETS[runPreset];
    if (!p) {
      throw new Error(`--run-preset: unknown '${runPreset}' (expected one of ${Object.keys(RUN_PRESETS).join(', ')})`);
    }
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
    const unknown = unknownConfigFields(fromFile as Record<string, unknown>);
    if (unknown.length > 0) {
      throw new Error(`--config ${configPath}: ${unknown.map((u) => u.message).join('; ')}; nothing was started`);
    }
    input = { ...input, ...(fromFile as Record<string, unknown>) };
  }
  return { ...input, ...values };
}

/** Runs one run through the engine process, printing its messages; Ctrl-C stops it cleanly. */
export async function drive(store: RunStore, runId: number, args: ParsedArgs, resume: boolean): Promise<number> {
  const sink = isJson(args) ? jsonSink() : humanSink();
  const service = new RunService(store, forkEngine);
  service.onMessage((_id, msg) => {
    const m = EngineMessageSchema.safeParse(msg);
    if (m.success) sink(m.data);
  });
  let hits = 0;
  const onSigint = () => {
    hits += 1;
    if (hits > 1) process.exit(130);
    process.stderr.write(
      '\nstopping after this step (a checkpoint is written first); press Ctrl-C again to quit now\n',
    );
    service.stop(runId);
  };
  const onSigterm = () => service.stop(runId);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  const outcome = await service.enqueue(runId, { resume });
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
  const run = store.runs.get(runId)!;
  if (!isJson(args)) {
    process.stderr.write(`run #${run.id} ${outcome.status} at step ${run.step}/${run.totalSteps} (${run.runDir})\n`);
  }
  if (outcome.status === 'completed') return 0;
  if (outcome.status === 'stopped' || outcome.status === 'paused') return 130;
  throw new Error(`run #${run.id} ${outcome.status}: ${outcome.reason ?? 'no reason given'}`);
}

export async function cmdTrain(args: ParsedArgs, help: () => string): Promise<number> {
  if (args.flags.get('help')) {
    console.log(help());
    return 0;
  }
  const { values, used } = configFromFlags(args.flags);
  const allowed = [...used, 'data-dir', 'config', 'run-preset', 'run-dir', 'json', 'tags', 'notes', ...RETENTION_FLAGS];
  rejectUnknown(args.flags, allowed, 'train');
  const config = configInput(args, values);
  const retention = retentionFromFlags(args);
  const store = openStore(args);
  try {
    const run = createRun(store, {
      config,
      tags: splitList(flagString(args.flags, 'tags')),
      notes: flagString(args.flags, 'notes') ?? '',
      retention,
      runDir: flagString(args.flags, 'run-dir'),
    });
    if (!isJson(args)) process.stderr.write(`run #${run.id} '${run.name}' in ${store.layout.root}\n`);
    return await drive(store, run.id, args, false);
  } finally {
    store.close();
  }
}

export async function cmdResume(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, ['data-dir', 'run-dir', 'steps', 'json', 'backend'], 'resume');
  const steps = args.flags.has('steps') ? positiveInt(args, 'steps') : undefined;
  const backend: Backend | undefined = args.flags.has('backend')
    ? flagChoice(args.flags, 'backend', BACKENDS, 'auto')
    : undefined;
  const store = openStore(args);
  try {
    const id = runRef(args, store);
    // Said here so the user sees it; prepareResume adopts again (a no-op by then) for the app's path.
    const adoption = adoptCheckpoints(store, store.runs.get(id)!);
    for (const line of describeAdoption(id, adoption)) process.stderr.write(`${line}\n`);
    prepareResume(store, store.runs.get(id)!, { steps, backend });
    return await drive(store, id, args, true);
  } finally {
    store.close();
  }
}
