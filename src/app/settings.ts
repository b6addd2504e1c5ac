/**
 * App settings that outlive a session, in <data>/settings.json (written atomically; keys this version does not
 * know are kept), and where the FID Inception weights come from. One rule for the CLI and the app: an explicit
 * path (`--inception FILE`) wins, then the SADPM_INCEPTION_WEIGHTS environment variable, then the setting.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { writeJsonAtomic } from '../io/atomicFile';
import { AppSettingsSchema, type AppSettings, type SettingsView, type WeightsCheck } from '../shared/evaluation';
import {
  FID_WEIGHTS_FILE,
  FID_WEIGHTS_SHA256_PREFIX,
  INCEPTION_WEIGHTS_ENV,
  INCEPTION_WEIGHTS_HELP,
} from '../engine/metrics/inception/weights';
import { FieldError } from '../shared/errors';

export const SETTINGS_FILE = 'settings.json';
const DEFAULTS: AppSettings = { inceptionWeights: null };

export function settingsPath(dataDir: string): string {
  return join(dataDir, SETTINGS_FILE);
}

/** The file's JSON object as stored (unknown keys included); {} when there is no file yet. */
function readRaw(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message}); fix or remove the file`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error(`${file}: expected a JSON object of settings`);
  }
  return raw as Record<string, unknown>;
}

export function loadSettings(dataDir: string): AppSettings {
  const file = settingsPath(dataDir);
  const raw = readRaw(file);
  const parsed = AppSettingsSchema.partial().safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new Error(`${file}: field '${i.path.join('.')}': ${i.message}`);
  }
  return { ...DEFAULTS, ...parsed.data };
}

/** Validates and stores a change; the other keys of the file stay as they were. */
export function saveSettings(dataDir: string, patch: Partial<AppSettings>): AppSettings {
  const parsed = AppSettingsSchema.partial().strict().safeParse(patch);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new FieldError(i.path.join('.') || 'settings', i.message);
  }
  const next = { ...parsed.data };
  if (typeof next.inceptionWeights === 'string') {
    const p = next.inceptionWeights.trim();
    if (!isAbsolute(p)) {
      throw new FieldError('inceptionWeights', `expected an absolute path to ${FID_WEIGHTS_FILE}, got '${p}'`, p);
    }
    next.inceptionWeights = p;
  }
  const file = settingsPath(dataDir);
  writeJsonAtomic(file, { ...readRaw(file), ...next });
  return loadSettings(dataDir);
}

export interface WeightsChoice {
  path: string | null;
  source: WeightsCheck['source'];
}

/** Which weights file to use: the explicit path, else the environment variable, else the setting. */
export function chooseInceptionWeights(
  dataDir: string,
  explicit?: string | null,
  env: NodeJS.ProcessEnv = process.env,
): WeightsChoice {
  if (explicit) return { path: resolve(explicit), source: 'flag' };
  const fromEnv = env[INCEPTION_WEIGHTS_ENV]?.trim();
  if (fromEnv) return { path: resolve(fromEnv), source: 'env' };
  const set = loadSettings(dataDir).inceptionWeights;
  return set ? { path: set, source: 'settings' } : { path: null, source: null };
}

const hashes = new Map<string, string>();

/** SHA-256 of a file, streamed (the weights are ~91 MB), remembered per path, size and mtime. */
export async function fileSha256(path: string): Promise<string> {
  const st = statSync(path);
  const key = `${path}\0${st.size}\0${st.mtimeMs}`;
  const hit = hashes.get(key);
  if (hit) return hit;
  const h = createHash('sha256');
  await new Promise<void>((done, fail) => {
    createReadStream(path)
      .on('data', (b) => h.update(b))
      .on('end', () => done())
      .on('error', fail);
  });
  const hex = h.digest('hex');
  hashes.set(key, hex);
  return hex;
}

/** Whether the chosen weights file is there and is pytorch-fid's (by its SHA-256 prefix), in words. */
export async function checkInceptionWeights(choice: WeightsChoice): Promise<WeightsCheck> {
  const base = { path: choice.path, source: choice.source };
  const from =
    choice.source === 'env' ? ` (from ${INCEPTION_WEIGHTS_ENV})` : choice.source === 'flag' ? '' : ' (Settings)';
  if (!choice.path) {
    const message = `no Inception weights set: metrics are computed in the pixel space. ${INCEPTION_WEIGHTS_HELP}`;
    return { ...base, found: false, sha256: null, ok: false, message };
  }
  let isFile = false;
  try {
    isFile = statSync(choice.path).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) {
    const message = `${choice.path}${from}: no such file. ${INCEPTION_WEIGHTS_HELP}`;
    return { ...base, found: false, sha256: null, ok: false, message };
  }
  const sha256 = await fileSha256(choice.path);
  const ok = sha256.startsWith(FID_WEIGHTS_SHA256_PREFIX);
  const message = ok
    ? `${choice.path}${from}: pytorch-fid's Inception weights (SHA-256 ${sha256.slice(0, 16)}…)`
    : `${choice.path}${from}: SHA-256 ${sha256} does not start with ${FID_WEIGHTS_SHA256_PREFIX}, the prefix in ` +
      `pytorch-fid's file name ${FID_WEIGHTS_FILE}: a different or corrupt file. ${INCEPTION_WEIGHTS_HELP}`;
  return { ...base, found: true, sha256, ok, message };
}

/** The Settings panel's view: the stored settings, the environment override, and the weights check. */
export async function settingsView(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<SettingsView> {
  const settings = loadSettings(dataDir);
  const weights = await checkInceptionWeights(chooseInceptionWeights(dataDir, null, env));
  const value = env[INCEPTION_WEIGHTS_ENV]?.trim() || null;
  return {
    settings,
    file: settingsPath(dataDir),
    env: { name: INCEPTION_WEIGHTS_ENV, value },
    weights,
    help: INCEPTION_WEIGHTS_HELP,
  };
}
