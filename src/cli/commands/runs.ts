/** sadpm runs, show, tag and prune: queries and small edits of the run store. */
import { RUN_KINDS, RUN_STATUSES, type RunFilter, type RunRecord, type RunStatus } from '../../shared/records';
import { isSaActive, lossLabel } from '../../shared/naming';
import {
  flagChoice,
  flagNumber,
  flagString,
  isJson,
  positiveInt,
  rejectUnknown,
  splitList,
  type ParsedArgs,
} from '../args';
import { fmtBytes } from '../progress';
import { openStore, runRef } from '../storeAccess';
import { printTable } from '../table';
import { retentionFromFlags } from './train';

function filterFromFlags(args: ParsedArgs): RunFilter {
  const f: RunFilter = {};
  const status = splitList(flagString(args.flags, 'status'));
  for (const s of status) {
    if (!(RUN_STATUSES as readonly string[]).includes(s)) {
      throw new Error(`--status: '${s}' is not a run status (expected ${RUN_STATUSES.join(', ')})`);
    }
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
  if (args.flags.has('kind')) f.kind = flagChoice(args.flags, 'kind', RUN_KINDS, 'train');
  f.limit = args.flags.has('limit') ? positiveInt(args, 'limit') : 50;
  return f;
}

export function cmdRuns(args: ParsedArgs): number {
  const known = ['data-dir', 'status', 'tag', 'tags', 'dataset', 'k', 'lambda', 'T', 'search', 'limit', 'json', 'kind'];
  rejectUnknown(args.flags, known, 'runs');
  const store = openStore(args);
  try {
    const f = filterFromFlags(args);
    const ds = flagString(args.flags, 'dataset');
    if (ds) {
      const rec = store.datasets.find(ds);
      if (!rec) throw new Error(`--dataset '${ds}': no such dataset in the library (see 'sadpm datasets')`);
      f.datasetId = rec.id;
    }
    const runs = store.runs.list(f);
    if (isJson(args)) {
      console.log(JSON.stringify(runs));
      return 0;
    }
    const total = store.runs.count({ ...f, limit: undefined });
    if (runs.length === 0) {
      const none = total === 0 && !Object.keys(f).some((k) => k !== 'limit');
      console.log(none ? "no runs yet: start one with 'sadpm train'" : 'no runs match');
      return 0;
    }
    const rows = runs.map((r) => [
      `#${r.id}`,
      r.name,
      r.status,
      `${r.step}/${r.totalSteps}`,
      r.cov ? covLabel(r) : lossLabel(r),
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

/** Issue 13: a covariance run's head, and the run and checkpoint it was trained on. */
function covLabel(r: RunRecord): string {
  const c = r.cov!;
  return `${c.kind.toUpperCase()} head of #${r.parentId} @${c.base.step}${c.base.ema ? ' EMA' : ''}`;
}

function shortDataset(r: RunRecord): string {
  return r.dataset.startsWith('builtin:') ? r.dataset : (r.dataset.split(/[\\/]/).pop() ?? r.dataset);
}

export function cmdShow(args: ParsedArgs): number {
  rejectUnknown(args.flags, ['data-dir', 'run-dir', 'json'], 'show');
  const store = openStore(args);
  try {
    const id = runRef(args, store);
    const run = store.runs.get(id)!;
    const cks = store.checkpoints.list(id);
    const samples = store.samples.list(id);
    const gaps = store.gaps.list(id);
    const disk = store.runs.diskUse(id);
    const names = store.metrics.names(id);
    if (isJson(args)) {
      const retention = store.runs.retention(id);
      const gap = gaps.at(-1) ?? null;
      console.log(JSON.stringify({ run, checkpoints: cks, samples, gap, disk, metrics: names, retention }));
      return 0;
    }
    const c = run.config as Record<string, unknown>;
    console.log(`run #${run.id} '${run.name}': ${run.status}${run.failureReason ? ` (${run.failureReason})` : ''}`);
    console.log(
      `  step ${run.step}/${run.totalSteps}, last loss ${run.lastLoss ?? '-'}, backend ${run.adapter ?? '-'}`,
    );
    const loss = isSaActive(run) ? `${lossLabel(run)}, τ ${c.tau}` : 'plain DDPM';
    const model = `model ${run.preset} (ch ${c.ch}, mult ${String(c.chMult)})`;
    console.log(
      `  loss: ${loss}; T=${run.T} ${c.schedule}; ${model}; ` +
        `batch ${c.batch}, lr ${c.lr}, EMA ${c.emaDecay}, seed ${run.seed}`,
    );
    console.log(`  dataset: ${run.dataset}${run.datasetId !== null ? ` (library #${run.datasetId})` : ''}`);
    console.log(
      `  created ${run.createdAt}, started ${run.startedAt ?? '-'}, ended ${run.endedAt ?? '-'}, app ${run.appVersion}`,
    );
    if (run.cov) {
      const c = run.cov;
      console.log(
        `  covariance run: ${covLabel(run)} (${c.base.checkpoint}); batch ${c.batch}, lr ${c.lr}, seed ${c.seed}`,
      );
    }
    if (run.tags.length) console.log(`  tags: ${run.tags.join(', ')}`);
    if (run.notes) console.log(`  notes: ${run.notes}`);
    const parts = `checkpoints ${fmtBytes(disk.checkpoints)}, samples ${fmtBytes(disk.samples)}`;
    console.log(`  folder: ${run.runDir} (${fmtBytes(disk.total)}: ${parts})`);
    console.log(`  metrics: ${names.join(', ') || '-'}`);
    console.log(`  checkpoints (${cks.length}): ${cks.map((k) => `${k.step}`).join(', ') || '-'}`);
    for (const s of samples.slice(-5)) {
      const how = `${s.n} × ${s.sampler}${s.sampleSteps}${s.ema ? ' EMA' : ''} seed ${s.seed ?? '-'}`;
      console.log(`  samples step ${s.step}: ${how}: ${s.path}`);
    }
    const g = gaps.at(-1);
    if (g) console.log(`  gap at step ${g.step} (t0=${g.t0}): final mean |D| ${g.meanAbs.at(-1)?.toExponential(3)}`);
    const ret = store.runs.retention(id);
    if (ret) console.log(`  retention: ${JSON.stringify(ret)}`);
    return 0;
  } finally {
    store.close();
  }
}

export function cmdPrune(args: ParsedArgs): number {
  rejectUnknown(args.flags, ['data-dir', 'run-dir', 'keep-last', 'keep-every', 'keep-best', 'yes', 'json'], 'prune');
  const store = openStore(args);
  try {
    const id = runRef(args, store);
    const policy = retentionFromFlags(args) ?? store.runs.retention(id);
    if (!policy) {
      const flags = '--keep-last N, --keep-every M and/or --keep-best METRIC';
      throw new Error(`run #${id} has no retention policy: give ${flags}`);
    }
    const yes = args.flags.get('yes') === true;
    const plan = yes ? store.checkpoints.prune(id, policy) : store.checkpoints.planPrune(id, policy);
    if (isJson(args)) {
      console.log(JSON.stringify({ deleted: yes, ...plan }));
      return 0;
    }
    for (const k of plan.keep) console.log(`keep   step ${k.checkpoint.step} (${k.why.join(', ')})`);
    for (const r of plan.remove) {
      console.log(`${yes ? 'delete' : 'would delete'} step ${r.step} ${fmtBytes(r.bytes)} ${r.path}`);
    }
    const freed = fmtBytes(plan.freedBytes);
    const would = `${plan.remove.length} checkpoint(s), ${freed}: run again with --yes to delete them`;
    if (yes) console.log(`deleted ${plan.remove.length} checkpoint(s), freed ${freed}`);
    else console.log(plan.remove.length ? would : 'nothing to delete');
    return 0;
  } finally {
    store.close();
  }
}

export function cmdTag(args: ParsedArgs): number {
  rejectUnknown(args.flags, ['data-dir', 'remove', 'notes'], 'tag');
  const store = openStore(args);
  try {
    const [ref, ...tags] = args.positional;
    if (!ref) throw new Error('sadpm tag RUN TAG...: name the run');
    const run = store.runs.require(ref);
    const next =
      args.flags.get('remove') === true
        ? run.tags.filter((t) => !tags.includes(t))
        : [...new Set([...run.tags, ...tags])];
    store.runs.setTags(run.id, next);
    const notes = flagString(args.flags, 'notes');
    if (notes !== undefined) store.runs.setNotes(run.id, notes);
    console.log(`run #${run.id} tags: ${next.join(', ') || '-'}${notes !== undefined ? `; notes: ${notes}` : ''}`);
    return 0;
  } finally {
    store.close();
  }
}
