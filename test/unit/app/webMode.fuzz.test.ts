/**
 * Fuzzing web mode over real sockets: arbitrary raw HTTP requests (methods, targets, headers,
 * upgrades) and arbitrary WebSocket frames (text, bytes, invalid UTF-8, oversized, JSON to every
 * channel with arbitrary payloads). Each input must get a status, an error frame, or a close of its
 * own socket with the proper code; the server must stay up and keep answering authorised requests.
 * A crash of the server would also surface here as an uncaught exception in this process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { INVOKE, UPLOAD_CHUNK_BASE64_MAX, WsClientFrameSchema } from '../../../src/shared/contract';
import { createServices, type Services } from '../../../src/app/services';
import { startWebServer, type WebServer } from '../../../src/app/web/server';
import { fakeSpawner } from './fakeEngine';

let dir: string;
let services: Services;
let server: WebServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sadpm-webfuzz-'));
  const renderer = join(dir, 'renderer');
  mkdirSync(join(renderer, 'assets'), { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(renderer, 'assets', 'app.js'), 'console.log(1)');
  const spawn = fakeSpawner({ spawned: 0, commands: [] });
  services = createServices({ dataDir: join(dir, 'data'), spawn, mode: 'web', flushMs: 5 });
  server = await startWebServer({ services, rendererDir: renderer });
});

afterAll(async () => {
  await server.close();
  await services.close();
  rmSync(dir, { recursive: true, force: true });
});

const origin = () => `http://127.0.0.1:${server.port}`;

/** Raw bytes in; the answer's status line, or 'closed' if the server closed without one, or 'silent'. */
function rawStatus(bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const sock = tcpConnect(server.port, '127.0.0.1');
    let got = '';
    let settled = false;
    const done = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(/^HTTP\/1\.[01] \d{3}/.exec(got)?.[0] ?? why);
    };
    const timer = setTimeout(() => done('silent'), 3000);
    sock.on('data', (b) => {
      got += b.toString('latin1');
      if (got.includes('\r\n')) done('status');
    });
    sock.on('error', () => done('closed'));
    sock.on('close', () => done('closed'));
    sock.write(bytes);
  });
}

const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);
const urlBits = fc.constantFrom(
  ...['/', '//', '[', ']', '%', '%ff', '%E0%A4%A', '%2e%2e', '..', '?', '#', ':', '@'],
  ...['\\', '*', '%00', '%20', '\u00e9'],
  ...['ws', 'assets', 'app.js', 'index.html', 'token='],
);
const knownTargets = ['//[', '//', '/%ff', '/%E0%A4%A', '/ws', '/', '/assets/app.js', '*', 'http://[', '//a:99999/'];
const target = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...knownTargets, '/..%2Fsecret', '/ws?token=x') },
  { weight: 4, arbitrary: fc.array(urlBits, { maxLength: 12 }).map((a) => `/${a.join('')}`) },
  { weight: 2, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
  { weight: 1, arbitrary: anyText },
);
const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS') },
  { weight: 1, arbitrary: fc.constantFrom('CONNECT', 'TRACE', 'PRI') },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 8 }) },
);
/** Mostly well-formed headers (so requests reach the handlers), some arbitrary bytes. */
const tokenText = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}$/);
const headerValue = fc.oneof(
  { weight: 19, arbitrary: fc.stringMatching(/^[\x20-\x7e]{0,40}$/) },
  { weight: 1, arbitrary: anyText },
);
const headerName = fc.constantFrom(
  ...['Cookie', 'Origin', 'Accept', 'Accept'],
  ...['Content-Length', 'Transfer-Encoding', 'Connection', 'Upgrade', 'Expect'],
);
const header = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(headerName, headerValue) },
  { weight: 3, arbitrary: fc.tuple(tokenText, headerValue) },
  { weight: 1, arbitrary: fc.tuple(anyText, anyText) },
);
const version = fc.oneof(
  { weight: 12, arbitrary: fc.constant('HTTP/1.1') },
  { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2', 'XYZ', '') },
);
const upgrade = (withOrigin: boolean) =>
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${withOrigin ? `Origin: ${origin()}\r\n` : ''}`;

describe('web mode under fuzzing', () => {
  it('answers every raw HTTP request (or closes it) and stays up', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        method,
        target,
        version,
        fc.array(header, { maxLength: 3 }),
        fc.constantFrom('none', 'none', 'none', 'upgrade', 'upgrade+origin'),
        async (m, t, version, headers, up) => {
          const upgrading = up === 'none' ? '' : upgrade(up === 'upgrade+origin');
          const head = `${m} ${t} ${version}\r\nHost: 127.0.0.1\r\n${upgrading}`;
          const text = `${head}${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
          const outcome = await rawStatus(Buffer.from(text, 'utf8'));
          expect(outcome, JSON.stringify(text)).not.toBe('silent');
        },
      ),
      { numRuns: 400, interruptAfterTimeLimit: 30_000 },
    );
    const page = await fetch(`${origin()}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>t</title>');
  });

  const frameOutcome = 'answers every WebSocket frame with a reply, an error frame or a close of its socket; stays up';
  it(frameOutcome, { timeout: 90_000 }, async () => {
    const open = () =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`, { origin: origin() });
        ws.on('error', () => undefined);
        ws.once('open', () => resolve(ws));
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      });
    type Outcome = { reply: Record<string, unknown> } | { close: number } | { silent: true };
    /** The next reply frame (events skipped) or the socket's close code. */
    const outcome = (ws: WebSocket) =>
      new Promise<Outcome>((resolve) => {
        const timer = setTimeout(() => finish({ silent: true }), 8000);
        const onMessage = (data: WebSocket.RawData) => {
          const f = JSON.parse(String(data)) as Record<string, unknown>;
          if (!('event' in f)) finish({ reply: f });
        };
        const onClose = (code: number) => finish({ close: code });
        const finish = (r: Outcome) => {
          clearTimeout(timer);
          ws.off('message', onMessage);
          ws.off('close', onClose);
          resolve(r);
        };
        ws.on('message', onMessage);
        ws.once('close', onClose);
      });

    const channels = Object.keys(INVOKE);
    // Values of the right type for the contract's common fields, so many frames get past validation
    // and reach the handlers (uploads especially); any key may be missing.
    const typed = fc.record(
      {
        id: fc.nat(5),
        runId: fc.nat(5),
        runIds: fc.array(fc.nat(5), { maxLength: 3 }),
        checkpointId: fc.nat(5),
        path: fc.oneof(fc.constantFrom('/', '/etc/passwd', dir, join(dir, 'data'), join(dir, 'renderer')), fc.string()),
        fileName: fc.string({ minLength: 1, maxLength: 20 }),
        bytes: fc.oneof(fc.nat(64), fc.constant(64 * 2 ** 30), fc.nat()),
        uploadId: fc.oneof(fc.stringMatching(/^[0-9a-f]{24}$/), fc.string({ minLength: 1, maxLength: 8 })),
        offset: fc.nat(64),
        base64: fc.oneof(fc.base64String({ maxLength: 64 }), fc.string({ maxLength: 64 })),
        abort: fc.boolean(),
        concurrency: fc.integer({ min: -1, max: 20 }),
        names: fc.array(fc.constantFrom('loss', 'msPerStep', 'x'), { maxLength: 2 }),
        kind: fc.constantFrom('file', 'folder', 'x'),
        deleteFiles: fc.boolean(),
      },
      { requiredKeys: [] },
    );
    const payload = fc.oneof({ weight: 1, arbitrary: fc.jsonValue() }, { weight: 4, arbitrary: typed });
    const frameId = fc.oneof(
      { weight: 5, arbitrary: fc.integer() },
      { weight: 1, arbitrary: fc.oneof(fc.double(), fc.string()) },
    );
    const channel = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...channels) }, { weight: 1, arbitrary: anyText });
    const request = fc.record({ id: frameId, channel, req: payload }).map((f) => JSON.stringify(f));
    const bytes = fc.uint8Array({ maxLength: 64 });
    const frame = fc.oneof(
      { weight: 6, arbitrary: request.map((text) => ({ kind: 'text' as const, text })) },
      { weight: 2, arbitrary: anyText.map((text) => ({ kind: 'text' as const, text })) },
      { weight: 2, arbitrary: bytes.map((b) => ({ kind: 'textBytes' as const, bytes: b })) },
      { weight: 1, arbitrary: bytes.map((b) => ({ kind: 'binary' as const, bytes: b })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'huge' as const }) },
    );
    const huge = 'x'.repeat(UPLOAD_CHUNK_BASE64_MAX + 2 ** 20 + 1);
    const utf8 = new TextDecoder('utf-8', { fatal: true });

    let ws = await open();
    await fc.assert(
      fc.asyncProperty(frame, async (f) => {
        if (ws.readyState !== WebSocket.OPEN) ws = await open();
        const got = outcome(ws);
        let expected: { close: number } | { id: unknown };
        if (f.kind === 'huge') {
          ws.send(huge);
          expected = { close: 1009 };
        } else if (f.kind === 'binary') {
          ws.send(Buffer.from(f.bytes), { binary: true });
          expected = { close: 1003 };
        } else {
          const sent = f.kind === 'text' ? Buffer.from(f.text, 'utf8') : Buffer.from(f.bytes);
          ws.send(sent, { binary: false });
          let text: string | null = null;
          try {
            text = utf8.decode(sent);
          } catch {
            // Not UTF-8: the server must close with 1007.
          }
          if (text === null) expected = { close: 1007 };
          else {
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            const ok = WsClientFrameSchema.safeParse(parsed);
            expected = { id: ok.success ? ok.data.id : -1 };
          }
        }
        const r = await got;
        if ('close' in expected) expect(r).toEqual({ close: expected.close });
        else {
          expect(r).toMatchObject({ reply: { id: expected.id } });
          const reply = (r as { reply: Record<string, unknown> }).reply;
          const error = reply.error as { message?: unknown } | undefined;
          expect(reply.ok === true || (reply.ok === false && typeof error?.message === 'string')).toBe(true);
        }
      }),
      { numRuns: 200, interruptAfterTimeLimit: 60_000 },
    );
    ws.close();

    const fresh = await open();
    const answer = outcome(fresh);
    fresh.send(JSON.stringify({ id: 424242, channel: 'runs.list', req: {} }));
    expect(await answer).toMatchObject({ reply: { id: 424242, ok: true } });
    fresh.close();
    // Every socket is closed now, so none of their uploads may remain open.
    const t0 = Date.now();
    while (services.uploads.size > 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
    expect(services.uploads.size).toBe(0);
  });
});
