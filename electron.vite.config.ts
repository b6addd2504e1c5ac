/**
 * electron-vite build of the three Electron bundles (main, preload, renderer) into out/.
 * Defaults kept where they fit: entries src/main/index.ts, src/preload/index.ts, src/renderer/index.html;
 * main is ESM because package.json says "type": "module".
 */
import { readFileSync } from 'node:fs';
import { defineConfig } from 'electron-vite';
import vue from '@vitejs/plugin-vue';
import type { Plugin } from 'vite';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * In `electron-vite dev` only, Vite injects CSS as <style> elements, which the strict CSP in index.html
 * blocks. Relax style-src for the dev server; built files keep the strict policy (CSS is a file there).
 */
function devStyleCsp(): Plugin {
  return {
    name: 'sadpm:dev-style-csp',
    apply: 'serve',
    transformIndexHtml: (html) => html.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
  };
}

export default defineConfig({
  main: {
    // Dependencies stay external (node_modules ship with the app; native ones like better-sqlite3 can't be bundled).
    // engineHost is the engine's utilityProcess entry, next to index.js.
    build: {
      externalizeDeps: true,
      rolldownOptions: { input: { index: 'src/main/index.ts', engineHost: 'src/engine/hostEntry.ts' } },
    },
  },
  preload: {
    define: { __APP_VERSION__: JSON.stringify(pkg.version) },
    build: {
      // A sandboxed preload can require only 'electron': the contract (and zod) are bundled in.
      externalizeDeps: { exclude: ['zod'] },
      // Sandboxed preload scripts must be CommonJS (Electron can't load an ES module preload in a sandbox).
      rolldownOptions: { output: { format: 'cjs', entryFileNames: '[name].cjs' } },
    },
  },
  renderer: {
    plugins: [vue(), devStyleCsp()],
  },
});
