/**
 * Ingestion of a remote run's engine.jsonl (issue 16): by byte offset, complete lines only, exactly once across
 * restarts and failed writes, with the history rewound at each attempt's 'started' (a requeued task resumes).
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { folderMapper, IngestStoreError, MessageIngestor } from '../../../src/app/ingest';
import type { EngineMessage } from '../../../src/shared/engineMessages';
import type { RunStore } from '../../../src/store/runStore';
import { freshStore, newRun } from '../store/helpers';

const started = (step: number, runDir: string, resumed = step > 0): EngineMessage => ({
  type: 'started',
  runDir,
  step,
  totalSteps: 10,
  backend: 'cpu',
  adapter: 'cpu (test)',
  params: 5,
  datasetCount: 4,
  resumed,
});
const progress = (step: number): EngineMessage => ({
  type: 'progress',
  step,
  totalSteps: 10,
  loss: 1 / step,
  simple: 0.5 / step,
  sa: 0.5 / step,
  gradNorm: 1,
  lr: 1e-3,
  imagesPerSec: 5,
  msPerStep: 10,
  etaSec: 1,
  memory: { numTensors: 3, numBytes: 100 },
});
const checkpoint = (step: number, runDir: string): EngineMessage => ({
  type: 'checkpoint',
  step,
  path: `${runDir}/checkpoints/ckpt-${String(step).padStart(7, '0')}.sadpm-ck`,
  bytes: 9,
});
const samples = (step: number, runDir: string): EngineMessage => ({
  type: 'samples',
  step,
  path: `${runDir}/samples/s${step}.png`,
  n: 4,
  sampler: 'ddim',
  sampleSteps: 3,
  ema: true,
});
const finished = (step: number, runDir: string, reason: 'completed' | 'stopped'): EngineMessage => ({
  type: 'finished',
  step,
  reason,
  runDir,
});
const line = (m: EngineMessage) => JSON.stringify(m) + '\n';

function setup() {
  const store = freshStore();
  const run = store.runs.create(newRun({ cfg: { steps: 10 } }));
  mkdirSync(run.runDir, { recursive: true });
  store.remote.add(run.id, { test: true }, 7, 0);
  const file = join(run.runDir, 'engine.jsonl');
  writeFileSync(file, '');
  return { store, run, file };
}

function lossSteps(store: RunStore, runId: number): number[] {
  const s = store.metrics.series(runId, 'loss', 100_000);
  return s.steps;
}

describe('MessageIngestor', () => {
  it('records complete lines only, by byte offset, and continues where it stopped', () => {
    const { store, run, file } = setup();
    const ing = new MessageIngestor(store);
    const first = line(started(0, run.runDir)) + line(progress(1)) + line(progress(2));
    const half = line(progress(3));
    appendFileSync(file, first + half.slice(0, 10));
    const a = ing.ingest(run.id, { file });
    expect(a.messages.map((m) => m.type)).toEqual(['started', 'progress', 'progress']);
    expect(a.offset).toBe(Buffer.byteLength(first));
    expect(store.remote.get(run.id)!.offset).toBe(a.offset);
    expect(lossSteps(store, run.id)).toEqual([1, 2]);
    // Nothing new is complete: nothing is read.
    expect(ing.ingest(run.id, { file }).messages).toEqual([]);
    appendFileSync(file, half.slice(10) + line(checkpoint(3, run.runDir)));
    const b = ing.ingest(run.id, { file });
    expect(b.messages.map((m) => m.type)).toEqual(['progress', 'checkpoint']);
    expect(lossSteps(store, run.id)).toEqual([1, 2, 3]);
    expect(store.checkpoints.list(run.id).map((c) => c.step)).toEqual([3]);
    // The checkpoint carries the metrics last seen before it, as for a local run.
    expect(store.checkpoints.list(run.id)[0]!.metrics.loss).toBeCloseTo(1 / 3);
    expect(store.runs.get(run.id)).toMatchObject({ step: 3, backend: 'cpu' });
  });

  it('a restart (a new ingestor) neither repeats nor skips a line: samples are not duplicated', () => {
    const { store, run, file } = setup();
    appendFileSync(file, line(started(0, run.runDir)) + line(progress(1)) + line(samples(1, run.runDir)));
    new MessageIngestor(store).ingest(run.id, { file });
    appendFileSync(file, line(progress(2)) + line(samples(2, run.runDir)));
    const again = new MessageIngestor(store).ingest(run.id, { file });
    expect(again.messages.map((m) => m.type)).toEqual(['progress', 'samples']);
    expect(new MessageIngestor(store).ingest(run.id, { file }).messages).toEqual([]);
    expect(store.samples.list(run.id).map((s) => s.step)).toEqual([1, 2]);
  });

  it("a 'started' at step S (a resume after a requeue) drops what was recorded past S, like a local resume", () => {
    const { store, run, file } = setup();
    const ing = new MessageIngestor(store);
    const attempt1 = [
      started(0, run.runDir),
      progress(1),
      progress(2),
      checkpoint(2, run.runDir),
      progress(3),
      samples(3, run.runDir),
      progress(4),
      finished(4, run.runDir, 'stopped'),
    ];
    appendFileSync(file, attempt1.map(line).join(''));
    expect(ing.ingest(run.id, { file }).end).toEqual({ status: 'stopped', reason: null });
    expect(store.remote.get(run.id)!.attemptEnd).toEqual({ status: 'stopped', reason: null });
    // The requeued task resumes from the checkpoint at step 2 (it was killed before checkpointing at 4).
    const attempt2 = [started(2, run.runDir, true), progress(3), progress(4), progress(5)];
    appendFileSync(file, attempt2.map(line).join(''));
    const r = ing.ingest(run.id, { file });
    expect(r.end).toBeNull();
    expect(lossSteps(store, run.id)).toEqual([1, 2, 3, 4, 5]);
    // Values of steps 3 and 4 are the second attempt's, and the sample of the lost step 3 is gone.
    expect(store.samples.list(run.id)).toEqual([]);
    expect(store.checkpoints.list(run.id).map((c) => c.step)).toEqual([2]);
    expect(store.runs.get(run.id)!.step).toBe(5);
  });

  it('the rewind and the lines after it land together: a rewind in the same read as its attempt', () => {
    const { store, run, file } = setup();
    const all = [
      started(0, run.runDir),
      progress(1),
      progress(2),
      progress(3),
      started(1, run.runDir, true),
      progress(2),
      checkpoint(2, run.runDir),
      finished(2, run.runDir, 'completed'),
    ];
    appendFileSync(file, all.map(line).join(''));
    const r = new MessageIngestor(store).ingest(run.id, { file });
    expect(r.end).toEqual({ status: 'completed', reason: null });
    expect(lossSteps(store, run.id)).toEqual([1, 2]);
    expect(store.runs.get(run.id)!.step).toBe(2);
  });

  it('skips lines that are not engine messages, naming where they are, and goes on', () => {
    const { store, run, file } = setup();
    appendFileSync(file, 'Warning: stray output\n' + line(progress(1)) + '{"type":"progress"}\n\n' + line(progress(2)));
    const r = new MessageIngestor(store).ingest(run.id, { file });
    expect(r.messages.map((m) => m.type)).toEqual(['progress', 'progress']);
    expect(r.skipped).toHaveLength(2);
    expect(r.skipped[0]).toMatch(/engine\.jsonl at byte 0: not JSON/);
    expect(r.skipped[1]).toMatch(/not an engine message/);
  });

  it('reads a long backlog in chunks, each ending at a line end', () => {
    const { store, run, file } = setup();
    const msgs = [started(0, run.runDir), ...Array.from({ length: 40 }, (_, i) => progress(i + 1))];
    appendFileSync(file, msgs.map(line).join(''));
    const ing = new MessageIngestor(store, 1000);
    let reads = 0;
    for (let r = ing.ingest(run.id, { file }); ; r = ing.ingest(run.id, { file })) {
      reads += 1;
      if (!r.more) break;
    }
    expect(reads).toBeGreaterThan(5);
    expect(lossSteps(store, run.id)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('maps paths of the cluster to this machine (ssh: the run folder is pulled into another folder)', () => {
    const { store, run, file } = setup();
    const remote = '/cluster/scratch/runs/1-run';
    appendFileSync(file, line(started(0, remote)) + line(progress(1)) + line(checkpoint(1, remote)));
    const r = new MessageIngestor(store).ingest(run.id, { file, mapPath: folderMapper(remote, run.runDir) });
    expect(r.messages[0]).toMatchObject({ runDir: run.runDir });
    expect(store.checkpoints.list(run.id)[0]!.path).toBe(`${run.runDir}/checkpoints/ckpt-0000001.sadpm-ck`);
    const map = folderMapper('/a/b/', '/c');
    expect([map('/a/b'), map('/a/b/x/y'), map('/a/bc/x'), map('/z')]).toEqual(['/c', '/c/x/y', '/a/bc/x', '/z']);
  });

  it('a failed write stores nothing of the read; the next read records it all once', () => {
    const { store, run, file } = setup();
    const ing = new MessageIngestor(store);
    appendFileSync(file, line(started(0, run.runDir)) + line(progress(1)) + line(samples(1, run.runDir)));
    expect(() =>
      ing.ingest(run.id, {
        file,
        settle: () => {
          throw new Error('disk full (simulated)');
        },
      }),
    ).toThrow(IngestStoreError);
    expect(store.remote.get(run.id)!.offset).toBe(0);
    expect(store.samples.list(run.id)).toEqual([]);
    expect(lossSteps(store, run.id)).toEqual([]);
    ing.ingest(run.id, { file });
    expect(store.samples.list(run.id)).toHaveLength(1);
    expect(lossSteps(store, run.id)).toEqual([1]);
  });

  it('a file shorter than the offset was replaced: it is read again from its start', () => {
    const { store, run, file } = setup();
    const ing = new MessageIngestor(store);
    appendFileSync(file, [started(0, run.runDir), progress(1), progress(2), progress(3)].map(line).join(''));
    ing.ingest(run.id, { file });
    writeFileSync(file, [started(0, run.runDir), progress(1)].map(line).join(''));
    const r = ing.ingest(run.id, { file });
    expect(r.restarted).toBe(true);
    expect(lossSteps(store, run.id)).toEqual([1]);
  });

  it('property: however the appends are cut, every step is recorded once and the offset ends at the end', () => {
    const msgs = [started(0, '/r'), ...Array.from({ length: 12 }, (_, i) => progress(i + 1))];
    const text = msgs.map(line).join('');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: text.length }), { maxLength: 8 }), fc.boolean(), (cuts, again) => {
        const { store, run, file } = setup();
        let ing = new MessageIngestor(store, 300);
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        let at = 0;
        for (const p of [...points, text.length]) {
          appendFileSync(file, text.slice(at, p));
          at = p;
          if (again) ing = new MessageIngestor(store, 300);
          while (ing.ingest(run.id, { file }).more);
        }
        const ok =
          lossSteps(store, run.id).join() ===
            msgs
              .slice(1)
              .map((_, i) => i + 1)
              .join() && store.remote.get(run.id)!.offset === Buffer.byteLength(text);
        store.close();
        return ok;
      }),
      { numRuns: 40 },
    );
  });
});
