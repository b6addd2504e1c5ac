/**
 * Self and inclusive milliseconds of chosen functions in a V8 .cpuprofile (node --cpu-prof), by name:
 *   node bench/cpuprofSummary.mjs FILE.cpuprofile [--exclude submitQueue] recordAndSubmit makeUniforms ...
 * A name matches a frame whose function name ends with it (tfjs' bundle calls WebGPUBackend
 * "WebGPUBackend2"), so "recordAndSubmit" matches "WebGPUBackend2.recordAndSubmit". Inclusive time counts
 * a sample once even where the function recurses; --exclude NAME leaves out of inclusive time what runs
 * under NAME called from the function (a submit on llvmpipe runs the kernels themselves).
 */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const excluded = [];
for (let i = args.indexOf('--exclude'); i >= 0; i = args.indexOf('--exclude'))
  excluded.push(...args.splice(i, 2).slice(1));
const [file, ...names] = args;
if (!file || names.length === 0) {
  console.error('usage: node bench/cpuprofSummary.mjs FILE.cpuprofile NAME...');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const sampleMs = new Map();
prof.samples.forEach((id, i) => {
  const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
  sampleMs.set(id, (sampleMs.get(id) ?? 0) + dt);
});
const matches = (n, name) => {
  const f = n.callFrame.functionName;
  return f === name || f.endsWith(`.${name}`);
};
const out = {};
for (const name of names) {
  let self = 0;
  let incl = 0;
  for (const [id, ms] of sampleMs) {
    const n = byId.get(id);
    if (matches(n, name)) self += ms;
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur);
      if (matches(frame, name)) {
        incl += ms;
        break;
      }
      if (excluded.some((x) => matches(frame, x))) break;
    }
  }
  out[name] = { selfMs: +self.toFixed(1), inclusiveMs: +incl.toFixed(1) };
  console.log(
    `${name.padEnd(28)} self ${self.toFixed(1).padStart(8)} ms   inclusive ${incl.toFixed(1).padStart(8)} ms`,
  );
}
console.log('PROF_JSON ' + JSON.stringify(out));
