/**
 * Composition root of the Electron main process: security policy, windows, the main-side services
 * (run store, run queue, jobs) behind typed IPC, engines in utility processes, the native menu.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, Menu, session, webContents } from 'electron';
import { denyAllPermissions, hardenWebContents } from './security';
import { createMainWindow } from './windows';
import { createServices, type Services } from '../app/services';
import { makeHandlers } from '../app/contract/handlers';
import { broadcast, registerIpc, trustedSender } from './ipc';
import { utilityEngineSpawner } from './utilityEngine';
import { menuTemplate } from './menu';
import { registerFileScheme, serveFileScheme } from './fileProtocol';
import { resolveDataDir } from '../store/dataDir';

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
  // Privileged schemes can only be registered before the app is ready.
  registerFileScheme();

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

  let services: Services | undefined;
  const devUrl = app.isPackaged ? undefined : process.env['ELECTRON_RENDERER_URL'];
  const allWindows = () => webContents.getAllWebContents().filter((wc) => wc.getType() === 'window');

  app.on('before-quit', (event) => {
    if (!services) return;
    // Running runs write a checkpoint and stop before the app exits.
    event.preventDefault();
    const s = services;
    services = undefined;
    void s.close().finally(() => app.quit());
  });

  void app.whenReady().then(() => {
    denyAllPermissions(session.defaultSession);
    services = createServices({ dataDir: resolveDataDir(), spawn: utilityEngineSpawner(here), mode: 'electron' });
    serveFileScheme(services.store);
    const handlers = makeHandlers(services, {
      pick: async (kind, title) => {
        const win = BrowserWindow.getFocusedWindow();
        const props: ('openFile' | 'openDirectory')[] = [kind === 'folder' ? 'openDirectory' : 'openFile'];
        const r = win
          ? await dialog.showOpenDialog(win, { title, properties: props })
          : await dialog.showOpenDialog({ title, properties: props });
        return r.canceled ? null : (r.filePaths[0] ?? null);
      },
    });
    registerIpc(ipcMain, handlers, trustedSender(pathToFileURL(rendererFile).href, devUrl));
    services.subscribe((event, payload) => broadcast(allWindows, event, payload));
    Menu.setApplicationMenu(
      Menu.buildFromTemplate(
        menuTemplate({
          navigate: (view) => broadcast(allWindows, 'app.navigate', { view }),
          isMac: process.platform === 'darwin',
          dev: !app.isPackaged,
        }),
      ),
    );
    openMainWindow();
    // macOS: re-create a window when the dock icon is clicked and none is open.
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) openMainWindow();
    });
  });
}
