/**
 * Checkpoint file: magic "SADPMCK1", uint32 LE header length, JSON header, then float32 LE blobs
 * (weights, EMA weights, Adam m and v). Written to a temp name and renamed, so a crash leaves the
 * previous checkpoint intact.
 */
import { closeSync, openSync, readSync, fstatSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../io/atomicFile';
import { RunConfigSchema, type RunConfig } from '../../shared/config';

const MAGIC = 'SADPMCK1';
export const CHECKPOINT_EXT = '.sadpm-ck';

const TensorEntrySchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int()),
  offset: z.number().int(),
  length: z.number().int(),
});

const HeaderSchema = z.object({
  version: z.literal(1),
  step: z.number().int().nonnegative(),
  createdAt: z.string(),
  config: z.unknown(),
  backend: z.string(),
  adamCount: z.number().int().nonnegative(),
  rng: z.object({ scheme: z.literal('keyed-v1'), seed: z.number().int() }),
  groups: z.object({
    params: z.array(TensorEntrySchema),
    ema: z.array(TensorEntrySchema),
    adamM: z.array(TensorEntrySchema),
    adamV: z.array(TensorEntrySchema),
  }),
  metrics: z.record(z.string(), z.number()).default({}),
});

export type CheckpointGroups = 'params' | 'ema' | 'adamM' | 'adamV';

export interface CheckpointData {
  step: number;
  config: RunConfig;
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

export function checkpointFileName(step: number): string {
  return `ckpt-${String(step).padStart(7, '0')}${CHECKPOINT_EXT}`;
}

export function writeCheckpoint(path: string, ck: CheckpointData): number {
  let offset = 0;
  const groups: Record<CheckpointGroups, z.infer<typeof TensorEntrySchema>[]> = {
    params: [],
    ema: [],
    adamM: [],
    adamV: [],
  };
  const blobs: Uint8Array[] = [];
  for (const g of ['params', 'ema', 'adamM', 'adamV'] as const) {
    ck[g].forEach((arr, i) => {
      const expected = ck.shapes[i]!.reduce((a, b) => a * b, 1);
      if (arr.length !== expected)
        throw new Error(`checkpoint: ${g}[${ck.names[i]}] has ${arr.length} values, expected ${expected}`);
      groups[g].push({ name: ck.names[i]!, shape: ck.shapes[i]!, offset, length: arr.length });
      offset += arr.length;
      blobs.push(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
    });
  }
  const header = {
    version: 1 as const,
    step: ck.step,
    createdAt: new Date().toISOString(),
    config: ck.config,
    backend: ck.backend,
    adamCount: ck.adamCount,
    rng: { scheme: 'keyed-v1' as const, seed: ck.config.seed },
    groups,
    metrics: ck.metrics,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  // Pad the header so the float data is 4-byte aligned in the file.
  const pad = (4 - ((12 + headerBytes.length) % 4)) % 4;
  const prefix = Buffer.alloc(12);
  prefix.write(MAGIC, 0, 'ascii');
  prefix.writeUInt32LE(headerBytes.length + pad, 8);
  const chunks = [prefix, headerBytes, Buffer.alloc(pad, 0x20), ...blobs];
  writeFileAtomic(path, chunks);
  return chunks.reduce((a, c) => a + c.byteLength, 0);
}

function readExactly(fd: number, pos: number, len: number, path: string): Buffer {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  if (got !== len)
    throw new Error(`checkpoint ${path}: truncated (expected ${len} bytes at offset ${pos}, got ${got})`);
  return buf;
}

export function readCheckpointHeader(
  path: string,
): z.infer<typeof HeaderSchema> & { dataOffset: number; fileBytes: number } {
  if (!existsSync(path)) throw new Error(`checkpoint ${path}: file not found`);
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 12) throw new Error(`checkpoint ${path}: not a SA-DPM checkpoint (file is ${size} bytes)`);
    const prefix = readExactly(fd, 0, 12, path);
    if (prefix.toString('ascii', 0, 8) !== MAGIC) {
      throw new Error(
        `checkpoint ${path}: not a SA-DPM checkpoint (bad magic '${prefix.toString('latin1', 0, 8)}', expected '${MAGIC}')`,
      );
    }
    const hlen = prefix.readUInt32LE(8);
    if (12 + hlen > size)
      throw new Error(`checkpoint ${path}: truncated header (${hlen} bytes declared, file is ${size})`);
    let header: unknown;
    try {
      header = JSON.parse(readExactly(fd, 12, hlen, path).toString('utf8'));
    } catch (err) {
      throw new Error(`checkpoint ${path}: corrupt header (${(err as Error).message})`);
    }
    const parsed = HeaderSchema.safeParse(header);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new Error(`checkpoint ${path}: bad header field '${i.path.join('.')}': ${i.message}`);
    }
    return { ...parsed.data, dataOffset: 12 + hlen, fileBytes: size };
  } finally {
    closeSync(fd);
  }
}

export function readCheckpoint(path: string): CheckpointData {
  const h = readCheckpointHeader(path);
  const config = RunConfigSchema.safeParse(h.config);
  if (!config.success)
    throw new Error(`checkpoint ${path}: stored config is invalid (${config.error.issues[0]?.message})`);
  const totalFloats = (['params', 'ema', 'adamM', 'adamV'] as const).reduce(
    (a, g) => a + h.groups[g].reduce((s, e) => s + e.length, 0),
    0,
  );
  const expectedBytes = h.dataOffset + totalFloats * 4;
  if (h.fileBytes !== expectedBytes) {
    throw new Error(
      `checkpoint ${path}: truncated or padded (expected ${expectedBytes} bytes, file is ${h.fileBytes})`,
    );
  }
  const fd = openSync(path, 'r');
  let data: Buffer;
  try {
    data = readExactly(fd, h.dataOffset, totalFloats * 4, path);
  } finally {
    closeSync(fd);
  }
  const all = new Float32Array(data.buffer, data.byteOffset, totalFloats);
  const take = (g: CheckpointGroups) => h.groups[g].map((e) => all.slice(e.offset, e.offset + e.length));
  return {
    step: h.step,
    config: config.data,
    backend: h.backend,
    adamCount: h.adamCount,
    names: h.groups.params.map((e) => e.name),
    shapes: h.groups.params.map((e) => e.shape),
    params: take('params'),
    ema: take('ema'),
    adamM: take('adamM'),
    adamV: take('adamV'),
    metrics: h.metrics,
  };
}

/** Checkpoints in a run folder, sorted by step. */
export function listCheckpoints(runDir: string): { step: number; path: string }[] {
  const dir = join(runDir, 'checkpoints');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => /^ckpt-(\d+)\.sadpm-ck$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => a.step - b.step);
}

export function findCheckpoint(runDir: string, which: 'latest' | number): { step: number; path: string } {
  const all = listCheckpoints(runDir);
  if (all.length === 0) throw new Error(`run ${runDir}: no checkpoints in ${join(runDir, 'checkpoints')}`);
  if (which === 'latest') return all[all.length - 1]!;
  const hit = all.find((c) => c.step === which);
  if (!hit)
    throw new Error(`run ${runDir}: no checkpoint at step ${which} (have ${all.map((c) => c.step).join(', ')})`);
  return hit;
}
