/**
 * Web mode's addresses of data-folder files: /files?path=&sig= with an HMAC-SHA256 of the path keyed
 * by the page's token (shared/fileUrls.ts says why a per-file signature and not the token).
 */
import { FILE_ROUTE, fileSigningInput } from '../../../shared/fileUrls';
import { ApiCallError } from './errors';

const keys = new Map<string, Promise<CryptoKey>>();
const utf8 = new TextEncoder();

function hmacKey(token: string): Promise<CryptoKey> {
  let key = keys.get(token);
  if (!key) {
    key = crypto.subtle.importKey('raw', utf8.encode(token), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    keys.set(token, key);
  }
  return key;
}

/** The same-origin address of `path` for a page that holds `token`. */
export async function signedFileUrl(token: string | null, path: string): Promise<string> {
  if (!token) throw new ApiCallError('disconnected', 'no access token: open the address the server printed');
  if (!globalThis.crypto?.subtle) {
    // WebCrypto exists only in secure contexts; the server is reached as 127.0.0.1 or localhost, which are.
    const how = 'open it at the http://127.0.0.1 address the server printed';
    throw new ApiCallError('failed', `this page cannot sign file addresses here (no WebCrypto): ${how}`);
  }
  const key = await hmacKey(token);
  const sig = new Uint8Array(await crypto.subtle.sign('HMAC', key, utf8.encode(fileSigningInput(path))));
  const hex = Array.from(sig, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${FILE_ROUTE}?${new URLSearchParams({ path, sig: hex }).toString()}`;
}
