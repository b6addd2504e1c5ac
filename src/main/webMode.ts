/**
 * Web mode: the built renderer and the same contract over a WebSocket, on 127.0.0.1 only, behind a
 * random token. The page URL carries the token once; the server answers with an HttpOnly cookie so
 * the page's own assets load, and the WebSocket must present the token and a same-origin Origin.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { extname, join, relative, isAbsolute } from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { UPLOAD_CHUNK_BASE64_MAX, WsClientFrameSchema } from '../shared/contract';
import { dispatch, makeHandlers } from './handlers';
import type { Services } from './services';

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

function cookieToken(req: IncomingMessage): string | undefined {
  const m = /(?:^|;\s*)sadpm_token=([0-9a-f]+)/.exec(req.headers.cookie ?? '');
  return m?.[1];
}

export async function startWebServer(opts: { services: Services; rendererDir: string; port?: number; token?: string }): Promise<WebServer> {
  const { services, rendererDir } = opts;
  if (!existsSync(join(rendererDir, 'index.html'))) {
    throw new Error(`the built renderer is missing (${join(rendererDir, 'index.html')}): run 'npm run build' first`);
  }
  const root = realpathSync(rendererDir);
  const token = opts.token ?? randomBytes(24).toString('hex');
  const handlers = makeHandlers(services);
  let origin = '';

  const serveFile = (res: ServerResponse, urlPath: string, setCookie: boolean) => {
    const rel = decodeURIComponent(urlPath === '/' ? '/index.html' : urlPath).replace(/^\/+/, '');
    const file = join(root, rel);
    const inside = relative(root, file);
    if (inside.startsWith('..') || isAbsolute(inside) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const headers: Record<string, string> = {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    };
    if (setCookie) headers['set-cookie'] = `sadpm_token=${token}; HttpOnly; SameSite=Strict; Path=/`;
    res.writeHead(200, headers).end(readFileSync(file));
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const fromQuery = sameToken(url.searchParams.get('token'), token);
    if (!fromQuery && !sameToken(cookieToken(req), token)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('SA-DPM Studio web mode: open the URL with the token that `sadpm serve` printed');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    serveFile(res, url.pathname, fromQuery);
  });

  // Requests are small: uploads come in chunks of at most UPLOAD_CHUNK_BASE64_MAX characters.
  const wss = new WebSocketServer({ noServer: true, maxPayload: UPLOAD_CHUNK_BASE64_MAX + 2 ** 20 });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const okToken = sameToken(url.searchParams.get('token'), token) || sameToken(cookieToken(req), token);
    // Another site in the same browser could open a WebSocket to us; only our own page may.
    const okOrigin = req.headers.origin === origin || req.headers.origin === origin.replace('127.0.0.1', 'localhost');
    if (url.pathname !== '/ws' || !okToken || !okOrigin) {
      socket.write('HTTP/1.1 403 Forbidden\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('message', (data) => {
      let frame;
      try {
        frame = WsClientFrameSchema.parse(JSON.parse(String(data)));
      } catch {
        ws.send(JSON.stringify({ id: -1, ok: false, error: { code: 'invalid', message: 'malformed frame: expected {id, channel, req}' } }));
        return;
      }
      void dispatch(handlers, frame.channel, frame.req).then((r) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id: frame.id, ...r }));
      });
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
