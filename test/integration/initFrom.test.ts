/**
 * Starting a run from another checkpoint (RunConfig.initFrom, issue 17): the new run holds that checkpoint's
 * weights, EMA and Adam state at its step 0 and its optimiser continues (Adam's count goes on); a checkpoint of
 * another model or a missing file is refused naming the field; the built-in starter that `npm run demo` continues
 * fits the demo preset and draws the built-in shapes, where the same model with random weights does not.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../../src/engine/backend';
import { resolveRunConfig, RunConfigError, RUN_PRESETS, type RunConfig } from '../../src/shared/config';
import { train, TrainState } from '../../src/engine/train/trainer';
import { findCheckpoint, readCheckpoint, type CheckpointData } from '../../src/engine/train/checkpoint';
import { resolveInitFrom } from '../../src/engine/train/starters';
import { writeRunSamples } from '../../src/engine/train/artifacts';
import { learnedShapes } from '../../src/engine/data/shapeCheck';
import { RunStore } from '../../src/store/runStore';
import { resolveRunInput } from '../../src/app/useCases/createRun';
import type { EngineMessage, StartedMessage } from '../../src/shared/engineMessages';

const tmp = () => mkdtempSync(join(tmpdir(), 'sadpm-init-'));

function micro(over: Record<string, unknown> = {}): RunConfig {
  return resolveRunConfig({
    preset: 'tiny',
    dataset: 'builtin:shapes',
    batch: 2,
    T: 100,
    k: 2,
    lambda: 1,
    lr: 2e-3,
    emaDecay: 0.9,
    logEvery: 1,
    checkpointEvery: 3,
    gapT0: 10,
    gapBatch: 2,
    steps: 3,
    ...over,
  });
}

const flat = (parts: Float32Array[]) => Float32Array.from(parts.flatMap((p) => Array.from(p)));

let source: { path: string; ck: CheckpointData };

beforeAll(async () => {
  await initBackend('auto');
  const runDir = tmp();
  await train(micro(), { runDir, sink: () => {}, skipFinalArtifacts: true });
  const path = findCheckpoint(runDir, 'latest').path;
  source = { path, ck: readCheckpoint(path) };
}, 120_000);

describe('a run that starts from a checkpoint', () => {
  it("holds the checkpoint's weights, EMA and Adam state at step 0, and its optimiser continues", async () => {
    const cfg = micro({ seed: 7, initFrom: source.path, steps: 2, checkpointEvery: 2 });
    const state = new TrainState(cfg);
    state.initFrom(source.ck, source.path);
    const snap = await state.snapshot('test', {});
    state.dispose();
    expect(snap.step).toBe(0);
    expect(snap.adamCount).toBe(source.ck.adamCount);
    for (const g of ['params', 'ema', 'adamM', 'adamV'] as const) expect(flat(snap[g])).toEqual(flat(source.ck[g]));

    const runDir = tmp();
    const messages: EngineMessage[] = [];
    await train(cfg, { runDir, sink: (m) => messages.push(m), skipFinalArtifacts: true });
    const started = messages.find((m): m is StartedMessage => m.type === 'started')!;
    expect(started.step).toBe(0);
    expect(started.initFrom).toEqual({ spec: source.path, step: 3, updates: source.ck.adamCount });
    const after = readCheckpoint(findCheckpoint(runDir, 'latest').path);
    expect(after.step).toBe(2);
    expect(after.adamCount).toBe(source.ck.adamCount + 2);
  }, 120_000);

  it('resumed from its second checkpoint, it ends where the uninterrupted run ends (initFrom is not applied again)', async () => {
    const cfg = micro({ seed: 3, initFrom: source.path, steps: 6, checkpointEvery: 2 });
    const whole = tmp();
    await train(cfg, { runDir: whole, sink: () => {}, skipFinalArtifacts: true });
    const cut = tmp();
    await train(cfg, { runDir: cut, sink: () => {}, skipFinalArtifacts: true, haltAfterStep: 5 });
    const second = findCheckpoint(cut, 4);
    const resumed: EngineMessage[] = [];
    await train(cfg, { runDir: cut, sink: (m) => resumed.push(m), skipFinalArtifacts: true, resumeFrom: second.path });
    const started = resumed.find((m): m is StartedMessage => m.type === 'started')!;
    expect(started).toMatchObject({ step: 4, resumed: true });
    expect(started.initFrom).toBeUndefined();
    const a = readCheckpoint(findCheckpoint(whole, 6).path);
    const b = readCheckpoint(findCheckpoint(cut, 6).path);
    expect(b.adamCount).toBe(a.adamCount);
    for (const g of ['params', 'ema', 'adamM', 'adamV'] as const) expect(flat(b[g])).toEqual(flat(a[g]));
  }, 120_000);

  it('refuses a checkpoint of another model, naming the first tensor that differs and its architecture', () => {
    const state = new TrainState(micro({ ch: 8, normGroups: 4 }));
    try {
      expect(() => state.initFrom(source.ck, 'x.sadpm-ck')).toThrow(
        /initFrom: x\.sadpm-ck holds a different model \(tensor \d+: .*\); its architecture is ch 16, chMult 1,2/,
      );
    } finally {
      state.dispose();
    }
  });
});

describe('creating a run with initFrom', () => {
  let store: RunStore;
  beforeAll(() => {
    store = RunStore.open(tmp());
  });
  const fieldError = (input: Record<string, unknown>) => {
    try {
      resolveRunInput(store, input);
    } catch (err) {
      expect(err).toBeInstanceOf(RunConfigError);
      return (err as RunConfigError).issues;
    }
    throw new Error('expected a RunConfigError');
  };

  it('stores a file as its absolute path and a built-in starter by name', () => {
    const rel = join('.', source.path.slice(resolve('.').length + 1));
    const asFile = source.path.startsWith(resolve('.')) ? rel : source.path;
    expect(resolveRunInput(store, { ...micro(), initFrom: asFile }).cfg.initFrom).toBe(source.path);
    const demo = resolveRunInput(store, { ...RUN_PRESETS.demo! }).cfg;
    expect(demo.initFrom).toBe('builtin:starter-shapes');
  });

  it('refuses a missing file, an unknown starter and another model, under the field initFrom', () => {
    expect(fieldError({ ...micro(), initFrom: '/nowhere/ck.sadpm-ck' })).toEqual([
      { field: 'initFrom', message: 'no checkpoint file at /nowhere/ck.sadpm-ck' },
    ]);
    const [unknown] = fieldError({ ...micro(), initFrom: 'builtin:starter-cats' });
    expect(unknown).toMatchObject({
      field: 'initFrom',
      message: expect.stringMatching(/unknown built-in starter.*starter-shapes/),
    });
    const [other] = fieldError({ ...micro({ ch: 32 }), initFrom: source.path });
    expect(other!.field).toBe('initFrom');
    expect(other!.message).toContain('is a checkpoint of another model: ch 16 (this run: 32)');
  });
});

describe('the built-in starter of the demo', () => {
  it('fits the demo preset and draws recognisable shapes where random weights do not', async () => {
    const cfg = resolveRunConfig(RUN_PRESETS.demo!);
    const ck = readCheckpoint(resolveInitFrom('builtin:starter-shapes'));
    for (const f of ['ch', 'chMult', 'numResBlocks', 'attnResolutions', 'imageSize', 'schedule', 'T'] as const) {
      expect(ck.config[f], f).toEqual(cfg[f]);
    }
    const shapesOf = async (state: TrainState) => {
      const m = await writeRunSamples(state, tmp(), { n: 8, ema: true, sampler: 'ddpm', steps: 50, seed: 1 });
      return m.shapes!;
    };
    const fresh = new TrainState(cfg);
    const noise = await shapesOf(fresh);
    fresh.initFrom(ck, 'builtin:starter-shapes');
    const learned = await shapesOf(fresh);
    fresh.dispose();
    console.log(
      `starter: ${learned.recognised}/8 recognised (mean IoU ${learned.meanIou.toFixed(2)}); random: ${noise.recognised}/8`,
    );
    expect(learnedShapes(noise)).toBe(false);
    expect(learnedShapes(learned)).toBe(true);
  }, 180_000);
});
