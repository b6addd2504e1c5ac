/**
 * Creating a run: the one path from "what the user asked for" (CLI flags, a --config file, the app's form) to a
 * stored run. The dataset reference is resolved, image size and channels follow the dataset unless given, the
 * config is validated with every field and model-shape rule, and the run is named and stored.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveRunConfig, RunConfigError, RunConfigSchema, type RunConfig } from '../../shared/config';
import { defaultRunName } from '../../shared/naming';
import type { RetentionPolicy, RunRecord } from '../../shared/records';
import type { RunStore } from '../../store/runStore';
import { findBuiltin } from '../../engine/data/builtin';
import { readPackedHeader } from '../../engine/data/packed';
import { readCheckpointHeader } from '../../engine/train/checkpoint';
import { resolveInitFrom } from '../../engine/train/starters';
import { resolveDatasetRef } from '../datasetLibrary';
import { appVersion } from '../appVersion';

export interface ResolvedRunConfig {
  cfg: RunConfig;
  /** The library dataset the run trains on, when it is one. */
  datasetId: number | null;
}

/** Image size and channels of a dataset spec, from its header (no pixels are read). */
function datasetDims(spec: string): { size: number; channels: number } {
  if (spec.startsWith('builtin:')) {
    const b = findBuiltin(spec);
    return { size: b.size, channels: b.channels };
  }
  const h = readPackedHeader(spec);
  return { size: h.height, channels: h.channels };
}

/**
 * The full config for `input` (a partial config): the dataset resolved to the engine's spec, image size and
 * channels from the dataset unless given, the model preset's sizes, then every default and rule. Throws a
 * RunConfigError naming each bad field (the dataset's problems under 'dataset').
 */
export function resolveRunInput(store: RunStore, input: Record<string, unknown>): ResolvedRunConfig {
  const raw = { ...input };
  let datasetId: number | null;
  try {
    const ref = resolveDatasetRef(store, String(raw.dataset ?? 'builtin:shapes'));
    raw.dataset = ref.spec;
    datasetId = ref.datasetId;
    if (raw.imageSize === undefined || raw.channels === undefined) {
      const dims = datasetDims(ref.spec);
      raw.imageSize ??= dims.size;
      raw.channels ??= dims.channels;
    }
  } catch (err) {
    throw new RunConfigError([{ field: 'dataset', message: (err as Error).message }]);
  }
  const cfg = resolveRunConfig(raw);
  if (cfg.initFrom) cfg.initFrom = checkInitFrom(cfg);
  return { cfg, datasetId };
}

/** The architecture fields a checkpoint must share with the run that starts from it (tensor shapes follow). */
const ARCH_FIELDS = ['ch', 'chMult', 'numResBlocks', 'attnResolutions', 'imageSize', 'channels'] as const;

/**
 * The run's initFrom as stored: a built-in starter as named, a file as its absolute path (the run may start
 * from another folder). Refused, naming the field, when the file is missing or is not a checkpoint of the
 * run's architecture.
 */
function checkInitFrom(cfg: RunConfig): string {
  const spec = cfg.initFrom!;
  try {
    const path = resolveInitFrom(spec);
    const theirs = RunConfigSchema.safeParse(readCheckpointHeader(path).config);
    if (!theirs.success) throw new Error(`${path}: its stored config is invalid`);
    const differ = ARCH_FIELDS.filter((f) => JSON.stringify(theirs.data[f]) !== JSON.stringify(cfg[f]));
    if (differ.length) {
      const list = differ.map((f) => `${f} ${JSON.stringify(theirs.data[f])} (this run: ${JSON.stringify(cfg[f])})`);
      throw new Error(`${spec} is a checkpoint of another model: ${list.join(', ')}`);
    }
    return spec.startsWith('builtin:') ? spec : path;
  } catch (err) {
    throw new RunConfigError([{ field: 'initFrom', message: (err as Error).message.replace(/^initFrom: /, '') }]);
  }
}

export interface CreateRunRequest {
  /** A partial run config: what the user set; the rest comes from the preset and the defaults. */
  config: Record<string, unknown>;
  tags?: string[];
  notes?: string;
  retention?: RetentionPolicy;
  /** Where the run's files go; default <data>/runs/<id>-<name>. Must not hold another run. */
  runDir?: string;
}

/** Validates and stores a new run (status queued); starting it is the run queue's business. */
export function createRun(store: RunStore, req: CreateRunRequest): RunRecord {
  const { cfg, datasetId } = resolveRunInput(store, req.config);
  const runDir = req.runDir ? resolve(req.runDir) : undefined;
  if (runDir) {
    const owner = store.runs.byDir(runDir);
    if (owner || existsSync(join(runDir, 'config.json'))) {
      const hint = owner ? ` (#${owner.id}); continue it with 'sadpm resume ${owner.id}'` : '';
      throw new Error(`run folder ${runDir} already holds a run${hint}, or choose another folder`);
    }
  }
  return store.runs.create({
    name: cfg.name || defaultRunName(cfg),
    config: cfg,
    datasetId,
    runDir,
    tags: req.tags ?? [],
    notes: req.notes ?? '',
    retention: req.retention,
    appVersion: appVersion(),
  });
}
