/**
 * Commands that go through the run store: train, resume, runs, show, export, prune, tag,
 * datasets and import into the library.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configFromFlags, flagChoice, flagNumber, flagString, rejectUnknown, type ParsedArgs } from './args';
import { humanSink, jsonSink, fmtBytes } from './progress';
import { openStore, runRef } from './storeAccess';
import { parseRunConfig, resolveRunConfig, RUN_PRESETS, unknownConfigFields, type RunConfig } from '../shared/config';
import { CLASS_MODES, EngineMessageSchema, IMPORT_FORMATS, type EngineSink } from '../shared/engineMessages';
import { RUN_STATUSES, type RetentionPolicy, type RunFilter, type RunRecord, type RunStatus } from '../shared/records';
import type { RunStore } from '../store/runStore';
import { exportBundle, exportMetrics } from '../store/export';
import { RunService, type RunOutcome } from '../app/runService';
import { adoptCheckpoints, describeAdoption } from '../app/recovery';
import { forkEngine } from '../app/engineProcess';
import { importIntoLibrary, resolveDatasetRef } from '../app/datasetLibrary';
import { appVersion } from '../app/appVersion';
import { readPackedHeader } from '../engine/data/packed';
import { findBuiltin } from '../engine/data/builtin';

const STORE_FLAGS = ['data-dir'];

function sinkFor(args: ParsedArgs): EngineSink {
  return args.flags.get('json') === true ? jsonSink() : humanSink();
}

/** Image size and channels of a dataset spec, without loading pixels where possible. */
function datasetDims(spec: string): { size: number; channels: number } {
  if (spec.startsWith('builtin:')) {
    const b = findBuiltin(spec.slice('builtin:'.length));
    return { size: b.size, channels: b.channels };
  }
  const h = readPackedHeader(spec);
  return { size: h.height, channels: h.channels };
}

function retentionFromFlags(args: ParsedArgs): RetentionPolicy | undefined {
  const p: RetentionPolicy = {};
  if (args.flags.has('keep-last')) p.keepLast = positiveInt(args, 'keep-last');
  if (args.flags.has('keep-every')) p.milestoneEvery = positiveInt(args, 'keep-every');
  const best = flagString(args.flags, 'keep-best');
  if (best) p.bestBy = best;
  return Object.keys(p).length ? p : undefined;
}

function positiveInt(args: ParsedArgs, flag: string): number {
  const v = flagNumber(args.flags, flag, NaN);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${flag}: expected a positive integer, got '${flagString(args.flags, flag)}'`);
  return v;
}

function splitList(v: string | undefined): string[] {
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

/** Runs one run through the engine process, printing its messages; Ctrl-C stops it cleanly. */
async function drive(store: RunStore, runId: number, args: ParsedArgs, resume: boolean): Promise<number> {
  const sink = sinkFor(args);
  const service = new RunService(store, forkEngine);
  service.onMessage((_id, msg) => {
    const m = EngineMessageSchema.safeParse(msg);
    if (m.success) sink(m.data);
  });
  let hits = 0;
  const onSigint = () => {
    hits += 1;
    if (hits === 1) {
      process.stderr.write('\nstopping after this step (a checkpoint is written first); press Ctrl-C again to quit now\n');
      service.stop(runId);
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', () => service.stop(runId));
  const outcome: RunOutcome = await service.enqueue(runId, { resume });
  process.off('SIGINT', onSigint);
  const run = store.getRun(runId)!;
  if (args.flags.get('json') !== true) process.stderr.write(`run #${run.id} ${outcome.status} at step ${run.step}/${run.totalSteps} (${run.runDir})\n`);
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
  rejectUnknown(args.flags, [...used, ...STORE_FLAGS, 'config', 'run-preset', 'run-dir', 'json', 'tags', 'notes', 'keep-last', 'keep-every', 'keep-best'], 'train');
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
    const unknown = unknownConfigFields(fromFile as Record<string, unknown>);
    if (unknown.length > 0) {
      throw new Error(`--config ${configPath}: ${unknown.map((u) => u.message).join('; ')}; nothing was started`);
    }
    input = { ...input, ...(fromFile as Record<string, unknown>) };
  }
  input = { ...input, ...values };
  const retention = retentionFromFlags(args);
  const store = openStore(args);
  try {
    const { spec, datasetId } = resolveDatasetRef(store, String(input.dataset ?? 'builtin:shapes'));
    input.dataset = spec;
    // A model preset supplies sizes; the dataset decides image size and channels unless given.
    if (input.imageSize === undefined || input.channels === undefined) {
      const dims = datasetDims(spec);
      input.imageSize ??= dims.size;
      input.channels ??= dims.channels;
    }
    const cfg = resolveRunConfig(input);
    const runDirFlag = flagString(args.flags, 'run-dir');
    const runDir = runDirFlag ? resolve(runDirFlag) : undefined;
    if (runDir && (store.runByDir(runDir) || existsSync(join(runDir, 'config.json')))) {
      const owner = store.runByDir(runDir);
      throw new Error(`--run-dir ${runDir} already holds a run${owner ? ` (#${owner.id}); continue it with 'sadpm resume ${owner.id}'` : ''}, or choose another folder`);
    }
    const run = store.createRun({
      name: cfg.name || defaultRunName(cfg),
      config: cfg,
      datasetId,
      runDir,
      tags: splitList(flagString(args.flags, 'tags')),
      notes: flagString(args.flags, 'notes') ?? '',
      retention,
      appVersion: appVersion(),
    });
    if (args.flags.get('json') !== true) process.stderr.write(`run #${run.id} '${run.name}' in ${store.layout.root}\n`);
    return await drive(store, run.id, args, false);
  } finally {
    store.close();
  }
}

function defaultRunName(cfg: RunConfig): string {
  return `${cfg.preset}-${cfg.lambda > 0 && cfg.k >= 2 ? `sa${cfg.k}-l${cfg.lambda}` : 'ddpm'}`;
}

export async function cmdResume(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, [...STORE_FLAGS, 'run-dir', 'steps', 'json', 'backend'], 'resume');
  const store = openStore(args);
  try {
    const id = runRef(args, store);
    // Before the checks below read the latest checkpoint: one that reached the disk but not the store counts.
    const adoption = adoptCheckpoints(store, store.getRun(id)!);
    for (const line of describeAdoption(id, adoption)) process.stderr.write(`${line}\n`);
    const run = store.getRun(id)!;
    const steps = flagString(args.flags, 'steps');
    const backend = flagString(args.flags, 'backend');
    if (steps !== undefined || backend !== undefined) {
      const cfg = parseRunConfig({ ...run.config, ...(steps !== undefined ? { steps: Number(steps) } : {}), ...(backend ? { backend } : {}) });
      const ck = store.latestCheckpoint(id);
      if (ck && cfg.steps <= ck.step) throw new Error(`--steps ${cfg.steps}: run #${id} already reached step ${ck.step}; give N > ${ck.step}`);
      // Checked before anything is stored, so a refused resume leaves the run as it was.
      new RunService(store, forkEngine).assertResumable({ ...run, totalSteps: cfg.steps });
      store.updateConfig(id, cfg);
    }
    return await drive(store, id, args, true);
  } finally {
    store.close();
  }
}

function filterFromFlags(args: ParsedArgs): RunFilter {
  const f: RunFilter = {};
  const status = splitList(flagString(args.flags, 'status'));
  for (const s of status) {
    if (!(RUN_STATUSES as readonly string[]).includes(s)) throw new Error(`--status: '${s}' is not a run status (expected ${RUN_STATUSES.join(', ')})`);
  }
  if (status.length) f.status = status as RunStatus[];
  const tags = splitList(flagString(args.flags, 'tag') ?? flagString(args.flags, 'tags'));
  if (tags.length) f.tags = tags;
  if (args.flags.has('k')) f.k = positiveInt(args, 'k');
  if (args.flags.has('T')) f.T = positiveInt(args, 'T');
  if (args.flags.has('lambda')) {
    const l = flagNumber(args.flags, 'lambda', NaN);
    if (!Number.isFinite(l)) throw new Error(`--lambda: expected a number, got '${flagString(args.flags, 'lambda')}'`);
    f.lambda = l;
  }
  const text = flagString(args.flags, 'search');
  if (text) f.text = text;
  f.limit = args.flags.has('limit') ? positiveInt(args, 'limit') : 50;
  return f;
}

export function cmdRuns(args: ParsedArgs): number {
  rejectUnknown(args.flags, [...STORE_FLAGS, 'status', 'tag', 'tags', 'dataset', 'k', 'lambda', 'T', 'search', 'limit', 'json'], 'runs');
  const store = openStore(args);
  try {
    const f = filterFromFlags(args);
    const ds = flagString(args.flags, 'dataset');
    if (ds) {
      const rec = store.findDataset(ds);
      if (!rec) throw new Error(`--dataset '${ds}': no such dataset in the library (see 'sadpm datasets')`);
      f.datasetId = rec.id;
    }
    const runs = store.listRuns(f);
    if (args.flags.get('json') === true) {
      console.log(JSON.stringify(runs));
      return 0;
    }
    const total = store.countRuns({ ...f, limit: undefined });
    if (runs.length === 0) {
      console.log(total === 0 && !Object.keys(f).some((k) => k !== 'limit') ? "no runs yet: start one with 'sadpm train'" : 'no runs match');
      return 0;
    }
    const rows = runs.map((r) => [
      `#${r.id}`,
      r.name,
      r.status,
      `${r.step}/${r.totalSteps}`,
      r.k >= 2 && r.lambda > 0 ? `SA-${r.k} λ=${r.lambda}` : 'DDPM',
      `T=${r.T}`,
      shortDataset(r),
      r.lastLoss === null ? '-' : r.lastLoss.toPrecision(4),
      r.tags.join(','),
      r.createdAt.slice(0, 16).replace('T', ' '),
    ]);
    printTable(['id', 'name', 'status', 'step', 'loss fn', 'T', 'dataset', 'loss', 'tags', 'created'], rows);
    if (total > runs.length) console.log(`(${runs.length} of ${total}; --limit N for more)`);
    return 0;
  } finally {
    store.close();
  }
}

function shortDataset(r: RunRecord): string {
  return r.dataset.startsWith('builtin:') ? r.dataset : (r.dataset.split(/[\\/]/).pop() ?? r.dataset);
}

function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(fmt(head));
  for (const r of rows) console.log(fmt(r));
}

export function cmdShow(args: ParsedArgs): number {
  rejectUnknown(args.flags, [...STORE_FLAGS, 'run-dir', 'json'], 'show');
  const store = openStore(args);
  try {
    const id = runRef(args, store);
    const run = store.getRun(id)!;
    const cks = store.checkpoints(id);
    const samples = store.samples(id);
    const gaps = store.gapCurves(id);
    const disk = store.diskUse(id);
    const names = store.metricNames(id);
    if (args.flags.get('json') === true) {
      console.log(JSON.stringify({ run, checkpoints: cks, samples, gap: gaps.at(-1) ?? null, disk, metrics: names, retention: store.retentionOf(id) }));
      return 0;
    }
    const c = run.config as Record<string, unknown>;
    console.log(`run #${run.id} '${run.name}': ${run.status}${run.failureReason ? ` (${run.failureReason})` : ''}`);
    console.log(`  step ${run.step}/${run.totalSteps}, last loss ${run.lastLoss ?? '-'}, backend ${run.adapter ?? '-'}`);
    console.log(`  loss: ${run.k >= 2 && run.lambda > 0 ? `SA-${run.k}, λ=${run.lambda}, τ ${c.tau}` : 'plain DDPM'}; T=${run.T} ${c.schedule}; model ${run.preset} (ch ${c.ch}, mult ${String(c.chMult)}); batch ${c.batch}, lr ${c.lr}, EMA ${c.emaDecay}, seed ${run.seed}`);
    console.log(`  dataset: ${run.dataset}${run.datasetId !== null ? ` (library #${run.datasetId})` : ''}`);
    console.log(`  created ${run.createdAt}, started ${run.startedAt ?? '-'}, ended ${run.endedAt ?? '-'}, app ${run.appVersion}`);
    if (run.tags.length) console.log(`  tags: ${run.tags.join(', ')}`);
    if (run.notes) console.log(`  notes: ${run.notes}`);
    console.log(`  folder: ${run.runDir} (${fmtBytes(disk.total)}: checkpoints ${fmtBytes(disk.checkpoints)}, samples ${fmtBytes(disk.samples)})`);
    console.log(`  metrics: ${names.join(', ') || '-'}`);
    console.log(`  checkpoints (${cks.length}): ${cks.map((k) => `${k.step}`).join(', ') || '-'}`);
    for (const s of samples.slice(-5)) console.log(`  samples step ${s.step}: ${s.n} × ${s.sampler}${s.sampleSteps}${s.ema ? ' EMA' : ''} seed ${s.seed ?? '-'}: ${s.path}`);
    const g = gaps.at(-1);
    if (g) console.log(`  gap at step ${g.step} (t0=${g.t0}): final mean |D| ${g.meanAbs.at(-1)?.toExponential(3)}`);
    const ret = store.retentionOf(id);
    if (ret) console.log(`  retention: ${JSON.stringify(ret)}`);
    return 0;
  } finally {
    store.close();
  }
}

export async function cmdExport(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, [...STORE_FLAGS, 'run-dir', 'format', 'out', 'checkpoints', 'json'], 'export');
  const store = openStore(args);
  try {
    const id = runRef(args, store);
    const run = store.getRun(id)!;
    const format = flagString(args.flags, 'format') ?? 'csv';
    if (!['csv', 'json', 'bundle'].includes(format)) throw new Error(`--format: expected csv, json or bundle, got '${format}'`);
    const ext = format === 'bundle' ? 'tar.gz' : format;
    const out = resolve(flagString(args.flags, 'out') ?? join(store.layout.exports, `run-${run.id}-${run.name.replace(/[^A-Za-z0-9_.-]+/g, '_')}.${format === 'bundle' ? '' : 'metrics.'}${ext}`.replace('..', '.')));
    let bytes: number;
    let detail = '';
    if (format === 'bundle') {
      const ckFlag = flagString(args.flags, 'checkpoints') ?? 'latest';
      const which = ckFlag === 'all' || ckFlag === 'latest' || ckFlag === 'none' ? ckFlag : splitList(ckFlag).map((s) => {
        const n = Number(s);
        if (!Number.isInteger(n)) throw new Error(`--checkpoints: expected latest, all, none or steps like 1000,2000; got '${s}'`);
        return n;
      });
      const res = await exportBundle(store, id, out, { checkpoints: which });
      bytes = res.bytes;
      detail = ` (${res.entries.length} files)`;
    } else {
      bytes = exportMetrics(store, id, out, format as 'csv' | 'json');
    }
    if (args.flags.get('json') === true) console.log(JSON.stringify({ out, bytes }));
    else console.log(`exported run #${id} ${format}${detail}: ${out} (${fmtBytes(bytes)})`);
    return 0;
  } finally {
    store.close();
  }
}

export function cmdPrune(args: ParsedArgs): number {
  rejectUnknown(args.flags, [...STORE_FLAGS, 'run-dir', 'keep-last', 'keep-every', 'keep-best', 'yes', 'json'], 'prune');
  const store = openStore(args);
  try {
    const id = runRef(args, store);
    const policy = retentionFromFlags(args) ?? store.retentionOf(id);
    if (!policy) throw new Error(`run #${id} has no retention policy: give --keep-last N, --keep-every M and/or --keep-best METRIC`);
    const plan = args.flags.get('yes') === true ? store.prune(id, policy) : store.planPrune(id, policy);
    if (args.flags.get('json') === true) {
      console.log(JSON.stringify({ deleted: args.flags.get('yes') === true, ...plan }));
      return 0;
    }
    for (const k of plan.keep) console.log(`keep   step ${k.checkpoint.step} (${k.why.join(', ')})`);
    for (const r of plan.remove) console.log(`${args.flags.get('yes') === true ? 'delete' : 'would delete'} step ${r.step} ${fmtBytes(r.bytes)} ${r.path}`);
    if (args.flags.get('yes') === true) console.log(`deleted ${plan.remove.length} checkpoint(s), freed ${fmtBytes(plan.freedBytes)}`);
    else console.log(plan.remove.length ? `${plan.remove.length} checkpoint(s), ${fmtBytes(plan.freedBytes)}: run again with --yes to delete them` : 'nothing to delete');
    return 0;
  } finally {
    store.close();
  }
}

export function cmdTag(args: ParsedArgs): number {
  rejectUnknown(args.flags, [...STORE_FLAGS, 'remove', 'notes'], 'tag');
  const store = openStore(args);
  try {
    const [ref, ...tags] = args.positional;
    if (!ref) throw new Error('sadpm tag RUN TAG...: name the run');
    const run = store.requireRun(ref);
    const next = args.flags.get('remove') === true ? run.tags.filter((t) => !tags.includes(t)) : [...new Set([...run.tags, ...tags])];
    store.setTags(run.id, next);
    const notes = flagString(args.flags, 'notes');
    if (notes !== undefined) store.setNotes(run.id, notes);
    console.log(`run #${run.id} tags: ${next.join(', ') || '-'}${notes !== undefined ? `; notes: ${notes}` : ''}`);
    return 0;
  } finally {
    store.close();
  }
}

export function cmdDatasets(args: ParsedArgs): number {
  rejectUnknown(args.flags, [...STORE_FLAGS, 'json'], 'datasets');
  const store = openStore(args);
  try {
    const list = store.listDatasets();
    if (args.flags.get('json') === true) {
      console.log(JSON.stringify(list));
      return 0;
    }
    if (list.length === 0) {
      console.log("no datasets in the library yet: 'sadpm import PATH' adds one (runs can also use builtin:shapes)");
      return 0;
    }
    printTable(
      ['id', 'name', 'images', 'shape', 'format', 'classes', 'size', 'checksum'],
      list.map((d) => [`#${d.id}`, d.name, String(d.count), `${d.height}x${d.width}x${d.channels}`, d.format, d.classCounts ? String(d.classCounts.length) : '-', fmtBytes(d.bytes), d.checksum.slice(0, 12)]),
    );
    return 0;
  } finally {
    store.close();
  }
}

/** Import into the library (default) or, with --out, into a standalone packed file. */
export async function cmdImportLibrary(args: ParsedArgs): Promise<number> {
  const allowed = ['name', 'format', 'classes', 'size', 'grayscale', 'strict', 'limit', 'labels', 'json'];
  rejectUnknown(args.flags, [...STORE_FLAGS, ...allowed], 'import');
  // Checked here, before any process starts, so a typo gets the valid values at once.
  const format = flagChoice(args.flags, 'format', IMPORT_FORMATS, 'auto');
  const classes = args.flags.has('classes') ? flagChoice(args.flags, 'classes', CLASS_MODES, 'auto') : undefined;
  const input = args.positional[0];
  if (!input) throw new Error('give the dataset path (or builtin:<name>) to import');
  const json = args.flags.get('json') === true;
  const store = openStore(args);
  try {
    const res = await importIntoLibrary(
      store,
      forkEngine,
      {
        input: input.startsWith('builtin:') ? input : resolve(input),
        format,
        classes,
        size: args.flags.has('size') ? positiveInt(args, 'size') : undefined,
        grayscale: args.flags.get('grayscale') === true,
        strict: args.flags.get('strict') === true,
        labelsPath: flagString(args.flags, 'labels'),
        limit: args.flags.has('limit') ? positiveInt(args, 'limit') : undefined,
        name: flagString(args.flags, 'name'),
      },
      {
        onProgress: (done, total) => {
          if (!json && process.stderr.isTTY) process.stderr.write(`\r\x1b[Kimporting ${done}/${total}`);
        },
      },
    );
    if (!json && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    if (json) {
      console.log(JSON.stringify(res));
      return 0;
    }
    const d = res.dataset;
    if (res.duplicate) {
      console.log(`already in the library: these images are dataset '${d.name}' (#${d.id}, checksum ${d.checksum.slice(0, 12)}); nothing new was stored`);
    } else {
      console.log(`imported ${d.count} images (${d.height}x${d.width}x${d.channels}, ${d.format}) as dataset '${d.name}' (#${d.id})`);
      console.log(`  file: ${d.path} (${fmtBytes(statSync(d.path).size)})`);
      if (d.previewPath) console.log(`  preview: ${d.previewPath}`);
    }
    console.log(`  good: ${res.report.good}, skipped: ${res.report.skipped.length}`);
    for (const n of res.report.notes) console.log(`  ${n}`);
    for (const s of res.report.skipped.slice(0, 20)) console.log(`    ${s.file}: ${s.reason}`);
    if (res.report.skipped.length > 20) console.log(`    ... and ${res.report.skipped.length - 20} more`);
    if (res.report.classCounts) console.log(`  classes: ${res.report.classCounts.map((n, i) => `${d.classNames?.[i] ?? i}: ${n}`).join(', ')}`);
    console.log(`train on it: sadpm train --dataset ${d.name}`);
    return 0;
  } finally {
    store.close();
  }
}
