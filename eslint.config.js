// ESLint flat config. Besides the usual correctness rules, it enforces the layers of docs/architecture.md
// ("shared, io <- engine, store <- app <- main, cli ; shared <- preload ; shared <- renderer")
// with one `no-restricted-imports` block per folder. The layers are what let almost every test run in
// plain Node or a plain browser, so a stray `import 'electron'` in the engine must fail CI, not review.
// test/unit/lint/layers.test.ts lints in-memory sources against this file so the rules can't silently die.
import { builtinModules } from 'node:module';
import { defineConfig } from 'eslint/config';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import pluginVue from 'eslint-plugin-vue';
import globals from 'globals';

// --- building blocks for the layer rules -------------------------------------------------------

/** `electron`, `electron/main`, `electron/renderer`, ... */
const ELECTRON = {
  regex: '^electron(/.*)?$',
  message: 'This layer must not depend on Electron (see ARCHITECTURE.md, Layers).',
};

/** `node:fs` and the bare builtin names (`fs`, `path`, `fs/promises`, ...). */
const NODE_BUILTINS = [
  { group: ['node:*'], message: 'This layer runs outside Node (browser or pure TS): no Node built-ins.' },
  {
    regex: `^(${builtinModules
      .filter((m) => !m.startsWith('_'))
      .map((m) => m.replace(/[/]/g, '\\/'))
      .join('|')})(\\/.*)?$`,
    message: 'This layer runs outside Node (browser or pure TS): no Node built-ins.',
  },
];

/**
 * Imports that reach another layer's folder. Matched on the specifier text (no-restricted-imports does
 * not resolve paths): any number of `../` followed by the layer folder, optionally through `src/`,
 * e.g. `../main/ipc`, `../../engine/tf`, `../../../src/store`. Consequence: layer names are reserved —
 * don't name a subfolder `engine`, `store`, `main`, `renderer` or `preload` inside another layer.
 */
function layers(...names) {
  const alt = names.join('|');
  return {
    regex: `^(\\.\\./)+(src/)?(${alt})(/.*)?$`,
    message: `Layer violation: this folder must not import from src/{${names.join(',')}} (see ARCHITECTURE.md, Layers).`,
  };
}

/**
 * One `no-restricted-imports` block for a folder. Covers .ts and .vue (the Vue parser feeds ImportDeclarations too).
 * Note: a later block that also sets `no-restricted-imports` for these files replaces this one (flat config
 * does not merge rule options), so extend the pattern lists here instead.
 */
function restrict(folder, patterns) {
  return {
    files: [`${folder}/**/*.{ts,tsx,mts,cts,js,mjs,cjs,vue}`],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  };
}

export default defineConfig(
  {
    // Build outputs, installs, run data and the device copy are not source.
    ignores: [
      'out/',
      'dist/',
      'node_modules/',
      '.device/',
      'runs/',
      'test-results/',
      'test-report/',
      'coverage/',
      '.vite/',
      'tmp/',
    ],
  },

  js.configs.recommended,
  // Syntax-only typescript-eslint rules: type-aware rules would need a full program per lint and make
  // `eslint .` slow; `tsc --noEmit` already runs as its own suite.
  tseslint.configs.recommended,
  // Vue SFCs: only the "essential" (correctness) set; formatting is not a lint concern here.
  pluginVue.configs['flat/essential'],
  {
    files: ['**/*.vue'],
    languageOptions: {
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'], sourceType: 'module' },
    },
  },

  {
    rules: {
      // Allow deliberately unused names when they start with `_` (callbacks with a fixed signature, etc.).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
      // Off: the engine's tight loops use comma sequences (`(sum += v), n++`), which this rule always flags.
      // tsc already reports a comma operand without side effects (TS2695).
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },

  // Globals per runtime (matters for plain .js/.mjs files; TS files get no-undef switched off by typescript-eslint).
  {
    files: [
      '**/*.{js,mjs,cjs}',
      'scripts/**',
      'bin/**',
      'bench/**',
      'test/**',
      'src/{io,engine,store,app,main,cli}/**',
      '*.config.*',
    ],
    languageOptions: { globals: { ...globals.node } },
  },
  { files: ['src/renderer/**'], languageOptions: { globals: { ...globals.browser } } },

  // --- layers --------------------------------------------------------------------------------------
  // shared: pure TS (zod only) — it is imported by every process, including the sandboxed renderer.
  restrict('src/shared', [
    ELECTRON,
    ...NODE_BUILTINS,
    layers('io', 'engine', 'store', 'app', 'main', 'renderer', 'preload', 'cli'),
  ]),
  // io: small Node helpers (atomic writes) that engine, store, app and cli share; it depends on no layer.
  restrict('src/io', [ELECTRON, layers('shared', 'engine', 'store', 'app', 'main', 'renderer', 'preload', 'cli')]),
  // engine and store run in plain Node (utility process, CLI, tests): never Electron, never each other, never the
  // application or UI layers. The store never imports the engine: it records what the engine reports.
  restrict('src/engine', [ELECTRON, layers('store', 'app', 'main', 'renderer', 'preload', 'cli')]),
  restrict('src/store', [ELECTRON, layers('engine', 'app', 'main', 'renderer', 'preload', 'cli')]),
  // app: the Electron-free application layer (use cases, run queue, contract handlers, web server) composes shared,
  // io, store and engine; never Electron or a front door (main, cli) or UI code.
  restrict('src/app', [ELECTRON, layers('main', 'renderer', 'preload', 'cli')]),
  // The Slurm executor's pieces are pure Node over shared only, so they run anywhere the CLI does. (A later block
  // replaces the one above for these files; this one includes its patterns.)
  restrict('src/app/executors/slurm', [ELECTRON, layers('engine', 'store', 'main', 'renderer', 'preload', 'cli')]),
  // main: the Electron adapters over app; never UI code or the CLI.
  restrict('src/main', [layers('renderer', 'preload', 'cli')]),
  // cli: flags -> use case (app) -> print; headless, so never Electron, main or UI code.
  restrict('src/cli', [ELECTRON, layers('main', 'renderer', 'preload')]),
  // preload runs sandboxed: only `electron` (contextBridge, ipcRenderer) and shared.
  restrict('src/preload', [...NODE_BUILTINS, layers('io', 'engine', 'store', 'app', 'main', 'renderer', 'cli')]),
  // renderer is a web page (also served in web mode): shared only, everything else via window.api.
  restrict('src/renderer', [
    ELECTRON,
    ...NODE_BUILTINS,
    layers('io', 'engine', 'store', 'app', 'main', 'preload', 'cli'),
  ]),
);
