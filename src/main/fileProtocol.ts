/**
 * Electron's way to the files the page shows: the privileged sadpm-file:// scheme (shared/fileUrls.ts),
 * answered by the same rule as web mode's /files route (fileAccess.ts). Only our own page is ever
 * loaded in the window (security.ts denies navigation), so the scheme needs no credential.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { protocol } from 'electron';
import { FILE_SCHEME, pathOfFileSchemeUrl } from '../shared/fileUrls';
import type { RunStore } from '../store/runStore';
import { answerFile } from '../app/fileAccess';

/**
 * Must run before the app is ready. `standard` gives the URLs a host and proper parsing; `secure` lets a
 * page of ours embed them without mixed-content blocking. No fetch, CORS, service workers or CSP bypass:
 * the page only needs <img> and downloads.
 */
export function registerFileScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: FILE_SCHEME, privileges: { standard: true, secure: true } }]);
}

/** The handler itself, separate so that tests can call it with plain Requests. */
export function fileSchemeHandler(store: Pick<RunStore, 'layout' | 'runs'>): (req: Request) => Response {
  return (req) => {
    const path = pathOfFileSchemeUrl(req.url);
    if (!path || (req.method !== 'GET' && req.method !== 'HEAD')) {
      return new Response('not found', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    }
    const a = answerFile(store, path, req.headers.get('if-none-match'));
    if (a.status !== 200 || !a.file || req.method === 'HEAD') {
      return new Response(a.status === 404 ? 'not found' : null, { status: a.status, headers: a.headers });
    }
    const body = Readable.toWeb(createReadStream(a.file)) as ReadableStream<Uint8Array>;
    return new Response(body, { status: 200, headers: a.headers });
  };
}

/** Serves the scheme on the default session (the one every window of ours uses); after app ready. */
export function serveFileScheme(store: Pick<RunStore, 'layout' | 'runs'>): void {
  protocol.handle(FILE_SCHEME, fileSchemeHandler(store));
}
