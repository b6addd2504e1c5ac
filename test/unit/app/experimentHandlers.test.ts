/** The contract channels of issue 15: table pages and groups, zoomed metric windows, folder uploads. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices, type Services } from '../../../src/app/services';
import { dispatch, makeHandlers } from '../../../src/app/contract/handlers';
import { folderEntryPath } from '../../../src/app/folderUploads';
import { fakeSpawner } from './fakeEngine';

vi.mock('electron', () => ({}));

let dir: string;
let services: Services;
let handlers: ReturnType<typeof makeHandlers>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sadpm-exp-'));
  services = createServices({ dataDir: dir, spawn: fakeSpawner({ spawned: 0, commands: [] }), mode: 'web' });
  handlers = makeHandlers(services);
});

afterEach(async () => {
  await services.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (channel: string, req: unknown) => dispatch(handlers, channel, req);
const b64 = (s: string) => Buffer.from(s).toString('base64');

function seed(): number[] {
  const ids: number[] = [];
  for (const lambda of [0, 1]) {
    for (const seedValue of [0, 1, 2]) {
      const config = { dataset: 'builtin:shapes', preset: 'tiny', k: 2, lambda, T: 100, seed: seedValue, steps: 10 };
      const run = services.store.runs.create({
        name: `l${lambda}s${seedValue}`,
        config,
        appVersion: 't',
        status: 'completed',
      });
      services.store.runs.setProgress(run.id, 10, lambda + seedValue);
      ids.push(run.id);
    }
  }
  return ids;
}

describe('the experiment table over the contract', () => {
  it('pages sorted and filtered in the store, with the total of the filter', async () => {
    seed();
    const r = await call('runs.list', {
      sort: { key: 'loss', dir: 'desc' },
      where: [{ key: 'lambda', op: 'eq', value: 1 }],
      limit: 2,
      offset: 1,
    });
    expect(r.ok && (r.res as { runs: { name: string }[] }).runs.map((x) => x.name)).toEqual(['l1s1', 'l1s0']);
    expect(r.ok && (r.res as { total: number }).total).toBe(3);
    const bad = await call('runs.list', { where: [{ key: 'lambda', op: 'ge', value: 'x' }] });
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid', message: /where\.lambda: expected a number/ } });
    const unknown = await call('runs.list', { sort: { key: 'nope', dir: 'asc' } });
    expect(unknown).toMatchObject({
      ok: false,
      error: { code: 'invalid', message: /sort\.key: expected a run column/ },
    });
  });

  it('groups by a column with mean ± std per group', async () => {
    seed();
    const r = await call('runs.groups', { by: 'lambda', columns: ['loss'] });
    expect(r.ok).toBe(true);
    const groups = r.ok
      ? (r.res as { value: number; count: number; stats: Record<string, { mean: number; std: number }> }[])
      : [];
    const round = (x: number) => Math.round(x * 1e9) / 1e9;
    expect(groups.map((g) => [g.value, g.count, round(g.stats.loss!.mean), round(g.stats.loss!.std)])).toEqual([
      [0, 3, 1, 1],
      [1, 3, 2, 1],
    ]);
  });

  it('answers a zoomed window of several runs and metrics', async () => {
    const [a, b] = seed();
    services.store.metrics.append(
      a!,
      Array.from({ length: 100 }, (_, i) => ({ step: i + 1, name: 'loss', value: i })),
    );
    services.store.metrics.append(b!, [{ step: 50, name: 'loss', value: 7 }]);
    const r = await call('metrics.window', {
      runIds: [a, b],
      names: ['loss', 'wallTime'],
      from: 40,
      to: 60,
      maxPoints: 10,
    });
    const out = r.ok ? (r.res as { runId: number; series: { name: string; steps: number[]; total: number } }[]) : [];
    expect(out.map((x) => [x.runId, x.series.name, x.series.total])).toEqual([
      [a, 'loss', 21],
      [a, 'wallTime', 0],
      [b, 'loss', 1],
      [b, 'wallTime', 0],
    ]);
    expect(out[0]!.series.steps.length).toBe(10);
    expect(out[0]!.series.steps.every((s) => s >= 40 && s <= 60)).toBe(true);
  });
});

describe('folder uploads', () => {
  it('writes every file under its relative path and shows the folder only when complete', async () => {
    const begun = await call('files.folderBegin', { name: 'my pets', files: 3, bytes: 11 });
    const folderId = begun.ok ? (begun.res as { folderId: string }).folderId : '';
    const send = (relPath: string, offset: number, text: string, final: boolean) =>
      call('files.folderChunk', { folderId, relPath, offset, base64: b64(text), final });
    expect(await send('cat/a.png', 0, 'aa', false)).toMatchObject({ ok: true, res: { received: 2 } });
    expect(await send('cat/a.png', 2, 'aa', true)).toMatchObject({ ok: true, res: { received: 4 } });
    await send('cat/b.png', 0, 'bbb', true);
    await send('dog/c.png', 0, 'cccc', true);
    const visible = () => readdirSync(join(dir, 'uploads')).filter((f) => !f.startsWith('.'));
    expect(visible()).toEqual([]);
    const end = await call('files.folderEnd', { folderId });
    const path = end.ok ? (end.res as { path: string }).path : '';
    expect(path).toMatch(/uploads\/.*my_pets$/);
    expect(readFileSync(join(path, 'cat', 'a.png'), 'utf8')).toBe('aaaa');
    expect(readFileSync(join(path, 'dog', 'c.png'), 'utf8')).toBe('cccc');
    expect(visible()).toHaveLength(1);
  });

  it('refuses a path out of the folder, a short folder and a foreign connection, discarding the upload', async () => {
    const begin = async (files: number, bytes: number) => {
      const r = await call('files.folderBegin', { name: 'x', files, bytes });
      return r.ok ? (r.res as { folderId: string }).folderId : '';
    };
    const a = await begin(2, 4);
    const slip = await call('files.folderChunk', {
      folderId: a,
      relPath: '../evil.png',
      offset: 0,
      base64: b64('e'),
      final: true,
    });
    expect(slip).toMatchObject({
      ok: false,
      error: { code: 'invalid', message: /not a relative path inside the folder.*discarded/ },
    });
    expect(existsSync(join(dir, 'evil.png'))).toBe(false);
    expect(await call('files.folderEnd', { folderId: a })).toMatchObject({
      ok: false,
      error: { message: /no folder upload/ },
    });
    const b = await begin(2, 4);
    await call('files.folderChunk', { folderId: b, relPath: 'one.png', offset: 0, base64: b64('ab'), final: true });
    expect(await call('files.folderEnd', { folderId: b })).toMatchObject({
      ok: false,
      error: { message: /1 of 2 files, 2 of 4 bytes/ },
    });
    const c = await begin(1, 2);
    const other = makeHandlers(services);
    const theirs = await dispatch(other, 'files.folderChunk', {
      folderId: c,
      relPath: 'a',
      offset: 0,
      base64: b64('ab'),
      final: true,
    });
    expect(theirs).toMatchObject({ ok: false, error: { message: /no folder upload/ } });
    expect(readdirSync(join(dir, 'uploads')).filter((f) => !f.startsWith('.part-dir-' + c))).toEqual([]);
  });

  it('accepts only relative paths that stay inside (property)', () => {
    const root = '/data/uploads/.part-dir-x';
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b.png', '..', '.', '', '/', '\\', 'C:', 'é'), { minLength: 1, maxLength: 6 }),
        (parts) => {
          const rel = parts.join('/');
          let path: string | null = null;
          try {
            path = folderEntryPath(root, rel);
          } catch (e) {
            expect((e as Error).message).toMatch(/is not a relative path inside the folder/);
          }
          if (path !== null) {
            expect(path.startsWith(root + '/')).toBe(true);
            expect(rel.split('/').every((p) => p !== '..' && p !== '.' && p !== '')).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
