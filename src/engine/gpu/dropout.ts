/**
 * Dropout as one WGSL pass, y = x · keep / (1 − rate), with the keep mask drawn on the GPU by
 * Philox-4x32-10 (the WGSL twin of ../philox.ts; masks are bit-equal). tf.dropout drew its mask on
 * the CPU and uploaded it every step, 13× slowing the cifar10 recipe on an H200.
 *
 * The gradient is the same pass on dy with the same key: the mask is regenerated, never stored. On
 * llvmpipe, where arithmetic is dear next to memory (unlike a GPU), the pass took 1–2× a multiply by
 * a stored mask and under 2 % of the 3×3 convolution that follows it (bench/kernels.ts --dropout 0.1),
 * so a stored mask would save little and hold a buffer per layer until the backward pass.
 */
import { tf } from '../tf';
import { runGpuKernel, type ProgramUniform } from './program';
import { PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1, dropScale, dropThreshold, type DropoutWords } from '../philox';

const KERNEL = 'SadpmDropout';
const WORDS_KERNEL = 'SadpmPhiloxWords';
const THREADS = 256;

const hex = (v: number) => `0x${v.toString(16)}u`;

/** WGSL Philox-4x32-10; u32 products wrap, the high half comes from 16-bit partial products. */
const philoxWgsl = `
      fn sadpmMulHi(a: u32, b: u32) -> u32 {
        let a0 = a & 0xffffu;
        let a1 = a >> 16u;
        let b0 = b & 0xffffu;
        let b1 = b >> 16u;
        let p01 = a0 * b1;
        let p10 = a1 * b0;
        let mid = ((a0 * b0) >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
        return a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
      }
      fn sadpmPhilox(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
        var c = ctr;
        var k = key;
        for (var r = 0u; r < 10u; r = r + 1u) {
          if (r > 0u) { k = k + vec2<u32>(${hex(PHILOX_W0)}, ${hex(PHILOX_W1)}); }
          let hi0 = sadpmMulHi(${hex(PHILOX_M0)}, c.x);
          let hi1 = sadpmMulHi(${hex(PHILOX_M1)}, c.z);
          c = vec4<u32>(hi1 ^ c.y ^ k.x, ${hex(PHILOX_M1)} * c.z, hi0 ^ c.w ^ k.y, ${hex(PHILOX_M0)} * c.x);
        }
        return c;
      }`;

interface DropoutAttrs extends DropoutWords {
  rate: number;
}

/** x [4·Q] (as Q vec4) → x · mask: one Philox call per vec4, counter (q, c1, c2, c3). */
class DropoutProgram {
  readonly variableNames = ['x'];
  readonly variableComponents = [4];
  readonly outputComponent = 4;
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [THREADS, 1, 1];
  readonly uniforms = 'dk0: u32, dk1: u32, dc1: u32, dc2: u32, dc3: u32, thr: u32, scale: f32,';
  readonly uniformData: ProgramUniform[];
  private readonly quads: number;

  constructor(size: number, a: DropoutAttrs) {
    this.quads = size / 4;
    this.outputShape = [size];
    this.dispatch = [Math.ceil(this.quads / THREADS), 1, 1];
    this.shaderKey = `sadpmDropout_${this.quads}`;
    const u32 = (v: number): ProgramUniform => ({ type: 'uint32', data: [v] });
    const scale: ProgramUniform = { type: 'float32', data: [dropScale(a.rate)] };
    this.uniformData = [u32(a.k0), u32(a.k1), u32(a.c1), u32(a.c2), u32(a.c3), u32(dropThreshold(a.rate)), scale];
  }

  getUserCode(): string {
    return `
      ${philoxWgsl}
      fn main(index: i32) {
        let q = u32(index);
        if (q < ${this.quads}u) {
          let ctr = vec4<u32>(q, uniforms.dc1, uniforms.dc2, uniforms.dc3);
          let r = sadpmPhilox(ctr, vec2<u32>(uniforms.dk0, uniforms.dk1));
          // A multiply by 0 (not a select of x): NaN and -0 behave as in x · mask on the CPU path.
          result[q] = x[q] * select(vec4<f32>(0.0), vec4<f32>(uniforms.scale), r >= vec4<u32>(uniforms.thr));
        }
      }`;
  }
}

/** Whether dropoutGpu takes a tensor of this many elements (whole vec4s). */
export function dropoutGpuApplies(size: number): boolean {
  return size > 0 && size % 4 === 0 && size / 4 <= 0xffffffff;
}

/** x · mask / (1 − rate) for the mask of `words` (webgpu backend only; see dropoutGpuApplies). */
export function dropoutGpu<T extends tf.Tensor>(x: T, rate: number, words: DropoutWords): T {
  const attrs: DropoutAttrs = { rate, ...words };
  return tf.tidy(() => {
    const flat = tf.reshape(x, [x.size]);
    const make = (ins: Record<string, tf.TensorInfo>, a: DropoutAttrs) =>
      new DropoutProgram(tf.util.sizeFromShape(ins.x!.shape), a);
    const y = runGpuKernel(KERNEL, { x: flat }, attrs, make);
    return tf.reshape(y, x.shape) as T;
  });
}

/** Raw Philox words for n (counter, key) rows [c0 c1 c2 c3 k0 k1], as bit patterns in float32. */
class PhiloxWordsProgram {
  readonly variableNames = ['rows'];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [64, 1, 1];

  constructor(private readonly n: number) {
    this.outputShape = [n * 4];
    this.dispatch = [Math.ceil(n / 64), 1, 1];
    this.shaderKey = `sadpmPhiloxWords_${n}`;
  }

  getUserCode(): string {
    return `
      ${philoxWgsl}
      fn main(index: i32) {
        _ = uniforms.NAN; // the pipeline's bind group layout comes from the shader: keep the binding
        let i = u32(index);
        if (i < ${this.n}u) {
          let b = i * 6u;
          let c = vec4<u32>(u32(rows[b]), u32(rows[b + 1u]), u32(rows[b + 2u]), u32(rows[b + 3u]));
          let r = sadpmPhilox(c, vec2<u32>(u32(rows[b + 4u]), u32(rows[b + 5u])));
          result[i * 4u] = bitcast<f32>(r.x);
          result[i * 4u + 1u] = bitcast<f32>(r.y);
          result[i * 4u + 2u] = bitcast<f32>(r.z);
          result[i * 4u + 3u] = bitcast<f32>(r.w);
        }
      }`;
  }
}

/** The WGSL generator's words for rows of [counter 4, key 2] (tests hold it to the known answers). */
export async function philox4x32Gpu(rows: Uint32Array): Promise<Uint32Array> {
  if (rows.length % 6 !== 0) throw new Error(`philox4x32Gpu: expected rows of 6 words, got ${rows.length} words`);
  const n = rows.length / 6;
  const input = tf.tensor1d(new Int32Array(rows.buffer, rows.byteOffset, rows.length), 'int32');
  const out = runGpuKernel(WORDS_KERNEL, { rows: input }, { n }, (_ins, a) => new PhiloxWordsProgram(a.n));
  const data = await out.data<'float32'>();
  tf.dispose([input, out]);
  return new Uint32Array(data.buffer, data.byteOffset, data.length).slice();
}
