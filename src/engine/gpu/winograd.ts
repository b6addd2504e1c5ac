/**
 * 3×3 stride-1 'same' convolutions by Winograd's minimal filtering F(4×4, 3×3) (winogradMath.ts): a
 * 4×4 block of outputs takes 36 multiplies per channel pair instead of 144, so the matrix product that
 * dominates a convolution shrinks to a quarter, as 36 independent products over channels:
 *
 *   V[ξ] = (G g Gᵀ)[ξ]   [cin × cout]      U[ξ] = (Bᵀ d B)[ξ]   [P × cin]    (P: 4×4 blocks)
 *   M[ξ] = U[ξ] · V[ξ]   [P × cout]        y = Aᵀ M A + bias, block by block
 *
 * Passes: the filter transform (a tfjs program, V is small), then per chunk of blocks the input
 * transform, the 36 products on gemmTile's core (one workgroup z per ξ) and the output transform,
 * recorded as compute passes of their own (ownDispatch.ts). U and M are two scratch buffers of a fixed
 * size kept for the process, so the pool never sees their sizes (at batch 256 the 32×32 layers' U and
 * M would be 0.3–0.9 GB each, one pool entry per layer shape); a batch with more blocks than the
 * scratch holds runs in chunks. The input gradient of a convolution is the same convolution of dy with
 * the flipped, transposed filter: the filter transform reads it that way (`flip`), so no flipped copy
 * is made.
 *
 * Rounding differs from the direct product (sums are taken in another order, and the transforms
 * scale values by up to 8² and 1/24²); the tests hold it to the direct kernel within 2e-5 of the
 * output's scale on the UNets' channel counts.
 */
import { tf } from '../tf';
import { envNumber } from '../envNumber';
import { runGpuKernel } from './program';
import { zeroBias } from './conv2d';
import { emptyTensor, encoder, gpuBuffer } from './flatCopy';
import {
  FLAT_INDEX,
  FLAT_THREADS,
  cachedPipeline,
  flatGrid,
  ownDispatchBackend,
  uniformBindGroup,
} from './ownDispatch';
import {
  CONV_VARIANT,
  TILE_THREADS as THREADS,
  fitStages,
  pickTile,
  rowStaging,
  tileKernel,
  u,
  type Tile,
} from './gemmTile';
import { AT, BT, G, sandwich, type Fraction } from './winogradMath';

export const XI = 36;
export const ZERO = 'vec4<f32>(0.0)';

/**
 * Which convolutions the kernel set sends to Winograd: SADPM_WINOGRAD=1 (default) the forward pass and both
 * gradients, fwd the forward pass and the input gradient, 0 none (benchmarks compare them).
 */
export const WINOGRAD_MODE = readMode('SADPM_WINOGRAD');

function readMode(name: string): 'all' | 'fwd' | 'off' {
  const v = process.env[name];
  if (v === undefined || v === '' || v === '1') return 'all';
  if (v === 'fwd') return 'fwd';
  if (v === '0') return 'off';
  throw new Error(`${name}=${v}: expected 1 (on), fwd (not the filter gradient) or 0 (off)`);
}

/** Bytes of each of the two scratch buffers (U and M); SADPM_WINOGRAD_SCRATCH_MB sets it, for benchmarks. */
let scratchBytes =
  envNumber(
    'SADPM_WINOGRAD_SCRATCH_MB',
    64,
    'whole MiB from 1 to 2048',
    (mb) => Number.isInteger(mb) && mb >= 1 && mb <= 2048,
  ) *
  2 ** 20;

/** Sets the scratch size (tests force chunking with a small one); the next convolution reallocates. */
export function setWinogradScratchBytes(bytes: number): void {
  if (!(bytes >= 16 * XI)) throw new Error(`Winograd scratch of ${bytes} bytes: expected at least ${16 * XI}`);
  scratchBytes = bytes;
}

export interface Scratch {
  device: GPUDevice;
  bytes: number;
  u: GPUBuffer;
  m: GPUBuffer;
}
let scratch: Scratch | null = null;

/**
 * The scratch size in use: `bytes`, within what one binding and one buffer may hold on the device
 * (WebGPU's defaults are 128 and 256 MiB; tfjs asks the adapter for its maxima), a multiple of 16.
 */
export function scratchCap(
  bytes: number,
  limits?: Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>,
): number {
  if (!limits) return bytes;
  const cap = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  return Math.min(bytes, cap - (cap % 16));
}

const scratchSize = (device: GPUDevice | undefined = ownDispatchBackend()?.device) =>
  scratchCap(scratchBytes, device?.limits);

export function scratchBuffers(device: GPUDevice): Scratch {
  const bytes = scratchSize(device);
  if (scratch && scratch.device === device && scratch.bytes === bytes) return scratch;
  // Destroying a buffer that recorded or submitted work still uses is deferred by Dawn until that work is done.
  scratch?.u.destroy();
  scratch?.m.destroy();
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const make = (label: string) => device.createBuffer({ size: bytes, usage, label });
  scratch = { device, bytes, u: make('winograd U'), m: make('winograd M') };
  return scratch;
}

/** A convolution as the passes see it: x [n,h,w,cin] → y [n,h,w,cout], blocks of 4×4 outputs. */
export interface Geometry {
  n: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  /** Blocks per column and per row of an image. */
  th: number;
  tw: number;
  /** Rows (blocks) each scratch buffer holds per ξ: the chunk size, and the row stride of U and M. */
  rows: number;
}

/** The passes' view of x [n,h,w,cin] → y [n,h,w,cout]: blocks per side, and blocks per chunk of the scratch. */
export function geometry(n: number, h: number, w: number, cin: number, cout: number): Geometry {
  const th = Math.ceil(h / 4);
  const tw = Math.ceil(w / 4);
  const rows = Math.min(n * th * tw, Math.floor(scratchSize() / (XI * 4 * Math.max(cin, cout))));
  return { n, h, w, cin, cout, th, tw, rows };
}

/** Whether conv2dWinograd takes a 3×3 stride-1 'same' convolution with these channel counts. */
export function winogradApplies(cin: number, cout: number): boolean {
  return cin % 4 === 0 && cout % 4 === 0 && XI * 4 * Math.max(cin, cout) <= scratchSize();
}

/**
 * Smallest convolution, in multiply-adds of the direct product (n·h·w·cin·cout·9, ×2^30), the kernel
 * set sends to Winograd: a small one saves less GPU time than its three more dispatches cost the host.
 * SADPM_WINOGRAD_MIN_GMACS sets it, for benchmarks.
 */
export const WINOGRAD_MIN_GMACS = envNumber('SADPM_WINOGRAD_MIN_GMACS', 0, 'a number of GMACs >= 0', (g) => g >= 0);

/** Whether the kernel set should take this convolution (or its filter gradient) to Winograd. */
export function winogradPays(n: number, h: number, w: number, cin: number, cout: number, filterGrad = false): boolean {
  if (WINOGRAD_MODE === 'off' || (filterGrad && WINOGRAD_MODE === 'fwd') || !winogradApplies(cin, cout)) return false;
  return n * h * w * cin * cout * 9 >= WINOGRAD_MIN_GMACS * 2 ** 30;
}

/**
 * The uniform block of every Winograd pass: NaN (tfjs' convention), the chunk's first block and block count, and
 * whether a filter-gradient chunk is the first to write its slot (packed by passUniforms).
 */
export const PASS_UNIFORMS = 'struct Uniforms { NAN: f32, p0: u32, pc: u32, first: u32 }';

/** PASS_UNIFORMS' bytes (0x7fc00000: a quiet NaN). */
export function passUniforms(p0: number, pc: number, first = 0): ArrayBuffer {
  return new Uint32Array([0x7fc00000, p0, pc, first]).buffer;
}

/** Shared header of the transform passes: the invocation's (block row within the chunk, channel vec4). */
export function blockHeader(c4: number, g: Geometry): string {
  return `
  ${PASS_UNIFORMS}
  @compute @workgroup_size(${FLAT_THREADS})
  fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    ${FLAT_INDEX}
    let c4 = i % ${u(c4)};
    let pl = i / ${u(c4)};
    if (pl >= uniforms.pc) { return; }
    let p = uniforms.p0 + pl;
    let img = p / ${u(g.th * g.tw)};
    let ty = (p % ${u(g.th * g.tw)}) / ${u(g.tw)};
    let tx = p % ${u(g.tw)};`;
}

/**
 * A transform pass (x → U, dy → D): each invocation loads one patch of 4 channels from `src` (the `loads`,
 * which define p{a}_{b}) and writes its L·patch·Rᵀ, 36 values, to the chunk's rows of `dst`.
 */
export function patchTransformCode(
  io: { src: string; dst: string },
  c4: number,
  g: Geometry,
  loads: string[],
  L: readonly Fraction[][],
  R: readonly Fraction[][],
): string {
  const lines = [...loads, ...sandwich('t', L, R, (a, b) => `p${a}_${b}`, ZERO)];
  for (let a = 0; a < 6; a++)
    for (let b = 0; b < 6; b++)
      lines.push(`${io.dst}[(${u((a * 6 + b) * g.rows)} + pl) * ${u(c4)} + c4] = t${a}_${b};`);
  return `
  @group(0) @binding(0) var<storage, read> ${io.src}: array<vec4<f32>>;
  @group(0) @binding(1) var<storage, read_write> ${io.dst}: array<vec4<f32>>;
  @group(0) @binding(2) var<uniform> uniforms: Uniforms;
  ${blockHeader(c4, g)}
    ${lines.join('\n    ')}
  }`;
}

/** x → U: each invocation transforms one 6×6 patch (zero outside the image) of 4 channels. */
export function inputCode(g: Geometry): string {
  const cin4 = g.cin / 4;
  const loads: string[] = [];
  for (let a = 0; a < 6; a++)
    loads.push(`let iy${a} = i32(ty * 4u) + ${a - 1}; let inY${a} = iy${a} >= 0 && iy${a} < ${g.h};`);
  for (let b = 0; b < 6; b++)
    loads.push(`let ix${b} = i32(tx * 4u) + ${b - 1}; let inX${b} = ix${b} >= 0 && ix${b} < ${g.w};`);
  for (let a = 0; a < 6; a++)
    for (let b = 0; b < 6; b++)
      loads.push(
        `var p${a}_${b} = ${ZERO}; if (inY${a} && inX${b}) { p${a}_${b} = x[(img * ${u(g.h * g.w)} + u32(iy${a}) * ${u(g.w)} + u32(ix${b})) * ${u(cin4)} + c4]; }`,
      );
  return patchTransformCode({ src: 'x', dst: 'U' }, cin4, g, loads, BT, BT);
}

/** M → y (+ bias): each invocation turns one block's 36 products of 4 channels into its 4×4 outputs. */
function outputCode(g: Geometry): string {
  const cout4 = g.cout / 4;
  const lines: string[] = [];
  for (let a = 0; a < 6; a++)
    for (let b = 0; b < 6; b++) lines.push(`let m${a}_${b} = M[(${u((a * 6 + b) * g.rows)} + pl) * ${u(cout4)} + c4];`);
  lines.push(...sandwich('o', AT, AT, (a, b) => `m${a}_${b}`, ZERO));
  lines.push('let bv = bias[c4];');
  for (let a = 0; a < 4; a++)
    for (let b = 0; b < 4; b++)
      lines.push(`{
      let oy = ty * 4u + ${u(a)};
      let ox = tx * 4u + ${u(b)};
      if (oy < ${u(g.h)} && ox < ${u(g.w)}) { y[((img * ${u(g.h)} + oy) * ${u(g.w)} + ox) * ${u(cout4)} + c4] = o${a}_${b} + bv; }
    }`);
  return `
  @group(0) @binding(0) var<storage, read> M: array<vec4<f32>>;
  @group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
  @group(0) @binding(2) var<storage, read> bias: array<vec4<f32>>;
  @group(0) @binding(3) var<uniform> uniforms: Uniforms;
  ${blockHeader(cout4, g)}
    ${lines.join('\n    ')}
  }`;
}

/** M[ξ] = U[ξ] · V[ξ] on the shared core: workgroup (x, y, z) = (row tile, column tile, ξ). */
function productCode(g: Geometry, tile: Tile): string {
  const { cin, cout, rows } = g;
  const { bn } = tile;
  const { bk, av, bv, rows: rowOf, k4, store } = rowStaging(tile);
  const loadA = (kt: string) => {
    const body = [`let kk = ${kt} * ${u(bk)} + k4 * 4u;`];
    for (let r = 0; r < av; r++)
      body.push(`{
              let row = rowBase + ${rowOf(r)};
              ra[${r}] = ${ZERO};
              if (row < uniforms.pc && kk < ${u(cin)}) { ra[${r}] = U[(z * ${u(rows)} + row) * ${u(cin / 4)} + kk / 4u]; }
            }`);
    return `{ ${body.join('\n            ')} }`;
  };
  const loadB = (kt: string) => {
    const body: string[] = [];
    for (let r = 0; r < bv; r++)
      body.push(`{
              let idx = tid + ${u(r * THREADS)};
              let kk = ${kt} * ${u(bk)} + idx / ${u(bn / 4)};
              let co = colBase + (idx % ${u(bn / 4)}) * 4u;
              rb[${r}] = ${ZERO};
              if (kk < ${u(cin)} && co < ${u(cout)}) { rb[${r}] = V[(z * ${u(cin)} + kk) * ${u(cout / 4)} + co / 4u]; }
            }`);
    return body.join('\n            ');
  };
  const body = tileKernel({
    tile,
    steps: Math.ceil(cin / bk),
    setup: `
        let k4 = ${k4};
        let z = workgroupId.z;
        var ra: array<vec4<f32>, ${av}>;
        var rb: array<vec4<f32>, ${bv}>;`,
    load: (it) => `${loadA(it)}\n${loadB(it)}`,
    store,
    emit: (row, col, value) => `{
          let mm = rowBase + ${row};
          let co = colBase + ${col};
          if (mm < uniforms.pc && co < ${u(cout)}) { M[(z * ${u(rows)} + mm) * ${u(cout / 4)} + co / 4u] = ${value}; }
        }`,
  });
  return `
  ${PASS_UNIFORMS}
  @group(0) @binding(0) var<storage, read> U: array<vec4<f32>>;
  @group(0) @binding(1) var<storage, read> V: array<vec4<f32>>;
  @group(0) @binding(2) var<storage, read_write> M: array<vec4<f32>>;
  @group(0) @binding(3) var<uniform> uniforms: Uniforms;
  ${tileEntry(body)}`;
}

/** gemmTile's core body (its `fn main()`) as the entry point of a shader of our own. */
export function tileEntry(body: string): string {
  return `
  // The core reads these as tfjs' program template defines them.
  var<private> localIndex: u32;
  var<private> workgroupId: vec3<u32>;
  ${body.replace('fn main()', 'fn product()')}
  @compute @workgroup_size(${THREADS})
  fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    localIndex = li;
    workgroupId = wg;
    product();
  }`;
}

/** The tile of the products: pickTile on all 36 as one, the forward convolution's variant. */
function productTile(rows: number, cout: number): Tile {
  const picked = pickTile(rows * XI, cout);
  const limit = ownDispatchBackend()?.device.limits.maxComputeWorkgroupStorageSize ?? 16384;
  return fitStages({ ...picked, variant: CONV_VARIANT }, limit);
}

/**
 * g [3,3,cin,cout] → V [36, cin, cout]; with `flip`, the filter of the input gradient of a convolution by
 * g [3,3,cout,cin]: g[2−i, 2−j, o, c] at (i, j, c, o).
 */
class FilterTransformProgram {
  readonly variableNames = ['w'];
  readonly variableComponents: number[];
  readonly outputComponent = 4;
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [64, 1, 1];

  constructor(
    private readonly cin: number,
    private readonly cout: number,
    private readonly flip: boolean,
  ) {
    this.variableComponents = [flip ? 1 : 4];
    this.outputShape = [XI, cin, cout];
    this.dispatch = [Math.ceil((cin * cout) / 4 / 64), 1, 1];
    this.shaderKey = `sadpmWinogradFilter_${cin}_${cout}_${flip}`;
  }

  getUserCode(): string {
    const { cin, cout, flip } = this;
    const c4 = cout / 4;
    const lines: string[] = [];
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        if (!flip) lines.push(`let g${i}_${j} = w[(${u((i * 3 + j) * cin)} + c) * ${u(c4)} + o4];`);
        else {
          const at = (e: number) => `w[(${u(((2 - i) * 3 + (2 - j)) * cout)} + o4 * 4u + ${u(e)}) * ${u(cin)} + c]`;
          lines.push(`let g${i}_${j} = vec4<f32>(${[0, 1, 2, 3].map(at).join(', ')});`);
        }
      }
    lines.push(...sandwich('v', G, G, (i, j) => `g${i}_${j}`, ZERO));
    for (let a = 0; a < 6; a++)
      for (let b = 0; b < 6; b++) lines.push(`result[(${u((a * 6 + b) * cin)} + c) * ${u(c4)} + o4] = v${a}_${b};`);
    return `
      fn main(index: i32) {
        _ = uniforms.NAN;
        let t = u32(index);
        if (t >= ${u(cin * c4)}) { return; }
        let c = t / ${u(c4)};
        let o4 = t % ${u(c4)};
        ${lines.join('\n        ')}
      }`;
  }
}

function filterTransform(filter: tf.Tensor4D, flip: boolean): tf.Tensor {
  return runGpuKernel('SadpmWinogradFilter', { w: filter }, { flip }, ({ w }, a) => {
    const [, , fi, fo] = w!.shape as [number, number, number, number];
    return a.flip ? new FilterTransformProgram(fo, fi, true) : new FilterTransformProgram(fi, fo, false);
  });
}

interface Passes {
  tile: Tile;
  inPipe: GPUComputePipeline;
  productPipe: GPUComputePipeline;
  outPipe: GPUComputePipeline;
}

const passCache = new WeakMap<GPUDevice, Map<string, Passes>>();

/**
 * The three passes' pipelines for a geometry, by a short key: generating the shaders' text (the
 * product's unrolled core is tens of KB) and hashing it for every call cost ~1 ms of host time per
 * convolution on the H200's host, more than some layers' GPU time.
 */
function passesFor(device: GPUDevice, g: Geometry): Passes {
  let byKey = passCache.get(device);
  if (!byKey) passCache.set(device, (byKey = new Map()));
  const key = Object.values(g).join('_');
  let p = byKey.get(key);
  if (!p) {
    const tile = productTile(g.rows, g.cout);
    p = {
      tile,
      inPipe: cachedPipeline(device, inputCode(g)),
      productPipe: cachedPipeline(device, productCode(g, tile)),
      outPipe: cachedPipeline(device, outputCode(g)),
    };
    byKey.set(key, p);
  }
  return p;
}

/**
 * x [n,h,w,cin] ⊛ filter (+ bias), 3×3, stride 1, padding 1: filter [3,3,cin,cout], or with `flip` the
 * input gradient's convolution of a filter [3,3,cout,cin] (see FilterTransformProgram). Null when the
 * backend cannot record its own passes (the caller takes the direct kernel). See winogradApplies.
 */
export function conv2dWinograd(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D | null,
  flip = false,
): tf.Tensor4D | null {
  const be = ownDispatchBackend();
  if (!be) return null;
  const [n, h, w, cin] = x.shape;
  const cout = flip ? filter.shape[2] : filter.shape[3];
  if (filter.shape[0] !== 3 || filter.shape[1] !== 3 || (flip ? filter.shape[3] : filter.shape[2]) !== cin)
    throw new Error(`conv2dWinograd: filter ${filter.shape} does not fit input ${x.shape}`);
  if (!winogradApplies(cin, cout)) throw new Error(`conv2dWinograd: channels ${cin}→${cout} not taken`);
  const g = geometry(n, h, w, cin, cout);
  const blocks = n * g.th * g.tw;
  const v = filterTransform(filter, flip);
  const made = emptyTensor(be, [n, h, w, cout]);
  // A zero bias rather than none: the direct kernel ran 20-30 % slower without its bias binding (conv2d.ts).
  const b = bias ?? zeroBias(cout);
  const buffers = [x, v, b].map((t) => gpuBuffer(be, t));
  if (!made || buffers.some((b) => !b)) {
    tf.dispose([v, ...(made ? [made.t] : [])]);
    return null;
  }
  const [xb, vb, bb] = buffers as GPUBuffer[];
  const device = be.device;
  const { u: ub, m: mb } = scratchBuffers(device);
  const { tile, inPipe, productPipe, outPipe } = passesFor(device, g);
  const pass = encoder(be).beginComputePass();
  for (let p0 = 0; p0 < blocks; p0 += g.rows) {
    const pc = Math.min(g.rows, blocks - p0);
    const words = passUniforms(p0, pc);
    pass.setPipeline(inPipe);
    pass.setBindGroup(0, uniformBindGroup(be, inPipe, [xb!, ub], words));
    pass.dispatchWorkgroups(...flatGrid(device, (pc * cin) / 4));
    pass.setPipeline(productPipe);
    pass.setBindGroup(0, uniformBindGroup(be, productPipe, [ub, vb!, mb], words));
    pass.dispatchWorkgroups(Math.ceil(pc / tile.bm), Math.ceil(cout / tile.bn), XI);
    pass.setPipeline(outPipe);
    pass.setBindGroup(0, uniformBindGroup(be, outPipe, [mb, made.buf, bb!], words));
    pass.dispatchWorkgroups(...flatGrid(device, (pc * cout) / 4));
  }
  pass.end();
  for (const t of [x, v, made.t, b]) be.commandQueueOwnedIds.add(t.dataId);
  v.dispose();
  return made.t as tf.Tensor4D;
}
