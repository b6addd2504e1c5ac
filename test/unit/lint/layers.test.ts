/**
 * The layer rules in eslint.config.js, exercised through ESLint's Node API on in-memory sources placed at
 * paths inside each layer. If a config change (a glob typo, a reordered block) silently drops a rule,
 * these tests fail instead of the next layer violation slipping through.
 */
import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: root });
});

/** Lints `code` as if it were the file at `path` (relative to the repo root); returns the layer violations. */
async function layerErrors(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(root, path) });
  if (!result) throw new Error('ESLint returned no result');
  // A fatal parse error or an "ignored file" warning would hide the rule: make it fail loudly.
  const fatal = result.messages.filter((m) => m.fatal || m.ruleId === null);
  expect(fatal).toEqual([]);
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('engine and store never import Electron or the UI layers', () => {
  it.each([
    ['src/engine/x.ts', `import { app } from 'electron';\nexport const a = app;\n`],
    ['src/engine/x.ts', `import 'electron/main';\n`],
    [
      'src/engine/train/x.ts',
      `import { createMainWindow } from '../../main/windows';\nexport const f = createMainWindow;\n`,
    ],
    ['src/engine/x.ts', `export * from '../renderer/src/main';\n`],
    ['src/store/x.ts', `import type { WebContents } from 'electron';\nexport type W = WebContents;\n`],
    ['src/store/migrations/x.ts', `import '../../preload/index';\n`],
    // The store records what the engine reports; it never imports it (issue 11).
    [
      'src/store/x.ts',
      `import { writeFileAtomic } from '../engine/util/atomicFile';\nexport const w = writeFileAtomic;\n`,
    ],
    ['src/store/x.ts', `import '../app/services';\n`],
    ['src/engine/x.ts', `import '../store/runStore';\n`],
    ['src/engine/train/x.ts', `import '../../app/runService';\n`],
  ])('%s: %j is reported', async (path, code) => {
    expect(await layerErrors(path, code)).toHaveLength(1);
  });

  it('engine may import node built-ins, tfjs and shared', async () => {
    const code = `import { readFileSync } from 'node:fs';\nimport * as tf from '@tensorflow/tfjs';\nimport { z } from '../../shared/config';\nexport const all = [readFileSync, tf, z];\n`;
    expect(await layerErrors('src/engine/data/x.ts', code)).toEqual([]);
  });
});

describe('app never imports Electron or the UI layers; its Slurm executor uses shared only', () => {
  it.each([
    ['src/app/x.ts', `import { app } from 'electron';\nexport const a = app;\n`],
    ['src/app/jobs/x.ts', `import '../../main/ipc';\n`],
    ['src/app/executors/slurm/x.ts', `import { BrowserWindow } from 'electron';\nexport const b = BrowserWindow;\n`],
    ['src/app/executors/slurm/x.ts', `import { RunStore as R } from '../../../store/runStore';\nexport const r = R;\n`],
    ['src/app/executors/slurm/x.ts', `import '../../../engine/train/trainer';\n`],
  ])('%s: %j is reported', async (path, code) => {
    expect(await layerErrors(path, code)).toHaveLength(1);
  });

  it('the Slurm executor may import node built-ins and shared', async () => {
    const code =
      `import { spawn } from 'node:child_process';\n` +
      `import { RUN_STATUSES as S } from '../../../shared/records';\nexport const all = [spawn, S];\n`;
    expect(await layerErrors('src/app/executors/slurm/x.ts', code)).toEqual([]);
  });
});

describe('cli is a front door over app: never main, never Electron', () => {
  it.each([
    ['src/cli/x.ts', `import { createServices } from '../main/services';\nexport const c = createServices;\n`],
    ['src/cli/x.ts', `import { app } from 'electron';\nexport const a = app;\n`],
    ['src/cli/commands/x.ts', `import '../../main/index';\n`],
  ])('%s: %j is reported', async (path, code) => {
    expect(await layerErrors(path, code)).toHaveLength(1);
  });

  it('may import app, store, engine and shared', async () => {
    const code = `import '../app/services';\nimport '../store/runStore';\nimport '../engine/backend';\nimport '../shared/config';\n`;
    expect(await layerErrors('src/cli/x.ts', code)).toEqual([]);
  });
});

describe('io depends on no layer', () => {
  it.each([`import '../shared/config';\n`, `import '../engine/tf';\n`, `import 'electron';\n`])(
    'reports %j',
    async (code) => {
      expect(await layerErrors('src/io/x.ts', code)).toHaveLength(1);
    },
  );
});

describe('shared is pure TS (zod only)', () => {
  it.each([
    `import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n`,
    `import { join } from 'path';\nexport const j = join;\n`,
    `import 'fs/promises';\n`,
    `import { ipcRenderer } from 'electron';\nexport const i = ipcRenderer;\n`,
    `import { tf } from '../engine/tf';\nexport const t = tf;\n`,
    `import '../store/runStore';\n`,
  ])('reports %j', async (code) => {
    expect(await layerErrors('src/shared/x.ts', code)).toHaveLength(1);
  });

  it('allows zod and other shared modules', async () => {
    expect(
      await layerErrors(
        'src/shared/x.ts',
        `import { z } from 'zod';\nimport { y } from './config';\nexport const all = [z, y];\n`,
      ),
    ).toEqual([]);
  });
});

describe('renderer talks to the rest only through window.api', () => {
  it.each([
    ['src/renderer/src/x.ts', `import { tf } from '../../engine/tf';\nexport const t = tf;\n`],
    ['src/renderer/src/stores/x.ts', `import '../../../store/runStore';\n`],
    ['src/renderer/src/x.ts', `import '../../main/ipc';\n`],
    ['src/renderer/src/x.ts', `import { ipcRenderer } from 'electron';\nexport const i = ipcRenderer;\n`],
    ['src/renderer/src/x.ts', `import { readFile } from 'node:fs/promises';\nexport const r = readFile;\n`],
    // .vue files go through vue-eslint-parser: the rule must still see their imports.
    [
      'src/renderer/src/components/X.vue',
      `<script setup lang="ts">\nimport { tf } from '../../../engine/tf';\nconsole.log(tf);\n</script>\n<template><p>x</p></template>\n`,
    ],
  ])('%s: %j is reported', async (path, code) => {
    expect(await layerErrors(path, code)).toHaveLength(1);
  });

  it('allows vue and shared', async () => {
    const code = `import { ref } from 'vue';\nimport { RunConfig } from '../../shared/config';\nexport const all = [ref, RunConfig];\n`;
    expect(await layerErrors('src/renderer/src/x.ts', code)).toEqual([]);
  });
});

describe('preload: electron and shared only', () => {
  it('allows electron and shared', async () => {
    const code = `import { contextBridge } from 'electron';\nimport { z } from '../shared/config';\nexport const all = [contextBridge, z];\n`;
    expect(await layerErrors('src/preload/index.ts', code)).toEqual([]);
  });

  it.each([
    `import 'node:fs';\n`,
    `import '../engine/tf';\n`,
    `import '../main/ipc';\n`,
    `import '../store/runStore';\n`,
  ])('reports %j', async (code) => {
    expect(await layerErrors('src/preload/index.ts', code)).toHaveLength(1);
  });
});

describe('main: Electron adapters over app, never the UI or the CLI', () => {
  it('may import app, store, shared and electron', async () => {
    const code = `import { app } from 'electron';\nimport '../app/services';\nimport '../store/dataDir';\nimport '../shared/config';\nexport const a = app;\n`;
    expect(await layerErrors('src/main/index.ts', code)).toEqual([]);
  });

  it('may not import renderer, preload or cli code', async () => {
    const code = `import '../renderer/src/main';\nimport '../preload/index';\nimport '../cli/index';\n`;
    expect(await layerErrors('src/main/index.ts', code)).toHaveLength(3);
  });
});
