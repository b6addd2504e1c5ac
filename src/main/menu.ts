/** The native menu: views and actions the window also offers, plus the usual app and edit roles. */
import type { MenuItemConstructorOptions } from 'electron';

export function menuTemplate(opts: {
  navigate: (view: string) => void;
  isMac: boolean;
  dev: boolean;
}): MenuItemConstructorOptions[] {
  const go = (view: string, label: string, accelerator?: string): MenuItemConstructorOptions => ({
    label,
    accelerator,
    click: () => opts.navigate(view),
  });
  return [
    ...(opts.isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        go('new-run', 'New Run…', 'CmdOrCtrl+N'),
        go('datasets', 'Import Dataset…', 'CmdOrCtrl+I'),
        go('export', 'Export…', 'CmdOrCtrl+E'),
        { type: 'separator' },
        opts.isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        go('runs', 'Runs', 'CmdOrCtrl+1'),
        go('monitor', 'Monitor', 'CmdOrCtrl+2'),
        go('gallery', 'Gallery', 'CmdOrCtrl+3'),
        go('compare', 'Compare', 'CmdOrCtrl+4'),
        go('datasets', 'Datasets', 'CmdOrCtrl+5'),
        { type: 'separator' },
        ...(opts.dev ? [{ role: 'reload' as const }, { role: 'toggleDevTools' as const }] : []),
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
  ];
}
