/**
 * runs.overview (issue 15): what the app shell loads at start instead of every run: runs by status and kind, and
 * the tags in use with their counts (most used first, capped, with the number of tags in all). A request with
 * fields is refused by name.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices, type Services } from '../../../src/app/services';
import { dispatch, makeHandlers } from '../../../src/app/contract/handlers';
import { MAX_OVERVIEW_TAGS } from '../../../src/shared/runColumns';
import { fakeSpawner } from './fakeEngine';

vi.mock('electron', () => ({}));

let dir: string;
let services: Services;
let handlers: ReturnType<typeof makeHandlers>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sadpm-overview-'));
  services = createServices({ dataDir: dir, spawn: fakeSpawner({ spawned: 0, commands: [] }), mode: 'web' });
  handlers = makeHandlers(services);
});

afterEach(async () => {
  await services.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (channel: string, req: unknown) => dispatch(handlers, channel, req);
const config = { dataset: 'builtin:shapes', preset: 'tiny', k: 2, lambda: 1, T: 100, seed: 0, steps: 10 };

describe('runs.overview', () => {
  it('counts an empty store', async () => {
    expect(await call('runs.overview', {})).toEqual({
      ok: true,
      res: { total: 0, byStatus: {}, byKind: {}, tags: [], tagsTotal: 0 },
    });
  });

  it('counts runs by status and kind and tags by use, without listing runs', async () => {
    const runs = services.store.runs;
    const statuses = ['completed', 'completed', 'failed', 'queued', 'completed'] as const;
    statuses.forEach((status, i) =>
      runs.create({ name: `r${i}`, config, appVersion: 't', status, tags: i % 2 ? ['odd', 'all'] : ['all'] }),
    );
    const r = await call('runs.overview', {});
    expect(r).toEqual({
      ok: true,
      res: {
        total: 5,
        byStatus: { completed: 3, failed: 1, queued: 1 },
        byKind: { train: 5 },
        tags: [
          { tag: 'all', count: 5 },
          { tag: 'odd', count: 2 },
        ],
        tagsTotal: 2,
      },
    });
  });

  it('keeps the most used tags when there are more than it sends, and says how many there are', async () => {
    const n = MAX_OVERVIEW_TAGS + 5;
    services.store.writeTransaction(() => {
      for (let i = 0; i < n; i++) {
        services.store.runs.create({ name: `r${i}`, config, appVersion: 't', tags: [`t${i}`, 'common'] });
      }
    });
    const r = await call('runs.overview', {});
    const res = r.ok ? (r.res as { tags: { tag: string; count: number }[]; tagsTotal: number; total: number }) : null;
    expect(res?.total).toBe(n);
    expect(res?.tags).toHaveLength(MAX_OVERVIEW_TAGS);
    expect(res?.tags[0]).toEqual({ tag: 'common', count: n });
    expect(res?.tagsTotal).toBe(n + 1);
  });

  it('refuses a request with fields, naming them', async () => {
    const r = await call('runs.overview', { limit: 5 });
    expect(r).toMatchObject({ ok: false, error: { code: 'invalid', message: expect.stringContaining('limit') } });
  });
});
