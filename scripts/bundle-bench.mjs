#!/usr/bin/env node
// Bundles bench/train.ts into one ESM file for the remote GPU machine, where node_modules cannot travel.
// dawn.node stays outside: the engine loads it from SADPM_DAWN_NODE there (see ../shared/device/README.md).
//   node scripts/bundle-bench.mjs [out=/tmp/bench.mjs]
import { build } from 'esbuild';

const outfile = process.argv[2] ?? '/tmp/bench.mjs';
await build({
  entryPoints: ['bench/train.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile,
  // Optional backends that are never present there; the engine's dynamic imports handle their absence.
  external: ['@tensorflow/tfjs-node-gpu', 'webgpu'],
  banner: { js: "import {createRequire as __cr} from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
console.log(`bundled ${outfile}`);
