/**
 * Electron security policy as plain functions (Electron's security checklist), so that tests can call them
 * with fake objects and so that every window and every webContents gets the same treatment.
 *
 * Only `import type` from electron here: this module has no runtime dependency on the Electron binary,
 * which does not exist on CI machines (see ENVIRONMENT.md).
 */
import type { BrowserWindowConstructorOptions, Session, WebContents, WebPreferences } from 'electron';

/** Decides whether a URL may be navigated to. The default denies everything: the renderer is a single page. */
export type UrlPolicy = (url: string) => boolean;
export const denyAll: UrlPolicy = () => false;

/** webPreferences for every renderer we create: isolated, sandboxed, no Node, web security on. */
export function secureWebPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
  };
}

/** Options of the main window. `show: false` until 'ready-to-show' avoids a white flash. */
export function mainWindowOptions(preloadPath: string): BrowserWindowConstructorOptions {
  return {
    title: 'SA-DPM Studio',
    width: 1280,
    height: 820,
    minWidth: 800,
    minHeight: 560,
    show: false,
    autoHideMenuBar: true,
    webPreferences: secureWebPreferences(preloadPath),
  };
}

/**
 * Deny navigation, redirects, new windows and <webview> attachment on one webContents.
 * `allowNavigation` exists for a later allow-list (e.g. the dev server origin); it defaults to deny-all.
 * External links are opened elsewhere (shell.openExternal from an allow-list), never by navigating.
 */
export function hardenWebContents(contents: WebContents, allowNavigation: UrlPolicy = denyAll): void {
  contents.on('will-navigate', (event) => {
    if (!allowNavigation(event.url)) event.preventDefault();
  });
  contents.on('will-redirect', (event) => {
    if (!allowNavigation(event.url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
  });
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** Deny every permission request (camera, notifications, geolocation, ...) and every permission check. */
export function denyAllPermissions(session: Session): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => {
    callback(false);
  });
  session.setPermissionCheckHandler(() => false);
}
