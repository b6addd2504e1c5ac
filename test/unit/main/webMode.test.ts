import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createServices, type Services } from '../../../src/main/services';
import { startWebServer, type WebServer } from '../../../src/main/webMode';
import { fakeSpawner } from './fakeEngine';

let dir: string;
let services: Services;
let server: WebServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sadpm-web-'));
  const renderer = join(dir, 'renderer');
  mkdirSync(join(renderer, 'assets'), { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(renderer, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'secret');
  services = createServices({ dataDir: join(dir, 'data'), spawn: fakeSpawner({ spawned: 0, commands: [] }), mode: 'web', flushMs: 5 });
  server = await startWebServer({ services, rendererDir: renderer });
});

afterAll(async () => {
  await server.close();
  await services.close();
  rmSync(dir, { recursive: true, force: true });
});

function connect(origin: string, token = server.token): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${token}`, { origin });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function request(ws: WebSocket, id: number, channel: string, req: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const on = (data: WebSocket.RawData) => {
      const f = JSON.parse(String(data));
      if (f.id === id) {
        ws.off('message', on);
        resolve(f);
      }
    };
    ws.on('message', on);
    ws.send(JSON.stringify({ id, channel, req }));
  });
}

describe('web mode', () => {
  it('binds to 127.0.0.1 and needs the token; the token page sets an HttpOnly cookie for assets', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/);
    expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(403);
    expect((await fetch(`http://127.0.0.1:${server.port}/?token=wrong`)).status).toBe(403);
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    const cookie = page.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const asset = await fetch(`http://127.0.0.1:${server.port}/assets/app.js`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    const escape = await fetch(`http://127.0.0.1:${server.port}/..%2Fsecret.txt`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(escape.status).toBe(404);
  });

  it('refuses WebSockets from another origin or without the token', async () => {
    await expect(connect('http://evil.example')).rejects.toThrow(/403/);
    await expect(connect(`http://127.0.0.1:${server.port}`, 'nope')).rejects.toThrow(/403/);
  });

  it('answers contract calls and pushes events over one socket', async () => {
    const ws = await connect(`http://127.0.0.1:${server.port}`);
    const events: string[] = [];
    ws.on('message', (d) => {
      const f = JSON.parse(String(d));
      if (f.event) events.push(f.event);
    });
    expect(await request(ws, 1, 'runs.list', {})).toEqual({ id: 1, ok: true, res: { runs: [], total: 0 } });
    expect(await request(ws, 2, 'runs.get', { id: 'x' })).toMatchObject({ id: 2, ok: false, error: { code: 'invalid' } });
    const created = await request(ws, 3, 'runs.create', { config: { preset: 'tiny', T: 50, gapT0: 20, steps: 3, checkpointEvery: 1 } });
    expect(created).toMatchObject({ ok: true, res: { status: expect.stringMatching(/^(queued|running)$/) } });
    const t0 = Date.now();
    while (!events.includes('run.message') && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    expect(events).toContain('run.updated');
    expect(events).toContain('run.message');
    ws.send('not json');
    const bad = await new Promise<Record<string, unknown>>((r) => {
      const on = (d: WebSocket.RawData) => {
        const f = JSON.parse(String(d));
        if (f.id === -1) {
          ws.off('message', on);
          r(f);
        }
      };
      ws.on('message', on);
    });
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid' } });
    ws.close();
  });
});
