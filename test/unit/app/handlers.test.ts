import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices, type Services } from '../../../src/app/services';
import { dispatch, makeHandlers } from '../../../src/app/contract/handlers';
import { registerIpc, trustedSender } from '../../../src/main/ipc';
import { allowedFile } from '../../../src/app/fileAccess';
import { fakeSpawner, type FakeEngineLog } from './fakeEngine';

vi.mock('electron', () => ({}));

let dir: string;
let services: Services;
let log: FakeEngineLog;
let handlers: ReturnType<typeof makeHandlers>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sadpm-handlers-'));
  log = { spawned: 0, commands: [] };
  services = createServices({ dataDir: dir, spawn: fakeSpawner(log), mode: 'web', flushMs: 5 });
  // One client for the whole test, as one window or one WebSocket is: uploads belong to it.
  handlers = makeHandlers(services);
});

afterEach(async () => {
  await services.close();
  rmSync(dir, { recursive: true, force: true });
});

const tiny = { preset: 'tiny', T: 50, gapT0: 20, steps: 6, checkpointEvery: 2, batch: 2 };

async function call(channel: string, req: unknown) {
  return dispatch(handlers, channel, req);
}

function waitFor(pred: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () =>
      pred() ? resolve() : Date.now() - t0 > ms ? reject(new Error('timed out')) : setTimeout(tick, 5);
    tick();
  });
}

describe('dispatch', () => {
  it('refuses unknown channels and invalid payloads with a message naming the field', async () => {
    expect(await call('runs.nope', {})).toMatchObject({
      ok: false,
      error: { code: 'invalid', message: "unknown channel 'runs.nope'" },
    });
    const r = await call('runs.get', { id: 'abc' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.message).toMatch(/^runs\.get: id: /);
    expect(await call('runs.get', { id: 99 })).toMatchObject({
      ok: false,
      error: { code: 'not_found', message: 'no run #99' },
    });
  });

  it('validates a run config field by field and estimates it', async () => {
    const bad = await call('runs.validate', { config: { ...tiny, k: 0, lr: -1 } });
    expect(bad.ok && bad.res).toMatchObject({ ok: false });
    const fields = bad.ok ? (bad.res as { errors: { field: string }[] }).errors.map((e) => e.field).sort() : [];
    expect(fields).toEqual(['k', 'lr']);
    const good = await call('runs.validate', { config: tiny });
    expect(good.ok && good.res).toMatchObject({
      ok: true,
      config: { imageSize: 16, channels: 3, k: 2 },
      estimate: { params: 177427 },
    });
    const ds = await call('runs.validate', { config: { ...tiny, dataset: 'no-such-dataset' } });
    expect(ds.ok && (ds.res as { errors: { field: string; message: string }[] }).errors[0]).toMatchObject({
      field: 'dataset',
    });
  });

  it('refuses unknown config fields in runs.validate and runs.create, naming the nearest valid one', async () => {
    const v = await call('runs.validate', { config: { ...tiny, lamda: 5 } });
    const message = "unknown field 'lamda' (did you mean 'lambda'?)";
    expect(v.ok && v.res).toMatchObject({ ok: false, errors: [{ field: 'lamda', message }] });
    const c = await call('runs.create', { config: { ...tiny, lamda: 5 } });
    expect(c).toMatchObject({
      ok: false,
      error: { code: 'invalid', message: `runs.create: config.lamda: ${message}` },
    });
    const list = await call('runs.list', {});
    expect(list.ok && (list.res as { total: number }).total).toBe(0);
  });

  it('creates, queues, runs and records a run; pause and resume continue it', async () => {
    const seen: string[] = [];
    services.subscribe((e) => seen.push(e));
    const created = await call('runs.create', { config: { ...tiny, steps: 400 }, tags: ['x'], notes: 'n' });
    expect(created.ok, JSON.stringify(created)).toBe(true);
    const id = (created as { res: { id: number } }).res.id;
    await waitFor(() => services.store.runs.get(id)!.status === 'running' && services.store.runs.get(id)!.step >= 3);
    expect((await call('runs.pause', { id })).ok).toBe(true);
    await waitFor(() => services.store.runs.get(id)!.status === 'paused');
    const ck = services.store.checkpoints.latest(id)!;
    expect(ck.step).toBeGreaterThanOrEqual(3);
    const resumed = await call('runs.resume', { id });
    expect(resumed.ok, JSON.stringify(resumed)).toBe(true);
    await waitFor(() => services.store.runs.get(id)!.status === 'completed', 10000);
    const train = log.commands.filter((c) => c.cmd === 'train');
    expect(train).toHaveLength(2);
    expect(train[1]).toMatchObject({ resumeFrom: ck.path });
    const loss = services.store.metrics.series(id, 'loss', 100000);
    expect(loss.steps).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    expect(seen).toContain('run.message');
    expect(seen).toContain('run.updated');
  });

  it('a refused resume leaves the run as it was', async () => {
    const created = (await call('runs.create', { config: tiny })) as { res: { id: number } };
    const id = created.res.id;
    await waitFor(() => services.store.runs.get(id)!.status === 'completed');
    writeFileSync(services.store.checkpoints.latest(id)!.path, 'not a checkpoint');
    const r = await call('runs.resume', { id, steps: 10 });
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: /cannot resume from its last checkpoint/ },
    });
    expect(services.store.runs.get(id)).toMatchObject({ status: 'completed', totalSteps: 6 });
  });

  it('queues runs on one GPU: the second waits until the first ends', async () => {
    const a = (await call('runs.create', { config: tiny })) as { res: { id: number } };
    const b = (await call('runs.create', { config: tiny })) as { res: { id: number } };
    expect(services.store.runs.get(b.res.id)!.status).toBe('queued');
    await waitFor(() => services.store.runs.get(b.res.id)!.status === 'completed', 10000);
    const firstEnded = services.store.runs.get(a.res.id)!.endedAt!;
    const secondStarted = services.store.runs.get(b.res.id)!.startedAt!;
    expect(firstEnded <= secondStarted).toBe(true);
    // Two at once when allowed.
    expect((await call('app.setConcurrency', { concurrency: 2 })).ok).toBe(true);
    const c = (await call('runs.create', { config: { ...tiny, steps: 200 } })) as { res: { id: number } };
    const d = (await call('runs.create', { config: { ...tiny, steps: 200 } })) as { res: { id: number } };
    await waitFor(() => services.runs.isActive(c.res.id) && services.runs.isActive(d.res.id));
  });

  it('serves only files under the data folder or run folders', async () => {
    const outside = join(tmpdir(), `sadpm-outside-${process.pid}.png`);
    writeFileSync(outside, 'x');
    // The one rule for the files the page may load (web mode's /files and Electron's sadpm-file://).
    expect(allowedFile(services.store, outside)).toBeNull();
    rmSync(outside);
    const begun = (await call('files.uploadBegin', { fileName: '../../evil name.npy', bytes: 5 })) as {
      res: { uploadId: string };
    };
    const uploadId = begun.res.uploadId;
    expect(
      await call('files.uploadChunk', { uploadId, offset: 0, base64: Buffer.from('hel').toString('base64') }),
    ).toMatchObject({ ok: true, res: { received: 3 } });
    expect(await call('files.uploadEnd', { uploadId })).toMatchObject({
      ok: false,
      error: { code: 'invalid', message: /3 of 5 bytes arrived/ },
    });
    expect(await call('files.uploadChunk', { uploadId, offset: 1, base64: 'AA==' })).toMatchObject({
      ok: false,
      error: { message: /expected byte 3/ },
    });
    expect(
      await call('files.uploadChunk', { uploadId, offset: 3, base64: Buffer.from('lo').toString('base64') }),
    ).toMatchObject({ ok: true, res: { received: 5 } });
    const up = await call('files.uploadEnd', { uploadId });
    expect(up.ok).toBe(true);
    const path = (up as { res: { path: string } }).res.path;
    expect(await call('files.uploadEnd', { uploadId })).toMatchObject({
      ok: false,
      error: { message: /no upload .* in progress/ },
    });
    expect(path.startsWith(join(dir, 'uploads'))).toBe(true);
    expect(allowedFile(services.store, path)).toBe(path);
    expect(readFileSync(path, 'utf8')).toBe('hello');
    expect(await call('dialog.pick', { kind: 'folder' })).toMatchObject({
      ok: false,
      error: { message: /only in the desktop app/ },
    });
  });

  it('refuses an upload chunk that is not strict base64 and writes none of it', async () => {
    const begun = (await call('files.uploadBegin', { fileName: 'a.npy', bytes: 6 })) as { res: { uploadId: string } };
    const uploadId = begun.res.uploadId;
    for (const base64 of ['aGVs bG8h', 'aGVsbG8', 'aGVs*G8h', 'aG==bG8h']) {
      const r = await call('files.uploadChunk', { uploadId, offset: 0, base64 });
      const message = /files.uploadChunk base64 .*offset 0.*: invalid base64/;
      expect(r).toMatchObject({ ok: false, error: { code: 'invalid', message } });
    }
    expect(readFileSync(join(dir, 'uploads', `.part-${uploadId}`)).length).toBe(0);
    const good = await call('files.uploadChunk', { uploadId, offset: 0, base64: 'aGVsbG8h' });
    expect(good).toMatchObject({ ok: true, res: { received: 6 } });
    const end = (await call('files.uploadEnd', { uploadId })) as { res: { path: string } };
    expect(readFileSync(end.res.path, 'utf8')).toBe('hello!');
  });
});

describe('Electron IPC', () => {
  it('registers one handler per channel and refuses untrusted senders', async () => {
    const handlers = new Map<string, (e: unknown, req: unknown) => Promise<unknown>>();
    const ipcMain = {
      handle: (ch: string, fn: (e: unknown, req: unknown) => Promise<unknown>) => handlers.set(ch, fn),
    };
    const fileUrl = 'file:///app/out/renderer/index.html';
    registerIpc(ipcMain as never, makeHandlers(services), trustedSender(fileUrl));
    expect(handlers.has('runs.list')).toBe(true);
    const list = handlers.get('runs.list')!;
    expect(await list({ senderFrame: { url: 'https://evil.example/' } }, {})).toMatchObject({
      ok: false,
      error: { message: /untrusted/ },
    });
    expect(await list({ senderFrame: { url: `${fileUrl}#/runs` } }, {})).toMatchObject({
      ok: true,
      res: { runs: [], total: 0 },
    });
    expect(await list({ senderFrame: null }, {})).toMatchObject({ ok: false });
  });
});
