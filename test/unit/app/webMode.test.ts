import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import WebSocket from 'ws';
import fc from 'fast-check';
import { createServices, type Services } from '../../../src/app/services';
import { startWebServer, type WebServer } from '../../../src/app/web/server';
import { MAX_UPLOADS_PER_OWNER } from '../../../src/app/uploads';
import { signedFileUrl } from '../../../src/renderer/src/api/fileUrl';
import { fileSigningInput } from '../../../src/shared/fileUrls';
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
  services = createServices({
    dataDir: join(dir, 'data'),
    spawn: fakeSpawner({ spawned: 0, commands: [] }),
    mode: 'web',
    flushMs: 5,
  });
  server = await startWebServer({ services, rendererDir: renderer });
});

afterAll(async () => {
  await server.close();
  await services.close();
  rmSync(dir, { recursive: true, force: true });
});

function connect(origin: string, token = server.token, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws${token ? `?token=${token}` : ''}`, { origin, headers });
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

const origin = () => `http://127.0.0.1:${server.port}`;

/** Sends raw bytes over TCP and returns what came back before the server closed (or 2 s passed). */
function raw(text: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const sock = tcpConnect(server.port, '127.0.0.1');
    let got = '';
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, 2000);
    sock.on('data', (b) => {
      got += b.toString('latin1');
      // One answer is enough; a keep-alive connection would otherwise stay open.
      if (/\r\n\r\n/.test(got)) setTimeout(done, 20);
    });
    sock.on('error', done);
    sock.on('close', done);
    sock.write(text);
  });
}

const statusOf = (answer: string) =>
  /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? `no status (${JSON.stringify(answer.slice(0, 40))})`;

describe('web mode', () => {
  it('binds to 127.0.0.1; serves the public renderer files without any credential and sets no cookie', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/);
    for (const url of [server.url, `${origin()}/`, `${origin()}/?token=wrong`]) {
      const page = await fetch(url);
      expect(page.status).toBe(200);
      // Cookies are not port-scoped: any cookie would reach every other server on 127.0.0.1.
      expect(page.headers.get('set-cookie')).toBeNull();
      expect(await page.text()).toContain('<title>t</title>');
    }
    const asset = await fetch(`${origin()}/assets/app.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('set-cookie')).toBeNull();
    for (const path of ['/..%2Fsecret.txt', '/../secret.txt', '/%2e%2e/secret.txt', '/ws', '/assets', '/nope.js']) {
      expect(statusOf(await raw(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`))).toBe('404');
    }
    expect((await fetch(`${origin()}/`, { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('accepts the token only on the WebSocket URL, never from a cookie', async () => {
    await expect(connect(origin(), '', { cookie: `sadpm_token=${server.token}` })).rejects.toThrow(/403/);
    const ws = await connect(origin());
    expect(await request(ws, 1, 'app.info', {})).toMatchObject({ id: 1, ok: true });
    ws.close();
  });

  it('answers an unparsable URL with 400 and stays up (request and upgrade, with or without the token)', async () => {
    const upgrade =
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: ${origin()}`;
    for (const target of ['//[', `//[?token=${server.token}`, '//[/ws', 'http://[', '//a:99999/']) {
      expect(statusOf(await raw(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)), target).toBe('400');
      const upgraded = await raw(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${upgrade}\r\n\r\n`);
      expect(statusOf(upgraded), target).toBe('400');
    }
    const withToken = `?token=${server.token}`;
    for (const target of ['/%ff', '/%E0%A4%A', `/%ff${withToken}`, `/%E0%A4%A${withToken}`, '/assets/%']) {
      expect(statusOf(await raw(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)), target).toBe('400');
    }
    expect((await fetch(`${origin()}/assets/app.js`)).status).toBe(200);
  });

  it('closes a socket that sends an oversized, invalid UTF-8 or binary frame (1009, 1007, 1003); stays up', async () => {
    const closeCode = (ws: WebSocket) => new Promise<number>((r) => ws.once('close', (code) => r(code)));
    const cases: [string, (ws: WebSocket) => void, number][] = [
      ['over maxPayload', (ws) => ws.send('x'.repeat(18 * 2 ** 20)), 1009],
      ['invalid UTF-8 text', (ws) => ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false }), 1007],
      ['binary', (ws) => ws.send(Buffer.from('{"id":1,"channel":"app.info","req":{}}'), { binary: true }), 1003],
    ];
    for (const [what, send, code] of cases) {
      const ws = await connect(origin());
      ws.on('error', () => undefined);
      const closed = closeCode(ws);
      send(ws);
      expect(await closed, what).toBe(code);
      const next = await connect(origin());
      expect(await request(next, 7, 'runs.list', {}), what).toMatchObject({ id: 7, ok: true });
      next.close();
    }
  });

  it('caps the uploads one socket may hold open, with a clear error', async () => {
    const ws = await connect(origin());
    for (let i = 0; i < MAX_UPLOADS_PER_OWNER; i++) {
      const begun = await request(ws, 30 + i, 'files.uploadBegin', { fileName: `c${i}.bin`, bytes: 1 });
      expect(begun).toMatchObject({ ok: true });
    }
    const over = await request(ws, 99, 'files.uploadBegin', { fileName: 'over.bin', bytes: 1 });
    const message =
      `upload of over.bin: ${MAX_UPLOADS_PER_OWNER} uploads are already open on this connection ` +
      `(at most ${MAX_UPLOADS_PER_OWNER}); finish or cancel one first`;
    expect(over).toMatchObject({ ok: false, error: { message } });
    await new Promise<void>((r) => {
      ws.once('close', () => r());
      ws.close();
    });
  });

  it("discards a socket's unfinished uploads when it closes (handles and part files)", async () => {
    const uploadsDir = join(dir, 'data', 'uploads');
    const parts = () => readdirSync(uploadsDir).filter((f) => f.startsWith('.part-'));
    const waitParts = async (n: number) => {
      const t0 = Date.now();
      while (parts().length > n && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
    };
    await waitParts(0); // an earlier test's socket may still be closing
    const ws = await connect(origin());
    const other = await connect(origin());
    const begun = await request(other, 1, 'files.uploadBegin', { fileName: 'kept.bin', bytes: 3 });
    const kept = begun as { res: { uploadId: string } };
    const chunk = { uploadId: kept.res.uploadId, offset: 0, base64: 'YWJj' };
    for (let i = 0; i < 5; i++) {
      const mine = await request(ws, 10 + i, 'files.uploadBegin', { fileName: `f${i}.bin`, bytes: 10 });
      expect(mine).toMatchObject({ ok: true });
    }
    expect(parts()).toHaveLength(6);
    const stolen = await request(ws, 20, 'files.uploadChunk', chunk);
    expect(stolen).toMatchObject({ ok: false, error: { message: /no upload .* in progress/ } });
    await new Promise<void>((r) => {
      ws.once('close', () => r());
      ws.close();
    });
    await waitParts(1);
    expect(parts()).toEqual([`.part-${kept.res.uploadId}`]);
    expect(await request(other, 2, 'files.uploadChunk', chunk)).toMatchObject({ ok: true });
    other.close();
  });

  it('refuses WebSockets from another origin or without the token', async () => {
    await expect(connect('http://evil.example')).rejects.toThrow(/403/);
    await expect(connect(`http://127.0.0.1:${server.port}`, 'nope')).rejects.toThrow(/403/);
    await expect(connect(`http://127.0.0.1:${server.port}`, '')).rejects.toThrow(/403/);
  });

  it('answers contract calls and pushes events over one socket', async () => {
    const ws = await connect(`http://127.0.0.1:${server.port}`);
    const events: string[] = [];
    ws.on('message', (d) => {
      const f = JSON.parse(String(d));
      if (f.event) events.push(f.event);
    });
    expect(await request(ws, 1, 'runs.list', {})).toEqual({ id: 1, ok: true, res: { runs: [], total: 0 } });
    expect(await request(ws, 2, 'runs.get', { id: 'x' })).toMatchObject({
      id: 2,
      ok: false,
      error: { code: 'invalid' },
    });
    const created = await request(ws, 3, 'runs.create', {
      config: { preset: 'tiny', T: 50, gapT0: 20, steps: 3, checkpointEvery: 1 },
    });
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

describe("web mode /files (the page's images and downloads)", () => {
  const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
  const data = () => join(dir, 'data');
  // The page's own signing code (src/renderer/src/api/fileUrl.ts): server and page must agree.
  const get = async (path: string, init?: RequestInit) =>
    fetch(`${origin()}${await signedFileUrl(server.token, path)}`, init);
  const signedBy = (key: string, path: string) => {
    const sig = createHmac('sha256', key).update(fileSigningInput(path)).digest('hex');
    return `${origin()}/files?${new URLSearchParams({ path, sig })}`;
  };

  it('serves an allowed file with its type, nosniff and a validator; 304 when unchanged; HEAD: no body', async () => {
    const file = join(data(), 'exports', 'grid a+b.png');
    writeFileSync(file, PNG);
    const r = await get(file);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/png');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('cache-control')).toBe('no-cache');
    expect(r.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    expect(r.headers.get('set-cookie')).toBeNull();
    expect(Buffer.from(await r.arrayBuffer())).toEqual(PNG);
    const etag = r.headers.get('etag')!;
    expect(etag).toMatch(/^W\/"/);
    const again = await get(file, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const head = await get(file, { method: 'HEAD' });
    const headBytes = (await head.arrayBuffer()).byteLength;
    expect([head.status, head.headers.get('content-length'), headBytes]).toEqual([200, String(PNG.length), 0]);
    // A file that is no image, a page or a script goes out as an inert download, never as a page of ours.
    const html = join(data(), 'uploads', 'x.html');
    writeFileSync(html, '<script>alert(1)</script>');
    const h = await get(html);
    expect(h.status).toBe(200);
    expect(h.headers.get('content-type')).toBe('application/octet-stream');
    expect(h.headers.get('content-security-policy')).toContain('sandbox');
  });

  it('403 without a valid signature: none, another token, another path, or the token itself', async () => {
    const file = join(data(), 'exports', 'g.png');
    writeFileSync(file, PNG);
    const q = (o: Record<string, string>) => `${origin()}/files?${new URLSearchParams(o)}`;
    const good = await get(file);
    expect(good.status).toBe(200);
    const sig = new URL(good.url).searchParams.get('sig')!;
    for (const url of [
      q({ path: file }),
      q({ path: file, sig: '' }),
      q({ path: file, sig: 'zz' }),
      q({ path: file, sig: sig.toUpperCase() }),
      q({ path: file, sig: sig.slice(0, 62) }),
      q({ path: file, token: server.token }),
      q({ path: `${file}x`, sig }),
      signedBy('another-token', file),
      signedBy(server.token, file).replace('sig=', 'sig=0'),
    ]) {
      const r = await fetch(url);
      expect(r.status, url).toBe(403);
      expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    }
  });

  it('404 for a correctly signed path outside the data folder and the run folders, or not a file', async () => {
    writeFileSync(join(dir, 'outside.png'), PNG);
    symlinkSync(join(dir, 'outside.png'), join(data(), 'exports', 'link.png'));
    const denied = [
      join(dir, 'secret.txt'),
      join(dir, 'outside.png'),
      join(data(), '..', 'secret.txt'),
      `${data()}/exports/../../secret.txt`,
      join(data(), 'exports', 'link.png'),
      'exports/g.png',
      data(),
      join(data(), 'exports'),
      join(data(), 'exports', 'missing.png'),
      '/etc/passwd',
      `${data()}/exports/g.png\0`,
      '',
    ];
    for (const path of denied) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
      expect(await r.text()).toBe('not found');
    }
  });

  it('property: a signed path gets 200 or 404, 200 only inside the data folder; any other signature 403', async () => {
    const seg = fc.constantFrom(
      '..',
      '.',
      'exports',
      'uploads',
      'g.png',
      'x.html',
      'link.png',
      '%2e%2e',
      '',
      'ü',
      '\0',
    );
    const base = fc.constantFrom(data(), dir, '/', '');
    const path = fc.oneof(
      fc.tuple(base, fc.array(seg, { maxLength: 6 })).map(([b, parts]) => [b, ...parts].join('/')),
      fc.string({ maxLength: 40 }),
    );
    await fc.assert(
      fc.asyncProperty(path, fc.string({ maxLength: 70 }), async (p, sig) => {
        const r = await get(p);
        expect([200, 404]).toContain(r.status);
        if (r.status === 200) expect(resolve(p).startsWith(data() + sep)).toBe(true);
        await r.arrayBuffer();
        const forged = await fetch(`${origin()}/files?${new URLSearchParams({ path: p, sig })}`);
        expect(forged.status).toBe(403);
        await forged.arrayBuffer();
      }),
      { numRuns: 80 },
    );
  });
});
