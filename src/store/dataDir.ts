/**
 * Where SA-DPM Studio keeps its database and files: the platform's app-data folder unless
 * `--data-dir` or SADPM_HOME says otherwise.
 */
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const APP_DIR_NAME = 'SA-DPM Studio';

export function defaultDataDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (platform === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), APP_DIR_NAME);
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', APP_DIR_NAME);
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'sadpm-studio');
}

/** The data folder: an explicit flag wins, then SADPM_HOME, then the platform default. */
export function resolveDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env.SADPM_HOME) return resolve(env.SADPM_HOME);
  return defaultDataDir(env);
}

export interface DataLayout {
  root: string;
  db: string;
  datasets: string;
  runs: string;
  exports: string;
  /** Files the store indexes and can recompute (reference statistics of datasets). */
  cache: string;
}

export function dataLayout(root: string): DataLayout {
  return {
    root,
    db: join(root, 'sadpm.db'),
    datasets: join(root, 'datasets'),
    runs: join(root, 'runs'),
    exports: join(root, 'exports'),
    cache: join(root, 'cache'),
  };
}

/**
 * Creates the data folder and its subfolders, turning mkdir's raw codes (EEXIST when the path is a file,
 * ENOTDIR when a parent is one, EACCES) into a message that names the folder and what to do.
 */
export function ensureDataFolders(layout: DataLayout): void {
  for (const dir of [layout.root, layout.datasets, layout.runs, layout.exports, layout.cache]) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'EEXIST'
          ? `${dir} is a file, not a folder`
          : code === 'ENOTDIR'
            ? `a part of the path ${dir} is a file, not a folder`
            : code === 'EACCES' || code === 'EPERM'
              ? `permission denied creating ${dir}`
              : (err as Error).message;
      const fix = 'point --data-dir or SADPM_HOME at a folder';
      throw new Error(`cannot use ${layout.root} as the data folder: ${why}; ${fix}`);
    }
  }
}
