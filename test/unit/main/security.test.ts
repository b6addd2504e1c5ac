/**
 * Security policy of the main process, tested without the Electron binary (it can't be downloaded on CI):
 * 'electron' is mocked, and the policy functions are called with fake webContents / session objects.
 */
import { describe, expect, it, vi, beforeEach } from 'vitest';
import type { BrowserWindowConstructorOptions, Session, WebContents } from 'electron';

// A fake BrowserWindow that records its constructor options and what it was asked to load.
const created = vi.hoisted(() => [] as Array<{ options: BrowserWindowConstructorOptions; loaded: string[] }>);
vi.mock('electron', () => {
  class BrowserWindow {
    readonly record: { options: BrowserWindowConstructorOptions; loaded: string[] };
    constructor(options: BrowserWindowConstructorOptions) {
      this.record = { options, loaded: [] };
      created.push(this.record);
    }
    once(): this {
      return this;
    }
    show(): void {}
    loadURL(url: string): Promise<void> {
      this.record.loaded.push(`url:${url}`);
      return Promise.resolve();
    }
    loadFile(file: string): Promise<void> {
      this.record.loaded.push(`file:${file}`);
      return Promise.resolve();
    }
  }
  return { BrowserWindow, app: {}, session: {} };
});

import {
  denyAllPermissions,
  hardenWebContents,
  mainWindowOptions,
  secureWebPreferences,
} from '../../../src/main/security';
import { createMainWindow } from '../../../src/main/windows';

type Listener = (event: { url?: string; preventDefault: () => void }) => void;

/** Records listeners and the window-open handler like a WebContents would. */
function fakeWebContents() {
  const listeners = new Map<string, Listener[]>();
  let openHandler: ((details: { url: string }) => { action: string }) | undefined;
  const contents = {
    on(name: string, listener: Listener) {
      listeners.set(name, [...(listeners.get(name) ?? []), listener]);
      return contents;
    },
    setWindowOpenHandler(handler: (details: { url: string }) => { action: string }) {
      openHandler = handler;
    },
  };
  /** Emits an event and reports whether some listener called preventDefault. */
  const emit = (name: string, url?: string): boolean => {
    let prevented = false;
    for (const l of listeners.get(name) ?? []) l({ url, preventDefault: () => (prevented = true) });
    return prevented;
  };
  return {
    contents: contents as unknown as WebContents,
    emit,
    listeners,
    openWindow: (url: string) => openHandler?.({ url }),
  };
}

describe('secure window options', () => {
  it('isolates, sandboxes and disables Node in every renderer', () => {
    const prefs = secureWebPreferences('/app/out/preload/index.cjs');
    expect(prefs).toMatchObject({
      preload: '/app/out/preload/index.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
  });

  it('uses the secure preferences for the main window', () => {
    const options = mainWindowOptions('/p.cjs');
    expect(options.webPreferences).toEqual(secureWebPreferences('/p.cjs'));
    expect(options.title).toBe('SA-DPM Studio');
  });
});

describe('createMainWindow (electron mocked)', () => {
  beforeEach(() => {
    created.length = 0;
  });

  it('constructs the BrowserWindow with the secure options and loads the built renderer', () => {
    createMainWindow('/out/preload/index.cjs', { file: '/out/renderer/index.html' });
    expect(created).toHaveLength(1);
    const [win] = created;
    expect(win?.options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
    });
    expect(win?.loaded).toEqual(['file:/out/renderer/index.html']);
  });

  it('loads the dev server URL when one is given', () => {
    createMainWindow('/p.cjs', { devUrl: 'http://localhost:5173', file: '/out/renderer/index.html' });
    expect(created[0]?.loaded).toEqual(['url:http://localhost:5173']);
  });
});

describe('hardenWebContents', () => {
  it('denies navigation and redirects by default', () => {
    const wc = fakeWebContents();
    hardenWebContents(wc.contents);
    expect(wc.emit('will-navigate', 'https://example.com/')).toBe(true);
    expect(wc.emit('will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(wc.emit('will-redirect', 'https://example.com/')).toBe(true);
  });

  it('lets an explicit allow-list through and nothing else', () => {
    const wc = fakeWebContents();
    hardenWebContents(wc.contents, (url) => url.startsWith('http://localhost:5173/'));
    expect(wc.emit('will-navigate', 'http://localhost:5173/index.html')).toBe(false);
    expect(wc.emit('will-navigate', 'https://evil.example/')).toBe(true);
  });

  it('denies new windows and <webview> attachment', () => {
    const wc = fakeWebContents();
    hardenWebContents(wc.contents);
    expect(wc.openWindow('https://example.com/')).toEqual({ action: 'deny' });
    expect(wc.emit('will-attach-webview')).toBe(true);
  });
});

describe('denyAllPermissions', () => {
  it('refuses every permission request and check', () => {
    let request: ((wc: unknown, permission: string, cb: (granted: boolean) => void) => void) | undefined;
    let check: ((...args: unknown[]) => boolean) | undefined;
    const session = {
      setPermissionRequestHandler: (h: typeof request) => (request = h),
      setPermissionCheckHandler: (h: typeof check) => (check = h),
    } as unknown as Session;
    denyAllPermissions(session);

    for (const permission of ['media', 'geolocation', 'notifications', 'openExternal', 'clipboard-read']) {
      const cb = vi.fn();
      request?.({}, permission, cb);
      expect(cb).toHaveBeenCalledWith(false);
      expect(check?.({}, permission, 'file://', {})).toBe(false);
    }
  });
});
