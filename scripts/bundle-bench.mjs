#!/usr/bin/env node
// Bundles the GPU benchmarks into single ESM files for the remote GPU machine, where node_modules
// cannot travel: bench/train.ts → OUT and bench/kernels.ts → kernels.mjs beside it.
// dawn.node stays outside: the engine loads it from SADPM_DAWN_NODE there (see ../shared/device/README.md).
//   node scripts/bundle-bench.mjs [out=/tmp/bench.mjs]
import { build } from 'esbuild';
import { dirname, join } from 'node:path';

const outfile = process.argv[2] ?? '/tmp/bench.mjs';
const entries = [
  ['bench/train.ts', outfile],
  ['bench/kernels.ts', join(dirname(outfile), 'kernels.mjs')],
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
    external: ['@tensorflow/tfjs-node-gpu', 'webgpu'],
    banner: { js: "import {createRequire as __cr} from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  });
  console.log(`bundled ${out}`);
}
