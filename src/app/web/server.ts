/**
 * Web mode: the built renderer and the same contract over a WebSocket, on 127.0.0.1 only, behind a
 * random token.
 *
 * The credential is never a cookie: cookies are not port-scoped, so every other server on 127.0.0.1
 * would receive it. The page reads the token from its URL once, keeps it in sessionStorage (scoped to
 * this exact origin, port included) and presents it only on the WebSocket URL, together with a
 * same-origin Origin. Plain HTTP serves nothing but the public built renderer files, which hold no
 * data and so need no credential (a reload finds the token in sessionStorage). Everything that
 * touches data goes through the WebSocket, except the files the page shows (sample grids, previews,
 * exports): GET /files with a per-file signature made from the token (shared/fileUrls.ts says why).
 *
 * One bad client must never stop the server, which hosts every running run: unparsable URLs get a
 * 400, malformed, oversized, binary or invalid UTF-8 frames close only their socket, and a closed
 * socket's unfinished uploads are discarded.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, readFileSync, realpathSync, statSync } from 'node:fs';
import { extname, join, relative, isAbsolute } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { UPLOAD_CHUNK_BASE64_MAX, WsClientFrameSchema } from '../../shared/contract';
import { FILE_ROUTE, fileSigningInput } from '../../shared/fileUrls';
import { dispatch, makeHandlers } from '../contract/handlers';
import { answerFile } from '../fileAccess';
import type { Services } from '../services';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

export interface WebServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

function sameToken(a: string | undefined | null, token: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(token);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The request target's URL, or null when it cannot be parsed (e.g. `//[`). */
function parseTarget(target: string | undefined): URL | null {
  try {
    return new URL(target ?? '/', 'http://127.0.0.1');
  } catch {
    return null;
  }
}

/** The percent-decoded path, or null for a malformed escape such as `/%ff` or `/%E0%A4%A`. */
function decodePath(pathname: string): string | null {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return null;
  }
}

/** Whether `sig` is the page's signature of `path` (see shared/fileUrls.ts). */
function validSignature(path: string, sig: string | null, token: string): boolean {
  if (!sig || !/^[0-9a-f]{64}$/.test(sig)) return false;
  const want = createHmac('sha256', token).update(fileSigningInput(path)).digest();
  return timingSafeEqual(Buffer.from(sig, 'hex'), want);
}

/** GET /files?path=&sig=: 403 without a valid signature, 404 for a file outside the allowed folders. */
function serveDataFile(req: IncomingMessage, res: ServerResponse, url: URL, services: Services, token: string): void {
  const path = url.searchParams.get('path') ?? '';
  if (!validSignature(path, url.searchParams.get('sig'), token)) {
    plain(res, 403, 'forbidden: this file address is not signed for this server; reload the page from the printed URL');
    return;
  }
  const a = answerFile(services.store, path, req.headers['if-none-match']);
  // Only our own page (same origin) may embed what it was given an address for.
  const headers = { ...a.headers, 'cross-origin-resource-policy': 'same-origin', 'referrer-policy': 'no-referrer' };
  if (a.status === 404) {
    res.writeHead(404, headers).end('not found');
    return;
  }
  res.writeHead(a.status, headers);
  if (a.status !== 200 || req.method === 'HEAD' || !a.file) {
    res.end();
    return;
  }
  const stream = createReadStream(a.file);
  // A file removed or unreadable mid-way: the length promised can no longer be met, so cut the reply.
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

function refuseUpgrade(socket: Duplex, status: string): void {
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(text);
}

export async function startWebServer(opts: {
  services: Services;
  rendererDir: string;
  port?: number;
  token?: string;
}): Promise<WebServer> {
  const { services, rendererDir } = opts;
  const index = join(rendererDir, 'index.html');
  try {
    statSync(index);
  } catch {
    throw new Error(`the built renderer is missing (${index}): run 'npm run build' first`);
  }
  const root = realpathSync(rendererDir);
  const token = opts.token ?? randomBytes(24).toString('hex');
  let origin = '';

  /** A file of the built renderer, or null: nothing outside the renderer folder is ever served. */
  const rendererFile = (path: string): string | null => {
    const file = join(root, path === '/' ? 'index.html' : path.replace(/^\/+/, ''));
    try {
      // realpath also resolves links, so a link inside the folder cannot lead out of it.
      const real = realpathSync(file);
      const inside = relative(root, real);
      if (!inside || inside.startsWith('..') || isAbsolute(inside) || !statSync(real).isFile()) return null;
      return real;
    } catch {
      return null;
    }
  };

  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const why = 'SA-DPM Studio web mode serves its page with GET; everything else goes over its WebSocket';
      plain(res, 405, why, { allow: 'GET, HEAD' });
      return;
    }
    const url = parseTarget(req.url);
    const path = url && decodePath(url.pathname);
    if (path === null) {
      plain(res, 400, 'bad request: the URL cannot be parsed');
      return;
    }
    if (path === FILE_ROUTE) {
      serveDataFile(req, res, url!, services, token);
      return;
    }
    const file = rendererFile(path);
    if (!file) {
      plain(res, 404, 'not found');
      return;
    }
    res
      .writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'x-frame-options': 'DENY',
      })
      .end(readFileSync(file));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Malformed HTTP: answer if the socket still takes it; never let it reach the process.
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });

  // Requests are small: uploads come in chunks of at most UPLOAD_CHUNK_BASE64_MAX characters.
  const wss = new WebSocketServer({ noServer: true, maxPayload: UPLOAD_CHUNK_BASE64_MAX + 2 ** 20 });
  wss.on('error', (err) => console.error(`web mode: WebSocket server error: ${err.message}`));
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    // Node drops its own error handling of upgraded sockets; a reset here must not be uncaught.
    socket.on('error', () => socket.destroy());
    const url = parseTarget(req.url);
    if (!url) {
      refuseUpgrade(socket, '400 Bad Request');
      return;
    }
    // Another site in the same browser could open a WebSocket to us; only our own page may.
    const okOrigin = req.headers.origin === origin || req.headers.origin === origin.replace('127.0.0.1', 'localhost');
    if (url.pathname !== '/ws' || !sameToken(url.searchParams.get('token'), token) || !okOrigin) {
      refuseUpgrade(socket, '403 Forbidden');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    sockets.add(ws);
    const uploads = services.uploads.owner();
    const handlers = makeHandlers(services, undefined, uploads);
    // ws closes the socket itself for an oversized frame (1009) or invalid UTF-8 (1007) and then
    // emits 'error'; without a listener that error would be thrown out of the event loop.
    ws.on('error', () => undefined);
    ws.on('close', () => {
      sockets.delete(ws);
      uploads.close();
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        ws.close(1003, 'binary frames are not accepted; send JSON text frames');
        return;
      }
      let frame;
      try {
        frame = WsClientFrameSchema.parse(JSON.parse(String(data)));
      } catch {
        ws.send(
          JSON.stringify({
            id: -1,
            ok: false,
            error: { code: 'invalid', message: 'malformed frame: expected {id, channel, req}' },
          }),
        );
        return;
      }
      const { id, channel } = frame;
      void dispatch(handlers, channel, frame.req)
        .then((r) => {
          if (ws.readyState !== ws.OPEN) return;
          let text: string;
          try {
            text = JSON.stringify({ id, ...r });
          } catch (err) {
            const message = `${channel}: the answer could not be encoded: ${(err as Error).message}`;
            text = JSON.stringify({ id, ok: false, error: { code: 'failed', message } });
          }
          ws.send(text);
        })
        .catch((err: unknown) => console.error(`web mode: ${channel}: ${(err as Error).message}`));
    });
  });

  const unsubscribe = services.subscribe((event, payload) => {
    const text = JSON.stringify({ event, payload });
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  server.on('error', (err) => console.error(`web mode: server error: ${err.message}`));
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/?token=${token}`,
    port,
    token,
    close: async () => {
      unsubscribe();
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
