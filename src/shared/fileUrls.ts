/**
 * How the renderer names a file of the data folder (a sample grid, a preview, an export) as a URL, so
 * that an <img> or a download loads it directly instead of a base64 copy travelling through the
 * contract. Which files may be served is decided in one place on the server (app/fileAccess.ts).
 *
 * - Web mode: `GET /files?path=<absolute path>&sig=<hex HMAC-SHA256(key = token, fileSigningInput(path))>`.
 *   A per-file capability rather than the token itself: the token stays out of every URL but the
 *   WebSocket's, so an image address copied out of the page opens that one file and never the session.
 * - Electron: `sadpm-file://data/?path=<absolute path>`, a privileged scheme that main serves with
 *   protocol.handle; only our own page is ever loaded in the window, so the scheme needs no credential.
 */

export const FILE_ROUTE = '/files';
export const FILE_SCHEME = 'sadpm-file';
const FILE_HOST = 'data';

/** What web mode signs: a fixed prefix keeps these signatures from meaning anything else. */
export function fileSigningInput(path: string): string {
  return `sadpm-file-v1:${path}`;
}

export function fileSchemeUrl(path: string): string {
  return `${FILE_SCHEME}://${FILE_HOST}/?${new URLSearchParams({ path }).toString()}`;
}

/** The path a sadpm-file:// URL names, or null when the URL is not one of ours. */
export function pathOfFileSchemeUrl(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== `${FILE_SCHEME}:` || u.hostname !== FILE_HOST) return null;
  if (u.pathname !== '/' && u.pathname !== '') return null;
  return u.searchParams.get('path') || null;
}
