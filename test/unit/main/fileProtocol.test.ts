/**
 * Electron's sadpm-file:// scheme, tested without the Electron binary: 'electron' is mocked (its
 * protocol module records what is registered) and the handler is called with plain fetch Requests.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FILE_SCHEME, fileSchemeUrl, pathOfFileSchemeUrl } from '../../../src/shared/fileUrls';
import type { RunStore } from '../../../src/store/runStore';

const electron = vi.hoisted(() => ({
  privileged: [] as unknown[],
  handled: new Map<string, (req: Request) => Response | Promise<Response>>(),
}));
vi.mock('electron', () => ({
  protocol: {
    registerSchemesAsPrivileged: (schemes: unknown[]) => electron.privileged.push(...schemes),
    handle: (scheme: string, fn: (req: Request) => Response) => electron.handled.set(scheme, fn),
  },
}));

import { registerFileScheme, serveFileScheme } from '../../../src/main/fileProtocol';

let dir: string;
let data: string;
let runDir: string;
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 9, 9]);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sadpm-scheme-'));
  data = join(dir, 'data');
  // A run whose folder --run-dir put outside the data folder: its files are allowed too.
  runDir = join(dir, 'elsewhere', 'run-7');
  mkdirSync(join(data, 'runs', '1-a', 'samples'), { recursive: true });
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(data, 'runs', '1-a', 'samples', 'step 1+.png'), PNG);
  writeFileSync(join(data, 'runs', '1-a', 'samples', 'step 1+.json'), '{"n":1}');
  writeFileSync(join(runDir, 'grid.png'), PNG);
  writeFileSync(join(dir, 'secret.txt'), 'secret');
  symlinkSync(join(dir, 'secret.txt'), join(data, 'runs', '1-a', 'escape.png'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Just what allowedFile reads from the store. */
const store = () =>
  ({ layout: { root: data }, runs: { list: () => [{ runDir }] } }) as unknown as Pick<RunStore, 'layout' | 'runs'>;

function handler(): (req: Request) => Promise<Response> {
  const fn = electron.handled.get(FILE_SCHEME);
  if (!fn) throw new Error('the scheme was not served');
  return async (req) => fn(req);
}

describe('sadpm-file:// (Electron, electron mocked)', () => {
  it('registers the scheme as privileged (standard, secure) and nothing more', () => {
    registerFileScheme();
    expect(electron.privileged).toEqual([{ scheme: 'sadpm-file', privileges: { standard: true, secure: true } }]);
  });

  it('serves allowed files with their type, nosniff and a validator; 304 when unchanged', async () => {
    serveFileScheme(store());
    const h = handler();
    const png = join(data, 'runs', '1-a', 'samples', 'step 1+.png');
    const r = await h(new Request(fileSchemeUrl(png)));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/png');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('cache-control')).toBe('no-cache');
    expect(Buffer.from(await r.arrayBuffer())).toEqual(PNG);
    const again = await h(new Request(fileSchemeUrl(png), { headers: { 'if-none-match': r.headers.get('etag')! } }));
    expect(again.status).toBe(304);
    const json = await h(new Request(fileSchemeUrl(join(data, 'runs', '1-a', 'samples', 'step 1+.json'))));
    const got = [json.status, json.headers.get('content-type'), await json.text()];
    expect(got).toEqual([200, 'application/json', '{"n":1}']);
    const other = await h(new Request(fileSchemeUrl(join(runDir, 'grid.png'))));
    expect(other.status).toBe(200);
  });

  it('404 outside the data folder and the run folders: traversal, links out, folders, other URLs', async () => {
    serveFileScheme(store());
    const h = handler();
    const urls = [
      fileSchemeUrl(join(dir, 'secret.txt')),
      fileSchemeUrl(`${data}/runs/../../secret.txt`),
      fileSchemeUrl(`${runDir}/../../secret.txt`),
      fileSchemeUrl(join(data, 'runs', '1-a', 'escape.png')),
      fileSchemeUrl(join(data, 'runs')),
      fileSchemeUrl('runs/1-a/samples/step 1+.png'),
      fileSchemeUrl('/etc/passwd'),
      `${FILE_SCHEME}://other/?path=${encodeURIComponent(join(runDir, 'grid.png'))}`,
      `${FILE_SCHEME}://data/x?path=${encodeURIComponent(join(runDir, 'grid.png'))}`,
      `${FILE_SCHEME}://data/`,
    ];
    for (const url of urls) {
      const r = await h(new Request(url));
      expect(r.status, url).toBe(404);
    }
    const post = await h(new Request(fileSchemeUrl(join(runDir, 'grid.png')), { method: 'POST', body: 'x' }));
    expect(post.status).toBe(404);
  });

  it('property: the scheme URL of any path names exactly that path', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 80 }), (p) => {
        expect(pathOfFileSchemeUrl(fileSchemeUrl(p))).toBe(p);
      }),
      { numRuns: 300 },
    );
    for (const u of ['', 'not a url', 'file:///etc/passwd', 'https://data/?path=/x', 'sadpm-file://data/?nopath=1']) {
      expect(pathOfFileSchemeUrl(u), u).toBeNull();
    }
  });
});
