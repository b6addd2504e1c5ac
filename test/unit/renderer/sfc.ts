/**
 * Loads a Vue single-file component in vitest without @vitejs/plugin-vue (vitest.config.ts has no
 * Vue plugin and is shared by every suite): compiles it with @vue/compiler-sfc (script setup with
 * the template inlined), strips TypeScript with esbuild, rewrites relative imports to absolute
 * paths (compiling imported .vue files the same way), and writes the result under tmp/ in the
 * repository so bare imports ('vue', 'pinia') resolve to the same modules the test uses.
 * Styles are ignored (the app has one global stylesheet).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileScript, parse } from '@vue/compiler-sfc';
import { transformSync } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const OUT = join(ROOT, 'tmp', 'sfc-test');
const compiled = new Map<string, string>();

function resolveTs(from: string, spec: string): string {
  const abs = resolve(dirname(from), spec);
  if (abs.endsWith('.vue') || abs.endsWith('.css')) return abs;
  for (const ext of ['', '.ts', '/index.ts']) {
    try {
      readFileSync(abs + ext);
      return abs + ext;
    } catch {
      /* next */
    }
  }
  return abs;
}

/** Compiles `file` (absolute) and returns the path of the compiled ES module. */
export function compileSfc(file: string): string {
  const hit = compiled.get(file);
  if (hit) return hit;
  const src = readFileSync(file, 'utf8');
  const { descriptor, errors } = parse(src, { filename: file });
  if (errors.length) throw new Error(`${file}: ${errors.map((e) => e.message).join('; ')}`);
  const id = createHash('sha1').update(file).digest('hex').slice(0, 10);
  const script = compileScript(descriptor, { id, inlineTemplate: true, genDefaultAs: '_sfc_main' });
  let code = transformSync(script.content, { loader: 'ts', format: 'esm', target: 'es2022' }).code;
  if (!/export default/.test(code)) code += '\nexport default _sfc_main;\n';
  const out = join(OUT, `${id}.mjs`);
  compiled.set(file, out); // before recursing: cycles
  code = code.replace(
    /(from\s+|import\s+|import\()(['"])(\.{1,2}\/[^'"]+)\2/g,
    (_m, pre: string, q: string, spec: string) => {
      const target = resolveTs(file, spec);
      if (target.endsWith('.css')) return `${pre}${q}data:text/javascript,${q}`;
      const path = target.endsWith('.vue') ? compileSfc(target) : target;
      return `${pre}${q}${path}${q}`;
    },
  );
  mkdirSync(OUT, { recursive: true });
  writeFileSync(out, code);
  return out;
}

/** Imports a compiled SFC by its path relative to the repository root. */
export async function loadSfc<T = unknown>(relPath: string): Promise<T> {
  const file = isAbsolute(relPath) ? relPath : join(ROOT, relPath);
  const mod = (await import(/* @vite-ignore */ compileSfc(file))) as { default: T };
  return mod.default;
}
