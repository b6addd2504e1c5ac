/**
 * Covariance-head checkpoint: magic "SADPMCV1" (tensorFile.ts framing), a JSON header with the covariance
 * run's config (which names the frozen base checkpoint), the head's spec, the step and Adam's count, then the
 * head's weights, their EMA and Adam's m and v. The base network is not copied: the header points at it.
 * Files live in the covariance run's folder as checkpoints/cov-<step>.sadpm-cov.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CovConfigSchema, type CovConfig } from '../../shared/covConfig';
import type { CovHeadSpec } from '../nets/covHead';
import { readTensorFileHeader, readTensorGroups, writeTensorFile, type TensorEntry } from './tensorFile';

const MAGIC = 'SADPMCV1';
const WHAT = 'covariance checkpoint';
export const COV_CHECKPOINT_EXT = '.sadpm-cov';

const EntrySchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  offset: z.number().int(),
  length: z.number().int(),
});
const Entries = z.array(EntrySchema);

const HeaderSchema = z.object({
  version: z.literal(1),
  kind: z.literal('sadpm-cov-head'),
  step: z.number().int().nonnegative(),
  createdAt: z.string(),
  config: z.unknown(),
  head: z.object({
    kind: z.enum(['npr', 'sn']),
    mode: z.literal('simple'),
    inChannels: z.number().int().positive(),
    outChannels: z.number().int().positive(),
    groups: z.number().int().positive(),
  }),
  backend: z.string(),
  adamCount: z.number().int().nonnegative(),
  rng: z.object({ scheme: z.literal('keyed-v1'), seed: z.number().int() }),
  groups: z.object({ params: Entries, ema: Entries, adamM: Entries, adamV: Entries }),
  metrics: z.record(z.string(), z.number()).default({}),
});

export interface CovCheckpointData {
  step: number;
  config: CovConfig;
  head: CovHeadSpec;
  backend: string;
  adamCount: number;
  names: string[];
  shapes: number[][];
  params: Float32Array[];
  ema: Float32Array[];
  adamM: Float32Array[];
  adamV: Float32Array[];
  metrics: Record<string, number>;
}

export function covCheckpointFileName(step: number): string {
  return `cov-${String(step).padStart(7, '0')}${COV_CHECKPOINT_EXT}`;
}

export function writeCovCheckpoint(path: string, ck: CovCheckpointData): number {
  const header = {
    version: 1,
    kind: 'sadpm-cov-head',
    step: ck.step,
    createdAt: new Date().toISOString(),
    config: ck.config,
    head: ck.head,
    backend: ck.backend,
    adamCount: ck.adamCount,
    rng: { scheme: 'keyed-v1', seed: ck.config.seed },
    metrics: ck.metrics,
  };
  const group = (arrays: Float32Array[]) => ({ names: ck.names, shapes: ck.shapes, arrays });
  const groups = { params: group(ck.params), ema: group(ck.ema), adamM: group(ck.adamM), adamV: group(ck.adamV) };
  return writeTensorFile(path, MAGIC, header, groups);
}

type CovHeader = z.infer<typeof HeaderSchema> & { config: CovConfig; dataOffset: number; fileBytes: number };

export function readCovCheckpointHeader(path: string): CovHeader {
  const { header, dataOffset, fileBytes } = readTensorFileHeader(path, MAGIC, WHAT);
  const h = HeaderSchema.safeParse(header);
  if (!h.success) {
    const i = h.error.issues[0]!;
    throw new Error(`${WHAT} ${path}: bad header field '${i.path.join('.')}': ${i.message}`);
  }
  const config = CovConfigSchema.safeParse(h.data.config);
  if (!config.success) {
    const i = config.error.issues[0]!;
    throw new Error(`${WHAT} ${path}: stored config field '${i.path.join('.')}' is invalid: ${i.message}`);
  }
  if (config.data.kind !== h.data.head.kind) {
    throw new Error(`${WHAT} ${path}: the config says '${config.data.kind}' but the head is '${h.data.head.kind}'`);
  }
  const counts = new Set(Object.values(h.data.groups).map((g) => g.length));
  if (counts.size !== 1) {
    throw new Error(`${WHAT} ${path}: weight, EMA and Adam groups list different numbers of tensors`);
  }
  return { ...h.data, config: config.data, dataOffset, fileBytes };
}

export function readCovCheckpoint(path: string): CovCheckpointData {
  const h = readCovCheckpointHeader(path);
  const g = readTensorGroups(path, WHAT, h.dataOffset, h.fileBytes, h.groups as Record<string, TensorEntry[]>);
  return {
    step: h.step,
    config: h.config,
    head: h.head,
    backend: h.backend,
    adamCount: h.adamCount,
    names: h.groups.params.map((e) => e.name),
    shapes: h.groups.params.map((e) => e.shape),
    params: g.params!,
    ema: g.ema!,
    adamM: g.adamM!,
    adamV: g.adamV!,
    metrics: h.metrics,
  };
}

/** Covariance checkpoints in a covariance run's folder, sorted by step. */
export function listCovCheckpoints(runDir: string): { step: number; path: string }[] {
  const dir = join(runDir, 'checkpoints');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => /^cov-(\d+)\.sadpm-cov$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => a.step - b.step);
}
