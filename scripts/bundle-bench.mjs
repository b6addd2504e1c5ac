#!/usr/bin/env node
// Bundles the GPU benchmarks and the CLI into single ESM files for the remote GPU machine, where node_modules
// cannot travel: bench/train.ts → OUT, and beside it bench/kernels.ts → kernels.mjs, bench/features.ts →
// features.mjs, bench/dispatchCost.ts → dispatchCost.mjs, bench/hostProfile.ts → hostProfile.mjs, the CLI → sadpm.mjs with its engine process →
// engineHost.js (the CLI forks the file of that name next to itself). The native addons stay outside: the engine loads dawn.node from SADPM_DAWN_NODE, the store
// better_sqlite3.node from SADPM_SQLITE_NODE (see ../shared/device/README.md).
//   node scripts/bundle-bench.mjs [out=/tmp/bench.mjs]
import { build } from 'esbuild';
import { dirname, join } from 'node:path';

const outfile = process.argv[2] ?? '/tmp/bench.mjs';
const entries = [
  ['bench/train.ts', outfile],
  ['bench/kernels.ts', join(dirname(outfile), 'kernels.mjs')],
  ['bench/features.ts', join(dirname(outfile), 'features.mjs')],
  ['bench/dispatchCost.ts', join(dirname(outfile), 'dispatchCost.mjs')],
  ['bench/hostProfile.ts', join(dirname(outfile), 'hostProfile.mjs')],
  ['src/cli/bundleEntry.ts', join(dirname(outfile), 'sadpm.mjs')],
  ['src/engine/hostEntry.ts', join(dirname(outfile), 'engineHost.js')],
];
for (const [entry, out] of entries) {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: out,
    // Optional backends that are never present there; the engine's dynamic imports handle their absence.
    external: ['@tensorflow/tfjs-node-gpu', 'webgpu', '@tensorflow/tfjs-backend-wasm'],
    banner: { js: "import {createRequire as __cr} from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  });
  console.log(`bundled ${out}`);
}
