/**
 * Host (main-thread) cost of each Dawn call tfjs-webgpu makes per dispatch, in µs per call, measured
 * on the device the engine creates: the numbers that bound how fast a host-bound training step can go.
 *   EGL_PLATFORM=surfaceless node --import tsx bench/dispatchCost.ts [--n 5000] [--rounds 3] [--iters 40]
 * Each figure is the best of 3 loops of n calls (the machine is shared), after a warm-up loop; then the
 * host time per dispatch of tfjs' recordAndSubmit on real ops with gpu/dispatchHost.ts off and on.
 */
import { tf } from '../src/engine/tf';
import { parseArgs, flagNumber } from '../src/cli/args';
import { initBackend, describeBackend } from '../src/engine/backend';
import { installDispatchHost, uninstallDispatchHost } from '../src/engine/gpu/dispatchHost';

interface BufferManagerLike {
  acquireBuffer(size: number, usage: number): GPUBuffer;
  releaseBuffer(b: GPUBuffer): void;
}

const SHADER = `
  @group(0) @binding(0) var<storage, read_write> y: array<f32>;
  @group(0) @binding(1) var<storage, read> a: array<f32>;
  @group(0) @binding(2) var<storage, read> b: array<f32>;
  struct U { nan: f32, inf: f32, shape: vec4<i32>, n: i32 }
  @group(0) @binding(3) var<uniform> u: U;
  @compute @workgroup_size(64)
  fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    if (i32(g.x) < u.n) { y[g.x] = a[g.x] + b[g.x]; }
  }`;

function time(n: number, body: (i: number) => void, after?: () => void): number {
  let best = Infinity;
  for (let round = 0; round < 4; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) body(i);
    after?.();
    const us = Number(process.hrtime.bigint() - t0) / 1e3 / n;
    if (round > 0) best = Math.min(best, us);
  }
  return best;
}

async function main(): Promise<void> {
  const { flags } = parseArgs(['bench', ...process.argv.slice(2)]);
  const n = flagNumber(flags, 'n', 5000);
  const info = await initBackend('webgpu');
  const be = tf.backend() as unknown as { device: GPUDevice; bufferManager: BufferManagerLike };
  const device = be.device;
  const queue = device.queue;
  const pipe = device.createComputePipeline({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code: SHADER }), entryPoint: 'main' },
  });
  const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const [y, a, b] = [0, 1, 2].map(() => device.createBuffer({ size: 256, usage: storage }));
  const uniformUsage = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
  const uni = device.createBuffer({ size: 48, usage: uniformUsage });
  const shared = device.createBuffer({ size: 256 * 64, usage: uniformUsage });
  const layout = pipe.getBindGroupLayout(0);
  const entries = (u: GPUBufferBinding): GPUBindGroupEntry[] =>
    [{ buffer: y! }, { buffer: a! }, { buffer: b! }, u].map((resource, binding) => ({ binding, resource }));
  const bytes = new ArrayBuffer(48);
  const rows: [string, number][] = [];

  rows.push(['pipeline.getBindGroupLayout(0)', time(n, () => pipe.getBindGroupLayout(0))]);
  rows.push([
    'device.createBindGroup (4 entries, cached layout)',
    time(n, () => device.createBindGroup({ layout, entries: entries({ buffer: uni }) })),
  ]);
  rows.push([
    'device.createBindGroup (uniform at offset/size in a shared buffer)',
    time(n, (i) =>
      device.createBindGroup({ layout, entries: entries({ buffer: shared, offset: (i % 64) * 256, size: 48 }) }),
    ),
  ]);
  rows.push(['queue.writeBuffer (48 B)', time(n, () => queue.writeBuffer(uni, 0, bytes, 0, 48))]);
  rows.push([
    'bufferManager acquire+release (48 B uniform)',
    time(n, () => be.bufferManager.releaseBuffer(be.bufferManager.acquireBuffer(48, uniformUsage))),
  ]);

  const group = device.createBindGroup({ layout, entries: entries({ buffer: uni }) });
  // Recording into one long pass (submitted untimed), then the cost of a tfjs-sized submit on its own.
  let enc = device.createCommandEncoder();
  let pass = enc.beginComputePass();
  const drain = async () => {
    pass.end();
    queue.submit([enc.finish()]);
    await queue.onSubmittedWorkDone();
    enc = device.createCommandEncoder();
    pass = enc.beginComputePass();
    pass.setPipeline(pipe);
    pass.setBindGroup(0, group);
  };
  const rec = async (name: string, body: () => void) => {
    let best = Infinity;
    for (let round = 0; round < 4; round++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) body();
      const us = Number(process.hrtime.bigint() - t0) / 1e3 / n;
      if (round > 0) best = Math.min(best, us);
      await drain();
    }
    rows.push([name, best]);
  };
  await drain();
  await rec('setPipeline', () => pass.setPipeline(pipe));
  await rec('setBindGroup', () => pass.setBindGroup(0, group));
  await rec('dispatchWorkgroups', () => pass.dispatchWorkgroups(1, 1, 1));
  await rec('setPipeline+setBindGroup+dispatchWorkgroups', () => {
    pass.setPipeline(pipe);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(1, 1, 1);
  });
  pass.end();
  queue.submit([enc.finish()]);
  await queue.onSubmittedWorkDone();
  const m = Math.ceil(n / 15);
  // Host µs of queue.submit for encoders of `per` dispatches (about n dispatches a round; best of rounds 2-4).
  const submitCost = async (per: number): Promise<number> => {
    const encoders = Math.ceil(n / per);
    let best = Infinity;
    for (let round = 0; round < 4; round++) {
      let submitNs = 0n;
      for (let i = 0; i < encoders; i++) {
        const e = device.createCommandEncoder();
        const p = e.beginComputePass();
        p.setPipeline(pipe);
        for (let j = 0; j < per; j++) {
          p.setBindGroup(0, group);
          p.dispatchWorkgroups(1, 1, 1);
        }
        p.end();
        const t0 = process.hrtime.bigint();
        queue.submit([e.finish()]);
        submitNs += process.hrtime.bigint() - t0;
      }
      await queue.onSubmittedWorkDone();
      if (round > 0) best = Math.min(best, Number(submitNs) / 1e3 / encoders);
    }
    return best;
  };
  rows.push(['finish+submit of a 15-dispatch encoder', await submitCost(15)]);
  rows.push(['finish+submit of a 60-dispatch encoder', await submitCost(60)]);
  rows.push([
    'createCommandEncoder+beginComputePass+end (empty)',
    time(m, () => {
      const e = device.createCommandEncoder();
      e.beginComputePass().end();
    }),
  ]);

  console.log(`${describeBackend(info)}; n=${n}`);
  for (const [name, us] of rows) console.log(`${us.toFixed(2).padStart(8)} µs  ${name}`);
  const iters = flagNumber(flags, 'iters', 40);
  for (const r of await opsAB(flagNumber(flags, 'rounds', 3), iters)) {
    const tag = `round ${r.round}, dispatchHost ${r.on ? 'on' : 'off'}`;
    rows.push([`recordAndSubmit on tfjs ops (${tag}), µs/dispatch`, r.recordUs]);
    rows.push([`runWebGPUProgram, submits left out (${tag}), µs/dispatch`, r.programUs]);
    rows.push([`submitQueue (${tag}), µs/submit`, r.submitUs]);
  }
  console.log(`BENCH_JSON ${JSON.stringify(Object.fromEntries(rows.map(([k, v]) => [k.trim(), +v.toFixed(3)])))}`);
}

interface Hooked {
  runWebGPUProgram: (...a: unknown[]) => unknown;
  recordAndSubmit: (...a: unknown[]) => void;
  submitQueue: () => void;
}

/**
 * Host time per dispatch inside the backend's recordAndSubmit and in all of runWebGPUProgram (output
 * buffer, shader key, recording; submits left out: on llvmpipe a submit runs the kernels) over a small
 * conv net's forward and backward pass, with gpu/dispatchHost.ts installed and not, alternating; each
 * round's figure is the best of 3 passes of `iters` steps.
 */
async function opsAB(rounds: number, iters: number) {
  const be = tf.backend() as unknown as Hooked;
  const x = tf.randomNormal<tf.Rank.R4>([4, 8, 8, 8]);
  const w1 = tf.variable(tf.randomNormal<tf.Rank.R4>([3, 3, 8, 16]));
  const w2 = tf.variable(tf.randomNormal<tf.Rank.R4>([3, 3, 16, 8]));
  const bias = tf.variable(tf.zeros([16]));
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        const h = tf.relu(tf.add(tf.conv2d(x, w1, 1, 'same'), bias)) as tf.Tensor4D;
        return tf.mean(tf.square(tf.sub(tf.conv2d(h, w2, 1, 'same'), x)));
      });
      return [value, ...Object.values(grads)];
    });
  const out: { round: number; on: boolean; recordUs: number; programUs: number; submitUs: number }[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const on of [false, true]) {
      if (on) installDispatchHost(be);
      else uninstallDispatchHost();
      let best = { recordUs: Infinity, programUs: Infinity, submitUs: Infinity };
      for (let pass = 0; pass < 4; pass++) {
        const rec = be.recordAndSubmit;
        const sub = be.submitQueue;
        const run = be.runWebGPUProgram;
        let runNs = 0n;
        let recNs = 0n;
        let subNs = 0n;
        let dispatches = 0;
        let submits = 0;
        be.submitQueue = function (this: Hooked) {
          const t0 = process.hrtime.bigint();
          sub.call(this);
          subNs += process.hrtime.bigint() - t0;
          submits++;
        };
        be.runWebGPUProgram = function (this: Hooked, ...a: unknown[]) {
          const s0 = subNs;
          const t0 = process.hrtime.bigint();
          const r = run.apply(this, a);
          runNs += process.hrtime.bigint() - t0 - (subNs - s0);
          return r;
        };
        be.recordAndSubmit = function (this: Hooked, ...a: unknown[]) {
          const s0 = subNs;
          const t0 = process.hrtime.bigint();
          rec.apply(this, a);
          recNs += process.hrtime.bigint() - t0 - (subNs - s0);
          dispatches++;
        };
        for (let i = 0; i < iters; i++) tf.dispose(step());
        await (tf.sum(w1) as tf.Tensor).data();
        be.recordAndSubmit = rec;
        be.submitQueue = sub;
        be.runWebGPUProgram = run;
        // The first pass fills the caches (and compiles the pipelines, in the first round).
        if (pass > 0 && Number(recNs) / 1e3 / dispatches < best.recordUs) {
          best = {
            recordUs: Number(recNs) / 1e3 / dispatches,
            programUs: Number(runNs) / 1e3 / dispatches,
            submitUs: Number(subNs) / 1e3 / submits,
          };
        }
      }
      out.push({ round, on, ...best });
      console.log(
        `round ${round} bind groups ${on ? 'reused' : 'per dispatch'}: ` +
          `recordAndSubmit ${best.recordUs.toFixed(2)} µs/dispatch, ` +
          `runWebGPUProgram ${best.programUs.toFixed(2)} µs/dispatch, ` +
          `submitQueue ${best.submitUs.toFixed(1)} µs/submit`,
      );
    }
  }
  installDispatchHost(be);
  tf.dispose([x, w1, w2, bias]);
  return out;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
