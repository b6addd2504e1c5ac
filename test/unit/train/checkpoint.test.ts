import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  writeCheckpoint,
  readCheckpoint,
  listCheckpoints,
  findCheckpoint,
  checkpointFileName,
  type CheckpointData,
} from '../../../src/engine/train/checkpoint';
import { resolveRunConfig } from '../../../src/shared/config';

function sample(step: number): CheckpointData {
  const cfg = resolveRunConfig({ preset: 'tiny', steps: 10 });
  const shapes = [[2, 3], [4]];
  const mk = (base: number) =>
    shapes.map((s, i) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, (_, j) => base + i + j / 10));
  return {
    step,
    config: cfg,
    backend: 'cpu',
    adamCount: step,
    names: ['a.w', 'b.b'],
    shapes,
    params: mk(1),
    ema: mk(2),
    adamM: mk(3),
    adamV: mk(4),
    metrics: { loss: 0.5 },
  };
}

describe('checkpoint files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sadpm-ck-'));
  it('round-trips every group exactly and leaves no temp file', () => {
    const p = join(dir, 'checkpoints', checkpointFileName(7));
    const bytes = writeCheckpoint(p, sample(7));
    expect(bytes).toBe(readFileSync(p).length);
    const back = readCheckpoint(p);
    expect(back.step).toBe(7);
    expect(back.config.preset).toBe('tiny');
    expect(Array.from(back.ema[1]!)).toEqual(Array.from(sample(7).ema[1]!));
    expect(Array.from(back.adamV[0]!)).toEqual(Array.from(sample(7).adamV[0]!));
    expect(back.metrics.loss).toBe(0.5);
    expect(readdirSync(join(dir, 'checkpoints')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
  it('lists and finds by step', () => {
    writeCheckpoint(join(dir, 'checkpoints', checkpointFileName(12)), sample(12));
    expect(listCheckpoints(dir).map((c) => c.step)).toEqual([7, 12]);
    expect(findCheckpoint(dir, 'latest').step).toBe(12);
    expect(() => findCheckpoint(dir, 9)).toThrow(/no checkpoint at step 9 \(have 7, 12\)/);
  });
  it('refuses a foreign file, a truncated file and a corrupt header with clear errors', () => {
    const foreign = join(dir, 'foreign.sadpm-ck');
    writeFileSync(foreign, 'PK\x03\x04 definitely a zip file');
    expect(() => readCheckpoint(foreign)).toThrow(/not a SA-DPM checkpoint/);
    const good = readFileSync(join(dir, 'checkpoints', checkpointFileName(7)));
    const trunc = join(dir, 'trunc.sadpm-ck');
    writeFileSync(trunc, good.subarray(0, good.length - 5));
    expect(() => readCheckpoint(trunc)).toThrow(/truncated/);
    const bad = Buffer.from(good);
    bad.write('{"nope', 12, 'utf8');
    const badPath = join(dir, 'bad.sadpm-ck');
    writeFileSync(badPath, bad);
    expect(() => readCheckpoint(badPath)).toThrow(/corrupt header|bad header/);
    expect(() => readCheckpoint(join(dir, 'missing.sadpm-ck'))).toThrow(/not found/);
    expect(existsSync(join(dir, 'checkpoints', checkpointFileName(7)))).toBe(true);
  });
});
