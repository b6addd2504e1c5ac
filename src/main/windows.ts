/** Window creation. Options come from security.ts; this file only decides what to load. */
import { BrowserWindow } from 'electron';
import { mainWindowOptions } from './security';

export interface RendererLocation {
  /** Dev server URL from electron-vite (`ELECTRON_RENDERER_URL`), used only when the app is not packaged. */
  devUrl?: string | undefined;
  /** Built renderer entry (out/renderer/index.html). */
  file: string;
}

export function createMainWindow(preloadPath: string, renderer: RendererLocation): BrowserWindow {
  const win = new BrowserWindow(mainWindowOptions(preloadPath));
  win.once('ready-to-show', () => win.show());
  if (renderer.devUrl) void win.loadURL(renderer.devUrl);
  else void win.loadFile(renderer.file);
  return win;
}
