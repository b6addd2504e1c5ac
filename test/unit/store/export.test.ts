import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { exportBundle, exportMetrics, metricsCsv, metricsJson } from '../../../src/store/export';
import { freshStore, newRun, tmpDir } from './helpers';

function seeded() {
  const store = freshStore();
  const r = store.runs.create(newRun({ name: 'my run/1' }));
  store.metrics.append(r.id, [
    { step: 1, name: 'loss', value: 0.75 },
    { step: 1, name: 'lr', value: 0.0002 },
    { step: 2, name: 'loss', value: 0.5 },
    { step: 3, name: 'lr', value: 0.0001 },
    { step: 3, name: 'loss', value: 1e-7 },
  ]);
  store.gaps.add({ runId: r.id, step: 3, t0: 2, t: [2, 1], meanAbs: [0.1, 0.2], l2: [1, 2], signedMean: [0, 1] });
  return { store, r };
}

describe('metric exports', () => {
  it('CSV: one row per step, one column per metric, blanks where a metric was not logged', () => {
    const { store, r } = seeded();
    expect(metricsCsv(store, r.id)).toBe('step,loss,lr\n1,0.75,0.0002\n2,0.5,\n3,1e-7,0.0001\n');
    const empty = store.runs.create(newRun());
    expect(metricsCsv(store, empty.id)).toBe('step\n');
    store.close();
  });

  it('JSON: the run, each series and the gap curves', () => {
    const { store, r } = seeded();
    const j = JSON.parse(metricsJson(store, r.id));
    expect(j.run).toMatchObject({ id: r.id, name: 'my run/1' });
    expect(j.metrics).toEqual({
      loss: { steps: [1, 2, 3], values: [0.75, 0.5, 1e-7] },
      lr: { steps: [1, 3], values: [0.0002, 0.0001] },
    });
    expect(j.gap).toHaveLength(1);
    expect(j.gap[0]).toMatchObject({ step: 3, meanAbs: [0.1, 0.2] });
    store.close();
  });

  it('exportMetrics writes the file atomically and records the export', () => {
    const { store, r } = seeded();
    const out = join(tmpDir(), 'm.csv');
    const bytes = exportMetrics(store, r.id, out, 'csv');
    expect(readFileSync(out, 'utf8')).toBe(metricsCsv(store, r.id));
    expect(bytes).toBe(readFileSync(out).length);
    expect(readdirSync(join(out, '..')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(store.db.prepare('SELECT run_id, kind, path, bytes FROM exports').all()).toEqual([
      { run_id: r.id, kind: 'metrics-csv', path: out, bytes },
    ]);
    store.close();
  });
});

describe('run bundle (.tar.gz)', () => {
  it('holds config, metrics, gap, chosen checkpoints and samples; tar extracts identical bytes', async () => {
    const { store, r } = seeded();
    const ckDir = join(r.runDir, 'checkpoints');
    const smDir = join(r.runDir, 'samples');
    mkdirSync(ckDir, { recursive: true });
    mkdirSync(smDir, { recursive: true });
    const files: Record<string, Buffer> = {};
    // Sizes around the 512-byte tar block, and one large file that streams in several chunks.
    for (const [step, size] of [
      [1, 511],
      [2, 512],
      [3, 300_001],
    ] as const) {
      const p = join(ckDir, `ckpt-${step}.sadpm-ck`);
      files[p] = randomBytes(size);
      writeFileSync(p, files[p]!);
      store.checkpoints.add({ runId: r.id, step, kind: 'full', path: p, bytes: size, metrics: {} });
    }
    const png = join(smDir, 'step-3.png');
    files[png] = randomBytes(1000);
    writeFileSync(png, files[png]!);
    writeFileSync(join(smDir, 'step-3.json'), '{"seed":1}\n');
    store.samples.add({
      runId: r.id,
      checkpointId: null,
      step: 3,
      sampler: 'ddim',
      sampleSteps: 5,
      spacing: null,
      eta: null,
      seed: 1,
      n: 4,
      ema: false,
      path: png,
    });
    store.samples.add({
      runId: r.id,
      checkpointId: null,
      step: 3,
      sampler: 'ddim',
      sampleSteps: 5,
      spacing: null,
      eta: null,
      seed: 2,
      n: 4,
      ema: false,
      path: join(smDir, 'gone.png'),
    });

    const outDir = tmpDir();
    const out = join(outDir, 'bundle.tar.gz');
    const res = await exportBundle(store, r.id, out, { checkpoints: [1, 3] });
    expect(readdirSync(outDir)).toEqual(['bundle.tar.gz']);
    const x = tmpDir();
    const tar = spawnSync('tar', ['xzf', out, '-C', x], { encoding: 'utf8' });
    expect(tar.status, tar.stderr).toBe(0);
    const root = join(x, `run-${r.id}-my_run_1`);
    expect(readdirSync(root).sort()).toEqual([
      'checkpoints',
      'config.json',
      'gap.json',
      'metrics.csv',
      'run.json',
      'samples',
    ]);
    expect(readdirSync(join(root, 'checkpoints')).sort()).toEqual(['ckpt-1.sadpm-ck', 'ckpt-3.sadpm-ck']);
    expect(
      readFileSync(join(root, 'checkpoints', 'ckpt-1.sadpm-ck')).equals(files[join(ckDir, 'ckpt-1.sadpm-ck')]!),
    ).toBe(true);
    expect(
      readFileSync(join(root, 'checkpoints', 'ckpt-3.sadpm-ck')).equals(files[join(ckDir, 'ckpt-3.sadpm-ck')]!),
    ).toBe(true);
    expect(readFileSync(join(root, 'samples', 'step-3.png')).equals(files[png]!)).toBe(true);
    expect(readFileSync(join(root, 'samples', 'step-3.json'), 'utf8')).toBe('{"seed":1}\n');
    expect(readdirSync(join(root, 'samples')).sort()).toEqual(['step-3.json', 'step-3.png']);
    expect(readFileSync(join(root, 'metrics.csv'), 'utf8')).toBe(metricsCsv(store, r.id));
    expect(JSON.parse(readFileSync(join(root, 'config.json'), 'utf8'))).toEqual(r.config);
    expect(JSON.parse(readFileSync(join(root, 'run.json'), 'utf8'))).toMatchObject({ id: r.id, name: 'my run/1' });
    expect(JSON.parse(readFileSync(join(root, 'gap.json'), 'utf8'))[0]).toMatchObject({ step: 3 });
    expect(res.entries).toHaveLength(8);
    expect(res.bytes).toBe(readFileSync(out).length);

    // Default: only the latest checkpoint; 'none' and 'all' too.
    const latest = join(outDir, 'latest.tar.gz');
    const l = await exportBundle(store, r.id, latest);
    expect(l.entries.filter((e) => e.includes('/checkpoints/'))).toEqual([
      `run-${r.id}-my_run_1/checkpoints/ckpt-3.sadpm-ck`,
    ]);
    expect(
      (await exportBundle(store, r.id, join(outDir, 'n.tar.gz'), { checkpoints: 'none', samples: false })).entries,
    ).toHaveLength(4);
    expect(
      (await exportBundle(store, r.id, join(outDir, 'a.tar.gz'), { checkpoints: 'all' })).entries.filter((e) =>
        e.includes('/checkpoints/'),
      ),
    ).toHaveLength(3);
    const listing = spawnSync('tar', ['tzf', latest], { encoding: 'utf8' });
    expect(listing.status).toBe(0);
    store.close();
  });

  it('a missing step or a missing file is a clear error and leaves no partial archive', async () => {
    const { store, r } = seeded();
    mkdirSync(join(r.runDir, 'checkpoints'), { recursive: true });
    store.checkpoints.add({
      runId: r.id,
      step: 5,
      kind: 'full',
      path: join(r.runDir, 'checkpoints', 'gone.sadpm-ck'),
      bytes: 1,
      metrics: {},
    });
    const outDir = tmpDir();
    await expect(exportBundle(store, r.id, join(outDir, 'x.tar.gz'), { checkpoints: [4] })).rejects.toThrow(
      /no checkpoint at step 4 \(it has 5\)/,
    );
    await expect(exportBundle(store, r.id, join(outDir, 'x.tar.gz'))).rejects.toThrow(
      /gone\.sadpm-ck \(step 5\) is missing/,
    );
    expect(readdirSync(outDir)).toEqual([]);
    expect(existsSync(join(outDir, 'x.tar.gz'))).toBe(false);
    store.close();
  });

  it('long entry names are split into ustar prefix + name', async () => {
    const store = freshStore();
    const r = store.runs.create(newRun({ name: 'n'.repeat(58) }));
    const dir = join(r.runDir, 'checkpoints');
    mkdirSync(dir, { recursive: true });
    const long = join(dir, `${'c'.repeat(80)}.sadpm-ck`);
    writeFileSync(long, 'abc');
    store.checkpoints.add({ runId: r.id, step: 1, kind: 'full', path: long, bytes: 3, metrics: {} });
    const out = join(tmpDir(), 'l.tar.gz');
    await exportBundle(store, r.id, out);
    const x = tmpDir();
    expect(spawnSync('tar', ['xzf', out, '-C', x]).status).toBe(0);
    expect(
      readFileSync(join(x, `run-${r.id}-${'n'.repeat(58)}`, 'checkpoints', `${'c'.repeat(80)}.sadpm-ck`), 'utf8'),
    ).toBe('abc');
    store.close();
  });
});
