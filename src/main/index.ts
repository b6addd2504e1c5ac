/**
 * Composition root of the Electron main process. It wires security policy and windows; later issues add the
 * run store, the engine host and IPC here. Engine and store code stays out of this file's imports for now.
 */
import { join } from 'node:path';
import { app, BrowserWindow, session } from 'electron';
import { denyAllPermissions, hardenWebContents } from './security';
import { createMainWindow } from './windows';

// Built layout (electron-vite): out/main/index.js, out/preload/index.cjs, out/renderer/index.html.
// Main is ESM (package.json "type": "module"), so import.meta.dirname replaces __dirname.
const here = import.meta.dirname;
const preloadPath = join(here, '../preload/index.cjs');
const rendererFile = join(here, '../renderer/index.html');

function openMainWindow(): void {
  createMainWindow(preloadPath, {
    devUrl: app.isPackaged ? undefined : process.env['ELECTRON_RENDERER_URL'],
    file: rendererFile,
  });
}

// One instance only: the run store has a single writer.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  // Sandbox every renderer, including any created by mistake without our webPreferences.
  app.enableSandbox();

  // Every webContents (windows, devtools, anything later) gets the deny-by-default navigation policy.
  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents));

  app.on('second-instance', () => {
    const [win] = BrowserWindow.getAllWindows();
    if (win) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });

  void app.whenReady().then(() => {
    denyAllPermissions(session.defaultSession);
    openMainWindow();
    // macOS: re-create a window when the dock icon is clicked and none is open.
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) openMainWindow();
    });
  });
}
