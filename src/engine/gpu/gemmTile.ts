/**
 * The register-tiled core shared by the hand-written matrix-product kernels (forward convolution,
 * filter gradient): a BM×BN output tile per 16×16-thread workgroup, each thread owning a
 * (BM/16)×(BN/16) block, fed from BK-deep slices of A (BM×BK) and B (BK×BN) staged in workgroup
 * memory as vec4s. Reading the stage as vec4 (4 rows or 4 columns per load) quarters the
 * workgroup-memory traffic per multiply compared with scalar reads, which bounded the first
 * filter-gradient kernel.
 *
 * Thread (tx, ty) owns rows  v·64 + ty·4 + e  (v < BM/64, e < 4)
 *                   and cols v·64 + tx·4 + e  (v < BN/64, e < 4).
 */

/** Threads per workgroup side. */
export const TILE_THREADS_SIDE = 16;
export const TILE_THREADS = TILE_THREADS_SIDE * TILE_THREADS_SIDE;
/** Depth of the reduction slice staged per iteration (32 with the bk32 variant): see bkOf. */
const BK = 16;

export interface Tile {
  /** Output rows per workgroup: 64, 128 (or 256, benchmarks). */
  bm: number;
  /** Output columns per workgroup: 64, 128 (or 256, benchmarks). */
  bn: number;
  /** Code-generation variants (benchmarks compare them; CONV_VARIANT and FILTER_GRAD_VARIANT hold the defaults). */
  variant?: GemmVariant;
}

/**
 * How the shared core is generated. warp: each 32-thread warp owns an 8×4 block of thread tiles
 * (4 distinct A and 8 distinct B vec4s per read) instead of a 16×2 strip (2 and 16); unroll: the
 * slice loop written out, so workgroup-memory offsets are constants; aRows: the forward convolution's
 * A staging walks 32 consecutive rows per warp, so its transposing stores hit 32 banks, not 8; aT:
 * the forward convolution keeps A as staged (rows of k, one vec4 store, padded by a vec4 against
 * bank conflicts) and the product reads 4 k at a time per row; db: two stages in workgroup memory, the
 * next slice stored into one while the other is multiplied, one barrier per slice instead of two.
 * Measured on the H200 (bench:kernels --sweep, batch 256, bench/results/h200-2026-12-01-gemm): the
 * filter gradient's product ran at 23-29 TFLOP/s as a loop and 36-37 written out (warp,unroll); the
 * forward's 3×3 convolutions at 34 with no variant and 38 with unroll,bk32,aT. 128×256 and 256×128
 * tiles were no faster, and db was 5-18 % slower on every 3×3 shape.
 */
export interface GemmVariant {
  warp: boolean;
  unroll: boolean;
  aRows: boolean;
  /** A 32-deep reduction slice: half the barriers and staging rounds, twice the workgroup memory. */
  bk32: boolean;
  aT: boolean;
  db: boolean;
}

const NAMES = ['warp', 'unroll', 'aRows', 'bk32', 'aT', 'db'] as const;

/** Parses "warp,unroll,..." (any subset of the names, or "none"); null for no text. */
export function parseVariant(text: string | undefined): GemmVariant | null {
  if (text === undefined || text === '') return null;
  const parts = new Set(text.split(',').map((p) => p.trim()));
  const unknown = [...parts].filter((p) => p !== 'none' && !(NAMES as readonly string[]).includes(p));
  if (unknown.length)
    throw new Error(`unknown matrix-product variant ${unknown.join(', ')} (expected ${NAMES.join(', ')})`);
  return Object.fromEntries(NAMES.map((n) => [n, parts.has(n)])) as unknown as GemmVariant;
}

/** The inverse of parseVariant ('' for none given: the defaults apply). */
export function variantText(v: GemmVariant | undefined): string {
  if (!v) return '';
  return NAMES.filter((n) => v[n]).join(',') || 'none';
}

/** The variant an environment variable names, or `fallback`; a bad value is refused naming the variable. */
function variantFromEnv(name: string, fallback: string): GemmVariant {
  try {
    return parseVariant(process.env[name]) ?? parseVariant(fallback)!;
  } catch (err) {
    throw new Error(`${name}=${process.env[name]}: ${(err as Error).message}`);
  }
}

/** The forward convolution's defaults (the sweep's fastest); SADPM_GEMM overrides them, for benchmarks. */
export const CONV_VARIANT: GemmVariant = variantFromEnv('SADPM_GEMM', 'unroll,bk32,aT');

/** The filter gradient's defaults; SADPM_FG_GEMM overrides them, for benchmarks. */
export const FILTER_GRAD_VARIANT: GemmVariant = variantFromEnv('SADPM_FG_GEMM', 'warp,unroll');

/** The tile's variant, or the forward convolution's defaults. */
export const variantOf = (tile: Tile): GemmVariant => tile.variant ?? CONV_VARIANT;

/** The reduction depth staged per slice. */
export const bkOf = (tile: Tile): number => (variantOf(tile).bk32 ? 32 : BK);

/** A short key for shader caches: the tile and its variant. */
export function tileKey(tile: Tile): string {
  const v = variantOf(tile);
  return `${tile.bm}x${tile.bn}_${variantText(v)}`;
}

/** WGSL unsigned literal. */
export const u = (v: number): string => `${v}u`;

/** The largest tile pickTile chooses; SADPM_CONV_TILE=BMxBN (64 or 128 each) overrides it, for benchmarks. */
export const MAX_TILE: Tile = parseTile(process.env.SADPM_CONV_TILE) ?? { bm: 128, bn: 128 };

/** The filter gradient's largest tile; SADPM_FG_TILE=BMxBN overrides it, for benchmarks. */
export const FILTER_GRAD_MAX_TILE: Tile = parseTile(process.env.SADPM_FG_TILE) ?? { bm: 128, bn: 128 };

function parseTile(text: string | undefined): Tile | null {
  const m = /^(64|128)x(64|128)$/.exec(text ?? '');
  return m ? { bm: Number(m[1]), bn: Number(m[2]) } : null;
}

/**
 * Picks the largest tile that still gives the GPU enough workgroups (~2 per SM on an H100) for an
 * M×N output; a smaller tile wastes less on ragged edges of small layers.
 */
export function pickTile(m: number, n: number, minGroups = 264, max: Tile = MAX_TILE): Tile {
  let bm = m <= 64 ? 64 : max.bm;
  let bn = n <= 64 ? 64 : max.bn;
  const groups = () => Math.ceil(m / bm) * Math.ceil(n / bn);
  while (groups() < minGroups && (bm > 64 || bn > 64)) {
    if (bm >= bn) bm = 64;
    else bn = 64;
  }
  return { bm, bn };
}

/** Workgroup arrays: As[k][m/4] and Bs[k][n/4] as vec4. */
/** vec4s of one stage of A and of B. */
function stageSizes(tile: Tile): { a: number; b: number } {
  const bk = bkOf(tile);
  return { a: variantOf(tile).aT ? tile.bm * (bk / 4 + 1) : (bk * tile.bm) / 4, b: (bk * tile.bn) / 4 };
}

/** Bytes of workgroup memory the stages take. */
export function stageBytes(tile: Tile): number {
  const { a, b } = stageSizes(tile);
  return 16 * (a + b) * (variantOf(tile).db ? 2 : 1);
}

/**
 * The tile without the 32-deep slice, then without the second stage, while its stages (plus `extra`
 * bytes) would pass `limit`.
 */
export function fitStages(tile: Tile, limit: number, extra = 0): Tile {
  let t = tile;
  for (const drop of ['bk32', 'db'] as const) {
    if (stageBytes(t) + extra <= limit) break;
    if (variantOf(t)[drop]) t = { ...t, variant: { ...variantOf(t), [drop]: false } };
  }
  return t;
}

export function tileDeclarations(tile: Tile): string {
  const { a, b } = stageSizes(tile);
  const stages = variantOf(tile).db ? 2 : 1;
  return `
      var<workgroup> As: array<vec4<f32>, ${a * stages}>;
      var<workgroup> Bs: array<vec4<f32>, ${b * stages}>;`;
}

/** Declares the thread's accumulators (named acc) and its (tx, ty); `tid` must be in scope. */
export function tileAccumulators(tile: Tile): string {
  const { bm, bn } = tile;
  const layout = variantOf(tile).warp
    ? `
        let tx = (tid / 32u) % 2u * 8u + tid % 8u;
        let ty = tid / 64u * 4u + (tid / 8u) % 4u;`
    : `
        let tx = tid % ${u(TILE_THREADS_SIDE)};
        let ty = tid / ${u(TILE_THREADS_SIDE)};`;
  return `${layout}
        var acc: array<vec4<f32>, ${(bm / 16) * (bn / 64)}>;`;
}

/** acc += As · Bs over the staged BK slice. */
export function tileMultiply(tile: Tile): string {
  const { bm, bn } = tile;
  const av = bm / 64;
  const bv = bn / 64;
  const slice = (kq: string) => {
    const lines: string[] = [];
    for (let i = 0; i < av; i++) lines.push(`let a${i} = As[aR + ${kq} * ${u(bm / 4)} + ${u(i * 16)} + ty];`);
    for (let j = 0; j < bv; j++) lines.push(`let b${j} = Bs[bR + ${kq} * ${u(bn / 4)} + ${u(j * 16)} + tx];`);
    for (let i = 0; i < av; i++) {
      for (let e = 0; e < 4; e++) {
        for (let j = 0; j < bv; j++) {
          const idx = (i * 4 + e) * bv + j;
          lines.push(`acc[${idx}] = fma(vec4<f32>(a${i}[${e}]), b${j}, acc[${idx}]);`);
        }
      }
    }
    return lines.join('\n            ');
  };
  if (variantOf(tile).aT) return tileMultiplyRowsOfK(tile);
  if (variantOf(tile).unroll) {
    const blocks: string[] = [];
    for (let kq = 0; kq < bkOf(tile); kq++) blocks.push(`{\n            ${slice(u(kq))}\n          }`);
    return blocks.join('\n          ');
  }
  return `
          for (var kq = 0u; kq < ${u(bkOf(tile))}; kq = kq + 1u) {
            ${slice('kq')}
          }`;
}

/** acc += As · Bs with A stored as rows of k (the aT variant): 4 k per read of a row. */
function tileMultiplyRowsOfK(tile: Tile): string {
  const { bm, bn } = tile;
  const av = bm / 64;
  const bv = bn / 64;
  const stride = bkOf(tile) / 4 + 1;
  const quad = (kq4: string) => {
    const lines: string[] = [];
    for (let i = 0; i < av; i++)
      for (let e = 0; e < 4; e++)
        lines.push(`let a${i}_${e} = As[aR + ${u((i * 64 + e) * stride)} + ty * ${u(4 * stride)} + ${kq4}];`);
    for (let t = 0; t < 4; t++) {
      for (let j = 0; j < bv; j++)
        lines.push(`let b${t}_${j} = Bs[bR + (${kq4} * 4u + ${u(t)}) * ${u(bn / 4)} + ${u(j * 16)} + tx];`);
      for (let i = 0; i < av; i++)
        for (let e = 0; e < 4; e++)
          for (let j = 0; j < bv; j++) {
            const idx = (i * 4 + e) * bv + j;
            lines.push(`acc[${idx}] = fma(vec4<f32>(a${i}_${e}[${t}]), b${t}_${j}, acc[${idx}]);`);
          }
    }
    return lines.join('\n            ');
  };
  const quads = bkOf(tile) / 4;
  if (variantOf(tile).unroll) {
    const blocks: string[] = [];
    for (let q = 0; q < quads; q++) blocks.push(`{\n            ${quad(u(q))}\n          }`);
    return blocks.join('\n          ');
  }
  return `
          for (var kq4 = 0u; kq4 < ${u(quads)}; kq4 = kq4 + 1u) {
            ${quad('kq4')}
          }`;
}

/**
 * Calls `emit(row, col4, value)` code for each of the thread's output vec4s: `row` is the tile-local
 * row expression, `col` the tile-local first column, `value` the vec4 accumulator.
 */
export function tileEpilogue({ bm, bn }: Tile, emit: (row: string, col: string, value: string) => string): string {
  const av = bm / 64;
  const bv = bn / 64;
  const out: string[] = [];
  for (let i = 0; i < av; i++) {
    for (let e = 0; e < 4; e++) {
      for (let j = 0; j < bv; j++) {
        out.push(emit(`(${u(i * 64 + e)} + ty * 4u)`, `(${u(j * 64)} + tx * 4u)`, `acc[${(i * 4 + e) * bv + j}]`));
      }
    }
  }
  return out.join('\n');
}

/**
 * Staging of a row-major A (each thread fetches `av` rows' vec4s of 4 consecutive k into ra) and of
 * a row-major B (`bv` vec4s of 4 consecutive columns into rb): the slice depth, the tile-local row of
 * a thread's r-th A fetch, the thread's k4 within the slice, and the stores of ra/rb into As/Bs
 * (at the stage offsets aW/bW) in the layout the variant's product reads.
 */
export function rowStaging(tile: Tile) {
  const bk = bkOf(tile);
  const kv = bk / 4;
  const pass = TILE_THREADS / kv;
  const av = tile.bm / pass;
  const bv = (bk * tile.bn) / 4 / TILE_THREADS;
  // aRows: a warp stages 32 consecutive rows of one k4 (its scattered stores then hit 32 banks).
  const aRows = variantOf(tile).aRows;
  const rows = (r: number) =>
    aRows ? `(tid % 32u + tid / ${u(32 * kv)} * 32u + ${u(r * pass)})` : `(tid / ${u(kv)} + ${u(r * pass)})`;
  const k4 = aRows ? `(tid / 32u) % ${u(kv)}` : `tid % ${u(kv)}`;
  const lines: string[] = [];
  if (variantOf(tile).aT) {
    for (let r = 0; r < av; r++) lines.push(`As[aW + ${rows(r)} * ${u(kv + 1)} + k4] = ra[${r}];`);
  } else {
    for (let r = 0; r < av; r++) {
      for (let e = 0; e < 4; e++)
        lines.push(
          `As[aW + (k4 * 4u + ${u(e)}) * ${u(tile.bm / 4)} + ${rows(r)} / 4u][${rows(r)} % 4u] = ra[${r}][${e}];`,
        );
    }
  }
  for (let r = 0; r < bv; r++) lines.push(`Bs[bW + tid + ${u(r * TILE_THREADS)}] = rb[${r}];`);
  return { bk, kv, av, bv, rows, k4, store: lines.join('\n          ') };
}

export interface TileKernel {
  tile: Tile;
  /** Number of BK-deep slices the reduction takes (a constant, so barriers stay in uniform control flow). */
  steps: number;
  /** Per-thread setup after `tid`, `rowBase` and `colBase` are defined (declares the staging registers). */
  setup: string;
  /**
   * Optional code after the setup, before the first slice: a workgroup may finish here (`return`) on a
   * condition uniform across it (tfjs' workgroupId is a private variable, so a barrier needs the
   * condition through workgroupUniformLoad). Bs (at least 256 vec4s) is free for it to use.
   */
  early?: string;
  /** Module-scope declarations the early code needs. */
  declarations?: string;
  /** Fetches slice `it` (a WGSL u32 expression) from global memory into the staging registers. */
  load: (it: string) => string;
  /** Writes the staging registers into As/Bs, at the offsets aW/bW (the stage being filled). */
  store: string;
  /** Writes one output vec4: see tileEpilogue. */
  emit: (row: string, col: string, value: string) => string;
}

/**
 * The whole shader body of a tiled product: workgroup (x, y) computes output tile (rowBase, colBase);
 * slice k+1 is fetched into registers while slice k is multiplied out of workgroup memory.
 */
export function tileKernel(kernel: TileKernel): string {
  const { tile, steps, setup, early, load, store, emit } = kernel;
  return `
      ${tileDeclarations(tile)}
      ${kernel.declarations ?? ''}

      fn main() {
        // tfjs always binds its uniform block; an unused one would be dropped from the layout.
        _ = uniforms.NAN;
        let tid = localIndex;
        ${tileAccumulators(tile)}
        let rowBase = workgroupId.x * ${u(tile.bm)};
        let colBase = workgroupId.y * ${u(tile.bn)};
        ${setup}
        ${early ?? ''}
        ${load('0u')}
        {
          let aW = 0u;
          let bW = 0u;
          ${store}
        }
        workgroupBarrier();
        for (var it = 0u; it < ${u(steps)}; it = it + 1u) {
          let next = it + 1u;
          if (next < ${u(steps)}) {
            ${load('next')}
          }
          ${loopBody(tile, steps, store)}
        }
        ${tileEpilogue(tile, emit)}
      }
    `;
}

/**
 * Multiply the current stage, then store the fetched slice. One stage: the store waits for every thread's
 * multiply (a barrier each side). Two stages (db): the store fills the other stage, which no thread reads
 * before the next barrier, so one barrier per slice suffices.
 */
function loopBody(tile: Tile, steps: number, store: string): string {
  if (!variantOf(tile).db) {
    return `
          let aR = 0u;
          let bR = 0u;
          ${tileMultiply(tile)}
          workgroupBarrier();
          {
            let aW = 0u;
            let bW = 0u;
            ${store}
          }
          workgroupBarrier();`;
  }
  const { a, b } = stageSizes(tile);
  return `
          let aR = (it % 2u) * ${u(a)};
          let bR = (it % 2u) * ${u(b)};
          ${tileMultiply(tile)}
          if (next < ${u(steps)}) {
            let aW = (next % 2u) * ${u(a)};
            let bW = (next % 2u) * ${u(b)};
            ${store}
          }
          workgroupBarrier();`;
}
