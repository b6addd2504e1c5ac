/**
 * The handlers of every invoke channel in the contract, and the dispatcher that validates a request
 * before any handler sees it. Transports (Electron IPC, web mode's WebSocket) only call dispatch().
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { INVOKE, type ApiError, type Estimate, type InvokeChannel, type InvokeResponse } from '../shared/contract';
import { modelConfigOf, parseRunConfig, resolveRunConfig, RunConfigError, type RunConfig } from '../shared/config';
import type { RunRecord } from '../shared/records';
import { BUILTIN_DATASETS, findBuiltin } from '../engine/data/builtin';
import { readPackedHeader } from '../engine/data/packed';
import { countUNetParams, validateModelConfig } from '../engine/nets/unetPlan';
import { exportBundle, exportMetrics } from '../store/export';
import { importIntoLibrary, resolveDatasetRef } from './datasetLibrary';
import { appVersion } from './appVersion';
import type { Services } from './services';
import { decodeBase64Strict, type UploadOwner } from './uploads';

export class ApiFailure extends Error {
  constructor(
    readonly code: ApiError['code'],
    message: string,
  ) {
    super(message);
  }
}

const notFound = (what: string) => new ApiFailure('not_found', what);

/** Runs `fn`; an error it throws reaches the caller as an ApiFailure with `code` and the same message. */
function failAs<T>(code: ApiError['code'], fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new ApiFailure(code, (err as Error).message);
  }
}

type Handlers = { [C in InvokeChannel]: (req: z.infer<(typeof INVOKE)[C]['req']>) => Promise<InvokeResponse<C>> | InvokeResponse<C> };

function zodIssues(err: z.ZodError): { field: string; message: string }[] {
  return err.issues.map((i) => ({ field: i.path.join('.') || '(config)', message: i.message }));
}

/** A config from the form: dataset resolved, image size and channels from the dataset unless given. */
function resolveFormConfig(s: Services, raw: Record<string, unknown>): { cfg: RunConfig; datasetId: number | null } {
  const input = { ...raw };
  const { spec, datasetId } = resolveDatasetRef(s.store, String(input.dataset ?? 'builtin:shapes'));
  input.dataset = spec;
  if (input.imageSize === undefined || input.channels === undefined) {
    if (spec.startsWith('builtin:')) {
      const b = findBuiltin(spec);
      input.imageSize ??= b.size;
      input.channels ??= b.channels;
    } else {
      const h = readPackedHeader(spec);
      input.imageSize ??= h.height;
      input.channels ??= h.channels;
    }
  }
  const cfg = resolveRunConfig(input);
  try {
    validateModelConfig(modelConfigOf(cfg));
  } catch (err) {
    throw new RunConfigError([{ field: 'model', message: (err as Error).message }]);
  }
  return { cfg, datasetId };
}

/** Field errors of a config that failed to resolve. */
function configIssues(err: unknown): { field: string; message: string }[] {
  if (err instanceof RunConfigError) return err.issues;
  if (err instanceof z.ZodError) return zodIssues(err);
  return [{ field: 'dataset', message: (err as Error).message }];
}

export function estimateRun(s: Services, cfg: RunConfig): Estimate {
  const model = modelConfigOf(cfg);
  const params = countUNetParams(model);
  // Weights, gradients, Adam m and v, EMA: five float32 copies.
  const stateBytes = params * 4 * 5;
  // Activations kept for the backward pass: per level, each res block keeps ~8 tensors of its size.
  const images = cfg.batch * (cfg.lambda > 0 && cfg.k >= 2 ? cfg.k : 1);
  let perImage = 0;
  let res = cfg.imageSize;
  for (const m of model.chMult) {
    perImage += res * res * cfg.ch * m * (model.numResBlocks * 2 + 1) * 8 * 2;
    res = Math.max(1, Math.floor(res / 2));
  }
  const activationBytes = images * perImage * 4;
  const similar = s.store
    .listRuns({ k: cfg.k, limit: 200 })
    .filter((r) => r.preset === cfg.preset && (r.config as RunConfig).batch === cfg.batch && (r.config as RunConfig).imageSize === cfg.imageSize && r.lambda === cfg.lambda)
    .slice(0, 20);
  const samples: number[] = [];
  for (const r of similar) {
    const ser = s.store.series(r.id, 'msPerStep', 50);
    samples.push(...ser.values.slice(1));
  }
  samples.sort((a, b) => a - b);
  const msPerStep = samples.length ? samples[Math.floor(samples.length / 2)]! : null;
  return {
    params,
    stateBytes,
    activationBytes,
    msPerStep,
    basis: msPerStep === null ? 'no earlier run with this model, batch and loss: time per step is measured once the run starts' : `median of ${samples.length} logged steps from ${similar.length} earlier run(s) with this model, batch and loss`,
  };
}

function requireRun(s: Services, id: number): RunRecord {
  const run = s.store.getRun(id);
  if (!run) throw notFound(`no run #${id}`);
  return run;
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[._]+/, '').slice(0, 80) || 'file';
}

/** Platform pieces only Electron has (native dialogs); web mode passes none. */
export interface NativeUi {
  pick(kind: 'file' | 'folder', title?: string): Promise<string | null>;
}

/**
 * The handlers for one client. `uploads` is that client's own upload owner: web mode makes one set of
 * handlers per WebSocket and closes its owner when the socket closes.
 */
export function makeHandlers(s: Services, native?: NativeUi, uploads: UploadOwner = s.uploads.owner()): Handlers {
  const startRun = (run: RunRecord, resume: boolean) => {
    s.runs.enqueue(run.id, { resume }).catch(() => {
      // The outcome is recorded in the store and announced as run.updated.
    });
  };
  const info = () => ({
    version: appVersion(),
    mode: s.mode,
    dataDir: s.store.layout.root,
    concurrency: s.runs.concurrency,
    builtinDatasets: BUILTIN_DATASETS.map((b) => ({ id: b.id, description: b.description, size: b.size })),
  });
  return {
    'app.info': info,
    'app.setConcurrency': ({ concurrency }) => {
      s.runs.setConcurrency(concurrency);
      return info();
    },
    'datasets.list': () => s.store.listDatasets(),
    'datasets.import': (req) => ({
      jobId: s.jobs.start('import', (signal, onProgress) => importIntoLibrary(s.store, s.spawn, req, { signal, onProgress })),
    }),
    'datasets.delete': ({ id }) => {
      const used = s.store.listRuns({ datasetId: id, limit: 1 });
      if (used.length) throw new ApiFailure('conflict', `dataset #${id} is used by run #${used[0]!.id}; delete its runs first`);
      s.store.deleteDataset(id);
      return { ok: true as const };
    },
    'files.uploadBegin': ({ fileName, bytes }) => uploads.begin(fileName, bytes),
    'files.uploadChunk': ({ uploadId, offset, base64 }) =>
      failAs('invalid', () => {
        const data = decodeBase64Strict(base64, `files.uploadChunk base64 (upload ${uploadId}, offset ${offset})`);
        return uploads.chunk(uploadId, offset, data);
      }),
    'files.uploadEnd': ({ uploadId, abort }) => {
      if (abort) {
        uploads.abort(uploadId);
        return { path: null };
      }
      return failAs('invalid', () => uploads.end(uploadId, (name) => `${Date.now().toString(36)}-${safeName(name)}`));
    },
    'jobs.cancel': ({ jobId }) => {
      if (!s.jobs.cancel(jobId)) throw notFound(`no running job ${jobId}`);
      return { ok: true as const };
    },
    'runs.list': (f) => ({ runs: s.store.listRuns(f), total: s.store.countRuns({ ...f, limit: undefined, offset: undefined }) }),
    'runs.get': ({ id }) => {
      const run = requireRun(s, id);
      const q = s.runs.queued().indexOf(id);
      return {
        run,
        checkpoints: s.store.checkpoints(id),
        samples: s.store.samples(id),
        metricNames: s.store.metricNames(id),
        disk: s.store.diskUse(id),
        retention: s.store.retentionOf(id),
        active: s.runs.isActive(id),
        queuePosition: q >= 0 ? q : null,
      };
    },
    'runs.validate': ({ config }) => {
      try {
        const { cfg } = resolveFormConfig(s, config);
        return { ok: true, errors: [], config: cfg, estimate: estimateRun(s, cfg) };
      } catch (err) {
        return { ok: false, errors: configIssues(err), config: null, estimate: null };
      }
    },
    'runs.create': ({ config, tags, notes, retention, start }) => {
      let resolved: { cfg: RunConfig; datasetId: number | null };
      try {
        resolved = resolveFormConfig(s, config);
      } catch (err) {
        throw new ApiFailure('invalid', configIssues(err).map((i) => `${i.field}: ${i.message}`).join('; '));
      }
      const { cfg, datasetId } = resolved;
      const run = s.store.createRun({
        name: cfg.name || `${cfg.preset}-${cfg.lambda > 0 && cfg.k >= 2 ? `sa${cfg.k}-l${cfg.lambda}` : 'ddpm'}`,
        config: cfg,
        datasetId,
        tags,
        notes,
        retention,
        appVersion: appVersion(),
      });
      if (start) startRun(run, false);
      return s.store.getRun(run.id)!;
    },
    'runs.start': async ({ id }) => {
      await s.runs.settle(id);
      const run = requireRun(s, id);
      if (s.runs.isActive(id) || s.runs.queued().includes(id)) throw new ApiFailure('conflict', `run #${id} is already ${run.status}`);
      const hasCheckpoint = s.store.latestCheckpoint(id) !== undefined;
      if (hasCheckpoint) s.runs.assertResumable(run);
      startRun(run, hasCheckpoint);
      return s.store.getRun(id)!;
    },
    'runs.resume': async ({ id, steps }) => {
      await s.runs.settle(id);
      const run = requireRun(s, id);
      if (s.runs.isActive(id) || s.runs.queued().includes(id)) throw new ApiFailure('conflict', `run #${id} is already ${run.status}`);
      const cfg = steps !== undefined ? parseRunConfig({ ...run.config, steps }) : null;
      const ck = s.store.latestCheckpoint(id);
      if (cfg && ck && cfg.steps <= ck.step) throw new ApiFailure('invalid', `steps: run #${id} already reached step ${ck.step}; give more than ${ck.step}`);
      // Checked with the new step count before anything is stored, so a refused resume changes nothing.
      failAs('conflict', () => s.runs.assertResumable(cfg ? { ...run, totalSteps: cfg.steps } : run));
      if (cfg) s.store.updateConfig(id, cfg);
      const fresh = s.store.getRun(id)!;
      startRun(fresh, s.store.latestCheckpoint(id) !== undefined);
      return s.store.getRun(id)!;
    },
    'runs.pause': ({ id }) => {
      requireRun(s, id);
      failAs('conflict', () => s.runs.stop(id, 'paused'));
      return s.store.getRun(id)!;
    },
    'runs.stop': ({ id }) => {
      requireRun(s, id);
      failAs('conflict', () => s.runs.stop(id, 'stopped'));
      return s.store.getRun(id)!;
    },
    'runs.update': ({ id, name, notes, tags }) => {
      requireRun(s, id);
      if (name !== undefined) s.store.rename(id, name);
      if (notes !== undefined) s.store.setNotes(id, notes);
      if (tags !== undefined) s.store.setTags(id, tags);
      const run = s.store.getRun(id)!;
      s.emit('run.updated', run);
      return run;
    },
    'runs.delete': ({ id, deleteFiles }) => {
      requireRun(s, id);
      if (s.runs.isActive(id)) throw new ApiFailure('conflict', `run #${id} is running; stop it first`);
      if (s.runs.queued().includes(id)) s.runs.stop(id);
      s.store.deleteRun(id, { deleteFiles });
      return { ok: true as const };
    },
    'metrics.series': ({ runId, names, maxPoints }) => {
      requireRun(s, runId);
      return names.map((n) => s.store.series(runId, n, maxPoints));
    },
    'metrics.overlay': ({ runIds, name, maxPoints }) => s.store.seriesOverlay(runIds, name, maxPoints),
    'gap.list': ({ runId }) => s.store.gapCurves(runId),
    'samples.list': ({ runId }) => s.store.samples(runId),
    'samples.generate': ({ checkpointId, settings }) => {
      if (!s.store.getCheckpoint(checkpointId)) throw notFound(`no checkpoint #${checkpointId}`);
      return { jobId: s.jobs.start('sample', (signal, onProgress) => s.runs.sample(checkpointId, settings, { signal, onProgress })) };
    },
    'samples.filmstrip': ({ checkpointId, settings, frames }) => {
      if (!s.store.getCheckpoint(checkpointId)) throw notFound(`no checkpoint #${checkpointId}`);
      return {
        jobId: s.jobs.start('filmstrip', (signal, onProgress) => s.runs.sample(checkpointId, { ...settings, n: 1, filmstripFrames: frames }, { signal, onProgress })),
      };
    },
    'export.grid': ({ checkpointId, settings, cols, padding, labels }) => {
      const ck = s.store.getCheckpoint(checkpointId);
      if (!ck) throw notFound(`no checkpoint #${checkpointId}`);
      const run = requireRun(s, ck.runId);
      const out = join(
        s.store.layout.exports,
        `grid-run${run.id}-step${ck.step}-${settings.sampler}${settings.steps}-seed${settings.seed}${settings.ema ? '-ema' : ''}-${Date.now().toString(36)}.png`,
      );
      const caption = labels
        ? `RUN ${run.id} ${run.name} STEP ${ck.step} ${settings.sampler} ${settings.steps} STEPS ETA ${settings.eta} SEED ${settings.seed}${settings.ema ? ' EMA' : ''}`
        : undefined;
      return {
        jobId: s.jobs.start('export', async (signal, onProgress) => {
          const rec = await s.runs.sample(checkpointId, { ...settings, out, cols, padding, caption }, { signal, onProgress });
          const bytes = statSync(out).size;
          s.store.recordExport(run.id, 'grid', out, bytes);
          return { path: out, sidecar: out.replace(/\.png$/, '.json'), bytes, sample: rec };
        }),
      };
    },
    'dialog.pick': async ({ kind, title }) => {
      if (!native) throw new ApiFailure('invalid', 'file pickers exist only in the desktop app; type the path, or upload the file');
      return { path: await native.pick(kind, title) };
    },
    'export.metrics': ({ runId, format }) => {
      const run = requireRun(s, runId);
      const path = join(s.store.layout.exports, `run-${run.id}-${safeName(run.name)}-${Date.now().toString(36)}.metrics.${format}`);
      return { path, bytes: exportMetrics(s.store, runId, path, format) };
    },
    'export.bundle': async ({ runId, checkpoints }) => {
      const run = requireRun(s, runId);
      const path = join(s.store.layout.exports, `run-${run.id}-${safeName(run.name)}-${Date.now().toString(36)}.tar.gz`);
      const res = await exportBundle(s.store, runId, path, { checkpoints });
      return { path, bytes: res.bytes };
    },
  };
}

export type DispatchResult = { ok: true; res: unknown } | { ok: false; error: ApiError };

/** Validates the channel and payload, runs the handler, and turns failures into ApiErrors. */
export async function dispatch(handlers: Handlers, channel: string, raw: unknown): Promise<DispatchResult> {
  if (!Object.hasOwn(INVOKE, channel)) return { ok: false, error: { code: 'invalid', message: `unknown channel '${channel}'` } };
  const c = channel as InvokeChannel;
  const parsed = INVOKE[c].req.safeParse(raw ?? {});
  if (!parsed.success) {
    return { ok: false, error: { code: 'invalid', message: `${channel}: ${zodIssues(parsed.error).map((i) => `${i.field}: ${i.message}`).join('; ')}` } };
  }
  try {
    const res = await (handlers[c] as (r: unknown) => unknown)(parsed.data);
    return { ok: true, res };
  } catch (err) {
    if (err instanceof ApiFailure) return { ok: false, error: { code: err.code, message: err.message } };
    return { ok: false, error: { code: 'failed', message: (err as Error).message } };
  }
}
