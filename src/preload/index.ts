/**
 * Preload (sandboxed, built as CommonJS because sandboxed preloads cannot be ES modules).
 * Exposes a frozen `window.api` with one function per invoke channel of the contract, `on` for the
 * contract's events and `fileUrl` for the files the page shows. It never exposes ipcRenderer itself.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { EVENTS, INVOKE, type EventName } from '../shared/contract';
import { fileSchemeUrl } from '../shared/fileUrls';

type Fn = (req?: unknown) => Promise<unknown>;

const channels: Record<string, Fn> = {};
for (const channel of Object.keys(INVOKE)) {
  channels[channel] = async (req?: unknown) => {
    type Answer = { ok: boolean; res?: unknown; error?: { code: string; message: string } };
    const r = (await ipcRenderer.invoke(channel, req ?? {})) as Answer;
    if (r.ok) return r.res;
    throw Object.assign(new Error(r.error?.message ?? 'failed'), { code: r.error?.code ?? 'failed' });
  };
}

const api = Object.freeze({
  ...channels,
  /** App version, injected at build time from package.json (see electron.vite.config.ts). */
  version: __APP_VERSION__,
  /** The sadpm-file:// address of a data-folder file, which main serves to this page (fileProtocol.ts). */
  fileUrl(path: string): string {
    if (typeof path !== 'string' || !path) throw new Error('fileUrl: expected the absolute path of a file');
    return fileSchemeUrl(path);
  },
  on(event: EventName, fn: (payload: unknown) => void): () => void {
    if (!Object.hasOwn(EVENTS, event)) throw new Error(`unknown event '${String(event)}'`);
    const listener = (_e: unknown, payload: unknown) => fn(payload);
    ipcRenderer.on(event, listener);
    return () => ipcRenderer.removeListener(event, listener);
  },
});

export type PreloadApi = typeof api;

contextBridge.exposeInMainWorld('api', api);
