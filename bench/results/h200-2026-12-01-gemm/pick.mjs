// Reads BENCH_GEMM_JSON lines; prints "FWD FG": the forward variant (at the picked tile) and the
// filter-gradient variant with the least GPU time summed over the shapes; details to stderr.
import { readFileSync } from 'node:fs';
const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.startsWith('BENCH_GEMM_JSON '))
  .map((l) => JSON.parse(l.slice(16)));
const sums = new Map();
for (const r of rows) {
  const [kind, a, b] = r.case.split(' ');
  let key;
  if (kind === 'fwd') { if (!a.endsWith('*')) continue; key = `fwd ${b}`; } else key = `fgrad ${a}`;
  sums.set(key, (sums.get(key) ?? 0) + r.gpuMs);
}
const best = (kind) => [...sums].filter(([k]) => k.startsWith(kind + ' ')).sort((x, y) => x[1] - y[1]);
for (const kind of ['fwd', 'fgrad']) for (const [k, v] of best(kind)) console.error(`${k.padEnd(34)} ${v.toFixed(3)} ms`);
console.log(`${best('fwd')[0][0].split(' ')[1]} ${best('fgrad')[0][0].split(' ')[1]}`);
