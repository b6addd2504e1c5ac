// Prints a Vulkan adapter's subgroup-matrix configurations (Dawn's chromium-experimental-subgroup-matrix, which
// needs allow_unsafe_apis) and whether an f32 subgroup-matrix shader compiles: whether WGSL can reach the GPU's
// matrix units at all. On the remote machine: SADPM_DAWN_NODE=$DAWN_NODE $NODE bench/subgroupMatrixProbe.mjs
// (result for the H200: bench/results/h200-2026-12-01-table/adapter.txt).
import { createRequire } from 'node:module';

if (!process.env.SADPM_DAWN_NODE) {
  console.error('subgroupMatrixProbe: set SADPM_DAWN_NODE to the path of dawn.node');
  process.exit(2);
}
const dawn = createRequire(import.meta.url)(process.env.SADPM_DAWN_NODE);
(async () => {
  const gpu = dawn.create(['backend=vulkan', 'enable-dawn-features=allow_unsafe_apis']);
  Object.assign(globalThis, dawn.globals);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    console.error('subgroupMatrixProbe: Dawn found no Vulkan adapter on this machine');
    process.exit(2);
  }
  const info = adapter.info;
  const out = {};
  for (const k in info) out[k] = info[k];
  console.log(
    'info',
    JSON.stringify(out, (k, v) => (typeof v === 'bigint' ? String(v) : v)),
  );
  for (const c of info.subgroupMatrixConfigs || []) {
    const o = {};
    for (const k of ['componentType', 'resultComponentType', 'M', 'N', 'K']) o[k] = c[k];
    console.log('subgroup matrix config', JSON.stringify(o));
  }
  console.log(
    'limits sharedmem',
    adapter.limits.maxComputeWorkgroupStorageSize,
    'subgroupMin',
    info.subgroupMinSize,
    'max',
    info.subgroupMaxSize,
  );
  const feats = ['chromium-experimental-subgroup-matrix', 'subgroups', 'shader-f16'].filter((f) =>
    adapter.features.has(f),
  );
  console.log('features', feats);
  const device = await adapter.requestDevice({ requiredFeatures: feats });
  for (const [ty, acc] of [['f32', 'f32']]) {
    for (const [m, n, k] of [
      [8, 8, 8],
      [16, 16, 8],
    ]) {
      const code = `enable chromium_experimental_subgroup_matrix;${ty === 'f16' || acc === 'f16' ? ' enable f16;' : ''}
@group(0) @binding(0) var<storage, read_write> buf: array<${ty}>;
@group(0) @binding(1) var<storage, read_write> res: array<${acc}>;
@compute @workgroup_size(32)
fn main() {
  let a = subgroupMatrixLoad<subgroup_matrix_left<${ty}, ${k}, ${m}>>(&buf, 0, false, ${k});
  let b = subgroupMatrixLoad<subgroup_matrix_right<${ty}, ${n}, ${k}>>(&buf, 0, false, ${n});
  var c = subgroup_matrix_result<${acc}, ${n}, ${m}>();
  c = subgroupMatrixMultiplyAccumulate(a, b, c);
  subgroupMatrixStore(&res, 0, c, false, ${n});
}`;
      device.pushErrorScope('validation');
      const mod = device.createShaderModule({ code });
      const ci = await mod.getCompilationInfo();
      const err = await device.popErrorScope();
      const msgs = ci.messages.filter((x) => x.type === 'error').map((x) => x.message.split('\n')[0]);
      console.log(
        `${ty}->${acc} M${m} N${n} K${k}:`,
        msgs.length || err ? `no (${(msgs[0] || err.message).slice(0, 140)})` : 'compiles',
      );
    }
  }
  process.exit(0);
})().catch((e) => {
  console.error('ERR', (e && e.stack) || e);
  process.exit(1);
});
