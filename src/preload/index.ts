/**
 * Preload (sandboxed, built as CommonJS because sandboxed preloads cannot be ES modules).
 * Exposes a minimal, frozen `window.api`; it never exposes ipcRenderer itself. A later issue builds one
 * function per channel of the typed contract in src/shared/contract.ts.
 */
import { contextBridge } from 'electron';

const api = Object.freeze({
  /** App version, injected at build time from package.json (see electron.vite.config.ts). */
  version: __APP_VERSION__,
});

export type PreloadApi = typeof api;

contextBridge.exposeInMainWorld('api', api);
