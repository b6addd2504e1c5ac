/**
 * Filter and bias gradient of a 3×3 stride-1 'same' convolution by F(4×4, 3×3). The forward pass
 * computes each 4×4 block as Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, so the filter's gradient from one block is
 * Gᵀ[(A dY Aᵀ) ⊙ (Bᵀ d B)]G, summed over blocks (exact algebra, the same matrices):
 *
 *   U[ξ] = (Bᵀ d B)[ξ]   [P × cin]        D[ξ] = (A dy Aᵀ)[ξ]   [P × cout]
 *   M[ξ] = U[ξ]ᵀ · D[ξ]  [cin × cout], a reduction over the P blocks        dW = Gᵀ M G
 *
 * so the product shrinks to a quarter of the direct filter gradient's, as in the forward pass. U and
 * D go through winograd.ts' scratch buffers chunk by chunk. The products have few output tiles
 * (36 · ⌈cin/128⌉ · ⌈cout/128⌉) and a long reduction, so each chunk's reduction is split S ways;
 * split s adds its part of every chunk into slot s of `parts` (chunks run one after another, so no
 * two workgroups touch one slot at once). One pass then sums the S slots into slot 0, one turns M
 * into dW. db = Σ dy (sumLeading.ts).
 */
import { tf } from '../tf';
import { emptyTensor, encoder, gpuBuffer } from './flatCopy';
import {
  FLAT_INDEX,
  FLAT_THREADS,
  cachedPipeline,
  flatGrid,
  ownDispatchBackend,
  uniformBindGroup,
} from './ownDispatch';
import { FILTER_GRAD_VARIANT, TILE_THREADS as THREADS, bkOf, fitStages, tileKernel, u, type Tile } from './gemmTile';
import { sumLeadingGpu, sumSpatialGpu } from './sumLeading';
import { A, GT, sandwich } from './winogradMath';
import {
  XI,
  ZERO,
  geometry,
  inputCode,
  patchTransformCode,
  PASS_UNIFORMS,
  passUniforms,
  scratchBuffers,
  tileEntry,
  winogradApplies,
  type Geometry,
} from './winograd';

/** Bytes the split partial sums may take (S is lowered to fit). */
const PARTS_BYTES = 64 * 2 ** 20;

/** Fewest blocks a split reduces (tests lower it to run several splits on small shapes). */
let splitBlocks = 256;

export function setWinogradSplitBlocks(blocks: number): void {
  if (!Number.isInteger(blocks) || blocks < 1)
    throw new Error(`split of ${blocks} blocks: expected a whole number >= 1`);
  splitBlocks = blocks;
}

/** dy → D: each invocation transforms one 4×4 block of output gradients (zero past the image) of 4 channels. */
function gradCode(g: Geometry): string {
  const c4n = g.cout / 4;
  const loads: string[] = [];
  for (let a = 0; a < 4; a++) loads.push(`let oy${a} = ty * 4u + ${u(a)}; let inY${a} = oy${a} < ${u(g.h)};`);
  for (let b = 0; b < 4; b++) loads.push(`let ox${b} = tx * 4u + ${u(b)}; let inX${b} = ox${b} < ${u(g.w)};`);
  for (let a = 0; a < 4; a++)
    for (let b = 0; b < 4; b++)
      loads.push(
        `var p${a}_${b} = ${ZERO}; if (inY${a} && inX${b}) { p${a}_${b} = dy[((img * ${u(g.h)} + oy${a}) * ${u(g.w)} + ox${b}) * ${u(c4n)} + c4]; }`,
      );
  return patchTransformCode({ src: 'dy', dst: 'D' }, c4n, g, loads, A, A);
}

/**
 * parts[split][ξ] (+)= U[ξ]ᵀ · D[ξ] over this chunk's blocks of the split: workgroup (x, y, z) = (cin
 * tile, cout tile, split · 36 + ξ); the first chunk stores, later ones add.
 */
function productCode(g: Geometry, tile: Tile, splits: number): string {
  const { cin, cout, rows } = g;
  const { bm, bn } = tile;
  const bk = bkOf(tile);
  const kc = Math.ceil(Math.ceil(rows / splits) / bk) * bk;
  const aCols = bm / 4;
  const aStep = THREADS / aCols;
  const bCols = bn / 4;
  const bStep = THREADS / bCols;
  const load = (it: string) => {
    const body = [`let k0 = kStart + ${it} * ${u(bk)};`];
    for (let r = 0; r < bk / aStep; r++)
      body.push(`{
              let p = k0 + aRow0 + ${u(r * aStep)};
              ra[${r}] = ${ZERO};
              if (p < kEnd && aOk) { ra[${r}] = U[(z * ${u(rows)} + p) * ${u(cin / 4)} + ci4]; }
            }`);
    for (let r = 0; r < bk / bStep; r++)
      body.push(`{
              let p = k0 + bRow0 + ${u(r * bStep)};
              rb[${r}] = ${ZERO};
              if (p < kEnd && co < ${u(cout)}) { rb[${r}] = D[(z * ${u(rows)} + p) * ${u(cout / 4)} + co / 4u]; }
            }`);
    return `{ ${body.join('\n            ')} }`;
  };
  const stores: string[] = [];
  for (let r = 0; r < bk / aStep; r++)
    stores.push(`As[aW + (aRow0 + ${u(r * aStep)}) * ${u(aCols)} + aCol] = ra[${r}];`);
  for (let r = 0; r < bk / bStep; r++)
    stores.push(`Bs[bW + (bRow0 + ${u(r * bStep)}) * ${u(bCols)} + bCol] = rb[${r}];`);
  const body = tileKernel({
    tile,
    steps: kc / bk,
    setup: `
        let z = workgroupId.z % ${u(XI)};
        let split = workgroupId.z / ${u(XI)};
        let kStart = split * ${u(kc)};
        let kEnd = min(kStart + ${u(kc)}, uniforms.pc);
        let aCol = tid % ${u(aCols)};
        let aRow0 = tid / ${u(aCols)};
        let ci4 = rowBase / 4u + aCol;
        let aOk = ci4 < ${u(cin / 4)};
        let bCol = tid % ${u(bCols)};
        let bRow0 = tid / ${u(bCols)};
        let co = colBase + bCol * 4u;
        var ra: array<vec4<f32>, ${bk / aStep}>;
        var rb: array<vec4<f32>, ${bk / bStep}>;`,
    load,
    store: stores.join('\n          '),
    emit: (row, col, value) => `{
          let c = rowBase + ${row};
          let o = colBase + ${col};
          if (c < ${u(cin)} && o < ${u(cout)}) {
            let at = ((split * ${u(XI)} + z) * ${u(cin)} + c) * ${u(cout / 4)} + o / 4u;
            if (uniforms.first == 1u) { parts[at] = ${value}; } else { parts[at] = parts[at] + ${value}; }
          }
        }`,
  });
  return `
  ${PASS_UNIFORMS}
  @group(0) @binding(0) var<storage, read> U: array<vec4<f32>>;
  @group(0) @binding(1) var<storage, read> D: array<vec4<f32>>;
  @group(0) @binding(2) var<storage, read_write> parts: array<vec4<f32>>;
  @group(0) @binding(3) var<uniform> uniforms: Uniforms;
  ${tileEntry(body)}`;
}

/** parts[0] = Σ over the S slots, per (ξ, c, o4). */
function sumSlotsCode(n4: number, splits: number): string {
  return `
  ${PASS_UNIFORMS}
  @group(0) @binding(0) var<storage, read_write> parts: array<vec4<f32>>;
  @group(0) @binding(1) var<uniform> uniforms: Uniforms;
  @compute @workgroup_size(${FLAT_THREADS})
  fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    _ = uniforms.NAN;
    ${FLAT_INDEX}
    if (i >= ${u(n4)}) { return; }
    var acc = parts[i];
    for (var s = 1u; s < ${u(splits)}; s = s + 1u) { acc = acc + parts[s * ${u(n4)} + i]; }
    parts[i] = acc;
  }`;
}

/** dW [3,3,cin,cout] = Gᵀ M G from M = parts[0] [36, cin, cout]. */
function filterCode(cin: number, cout: number): string {
  const o4n = cout / 4;
  const lines: string[] = [];
  for (let a = 0; a < 6; a++)
    for (let b = 0; b < 6; b++) lines.push(`let m${a}_${b} = parts[(${u((a * 6 + b) * cin)} + c) * ${u(o4n)} + o4];`);
  lines.push(...sandwich('w', GT, GT, (a, b) => `m${a}_${b}`, ZERO));
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) lines.push(`dw[(${u((i * 3 + j) * cin)} + c) * ${u(o4n)} + o4] = w${i}_${j};`);
  return `
  ${PASS_UNIFORMS}
  @group(0) @binding(0) var<storage, read> parts: array<vec4<f32>>;
  @group(0) @binding(1) var<storage, read_write> dw: array<vec4<f32>>;
  @group(0) @binding(2) var<uniform> uniforms: Uniforms;
  @compute @workgroup_size(${FLAT_THREADS})
  fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    _ = uniforms.NAN;
    ${FLAT_INDEX}
    if (i >= ${u(cin * o4n)}) { return; }
    let c = i / ${u(o4n)};
    let o4 = i % ${u(o4n)};
    ${lines.join('\n    ')}
  }`;
}

interface Plan {
  g: Geometry;
  tile: Tile;
  splits: number;
  pipes: GPUComputePipeline[];
}

const plans = new WeakMap<GPUDevice, Map<string, Plan>>();

/** The passes for a geometry (cached by a short key, as in winograd.ts). */
function planFor(device: GPUDevice, n: number, h: number, w: number, cin: number, cout: number): Plan {
  let byKey = plans.get(device);
  if (!byKey) plans.set(device, (byKey = new Map()));
  const g = geometry(n, h, w, cin, cout);
  const key = `${Object.values(g).join('_')}_${splitBlocks}`;
  let plan = byKey.get(key);
  if (!plan) {
    // The product reads A as [k][m/4] vec4s (the filter gradient's layout): not aT or aRows.
    const variant = { ...FILTER_GRAD_VARIANT, aT: false, aRows: false };
    const limit = device.limits.maxComputeWorkgroupStorageSize;
    const tile = fitStages({ bm: cin <= 64 ? 64 : 128, bn: cout <= 64 ? 64 : 128, variant }, limit);
    const tiles = Math.ceil(cin / tile.bm) * Math.ceil(cout / tile.bn) * XI;
    const fit = Math.floor(PARTS_BYTES / (XI * 4 * cin * cout));
    const splits = Math.max(1, Math.min(Math.ceil(1024 / tiles), Math.floor(g.rows / splitBlocks), fit));
    const pipes = [
      inputCode(g),
      gradCode(g),
      productCode(g, tile, splits),
      sumSlotsCode((XI * cin * cout) / 4, splits),
    ];
    pipes.push(filterCode(cin, cout));
    plan = { g, tile, splits, pipes: pipes.map((code) => cachedPipeline(device, code)) };
    byKey.set(key, plan);
  }
  return plan;
}

/**
 * [dW, db] of a 3×3 stride-1 'same' convolution of x [n,h,w,cin] with output gradient dy [n,h,w,cout];
 * null when the backend cannot record its own passes (the caller takes the direct kernel).
 */
export function convFilterBiasGradWinograd(x: tf.Tensor4D, dy: tf.Tensor4D): [tf.Tensor4D, tf.Tensor1D] | null {
  const be = ownDispatchBackend();
  if (!be) return null;
  const [n, h, w, cin] = x.shape;
  const cout = dy.shape[3];
  if (dy.shape[0] !== n || dy.shape[1] !== h || dy.shape[2] !== w)
    throw new Error(`convFilterBiasGradWinograd: dy ${dy.shape} does not fit x ${x.shape} (3x3, stride 1, same)`);
  if (!winogradApplies(cin, cout)) throw new Error(`convFilterBiasGradWinograd: channels ${cin}→${cout} not taken`);
  const device = be.device;
  const { g, tile, splits, pipes } = planFor(device, n, h, w, cin, cout);
  const [inPipe, gradPipe, productPipe, sumPipe, filterPipe] = pipes as GPUComputePipeline[];
  const parts = emptyTensor(be, [splits, XI, cin, cout]);
  const dw = emptyTensor(be, [3, 3, cin, cout]);
  const xb = gpuBuffer(be, x);
  const dyb = gpuBuffer(be, dy);
  if (!parts || !dw || !xb || !dyb) {
    tf.dispose([...(parts ? [parts.t] : []), ...(dw ? [dw.t] : [])]);
    return null;
  }
  const { u: ub, m: db } = scratchBuffers(device);
  const blocks = n * g.th * g.tw;
  const pass = encoder(be).beginComputePass();
  for (let p0 = 0; p0 < blocks; p0 += g.rows) {
    const pc = Math.min(g.rows, blocks - p0);
    const words = passUniforms(p0, pc, p0 === 0 ? 1 : 0);
    pass.setPipeline(inPipe!);
    pass.setBindGroup(0, uniformBindGroup(be, inPipe!, [xb, ub], words));
    pass.dispatchWorkgroups(...flatGrid(device, (pc * cin) / 4));
    pass.setPipeline(gradPipe!);
    pass.setBindGroup(0, uniformBindGroup(be, gradPipe!, [dyb, db], words));
    pass.dispatchWorkgroups(...flatGrid(device, (pc * cout) / 4));
    pass.setPipeline(productPipe!);
    pass.setBindGroup(0, uniformBindGroup(be, productPipe!, [ub, db, parts.buf], words));
    pass.dispatchWorkgroups(Math.ceil(cin / tile.bm), Math.ceil(cout / tile.bn), XI * splits);
  }
  const words = passUniforms(0, 0);
  if (splits > 1) {
    pass.setPipeline(sumPipe!);
    pass.setBindGroup(0, uniformBindGroup(be, sumPipe!, [parts.buf], words));
    pass.dispatchWorkgroups(...flatGrid(device, (XI * cin * cout) / 4));
  }
  pass.setPipeline(filterPipe!);
  pass.setBindGroup(0, uniformBindGroup(be, filterPipe!, [parts.buf, dw.buf], words));
  pass.dispatchWorkgroups(...flatGrid(device, (cin * cout) / 4));
  pass.end();
  for (const t of [x, dy, parts.t, dw.t]) be.commandQueueOwnedIds.add(t.dataId);
  parts.t.dispose();
  const bias = tf.tidy(() => sumLeadingGpu(sumSpatialGpu(dy), [cout]) as tf.Tensor1D);
  return [dw.t as tf.Tensor4D, bias];
}
