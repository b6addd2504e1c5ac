/**
 * The Inception pieces that need no PyTorch fixture: input preprocessing against torch's bilinear
 * formula, the state_dict checks, loading a .pth written byte by byte, and a forward pass's shapes and
 * tensor hygiene on the cpu backend (the forward values are checked against PyTorch in inceptionFixture.test.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { Rng } from '../../../src/engine/rng';
import { expectedStateDict, inceptionPlan } from '../../../src/engine/metrics/inception/architecture';
import { foldStateDict, loadInceptionWeights } from '../../../src/engine/metrics/inception/weights';
import { InceptionV3Fid } from '../../../src/engine/metrics/inception/model';
import type { TorchTensor } from '../../../src/engine/metrics/pth/torchFile';
import { stateDictPickle, storedZip, type TensorSpec } from './pthWriter';

const W16 = { widthDivisor: 16, classes: 1008 };

function randomStateDict(seed: number): Map<string, TorchTensor> {
  const rng = Rng.keyed(seed, 5);
  const sd = new Map<string, TorchTensor>();
  for (const [name, shape] of expectedStateDict(inceptionPlan(W16))) {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length === 4 ? shape[1]! * shape[2]! * shape[3]! : (shape[1] ?? 1);
    const data = name.endsWith('running_var')
      ? rng.fillUniform(new Float32Array(n), 0.5, 1.5)
      : rng.normal(n).map((v) => v * Math.sqrt(2 / fanIn));
    sd.set(name, { dtype: 'float32', shape, data });
  }
  return sd;
}

/** torch.nn.functional.interpolate(mode='bilinear', align_corners=False) for one channel, from its definition. */
function torchBilinear(src: number[][], outH: number, outW: number): number[][] {
  const h = src.length;
  const w = src[0]!.length;
  const coord = (d: number, inSize: number, outSize: number) => {
    const s = Math.max((d + 0.5) * (inSize / outSize) - 0.5, 0);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    return [i0, Math.min(i0 + 1, inSize - 1), s - i0] as const;
  };
  return Array.from({ length: outH }, (_, y) => {
    const [y0, y1, fy] = coord(y, h, outH);
    return Array.from({ length: outW }, (_, x) => {
      const [x0, x1, fx] = coord(x, w, outW);
      const top = src[y0]![x0]! * (1 - fx) + src[y0]![x1]! * fx;
      const bottom = src[y1]![x0]! * (1 - fx) + src[y1]![x1]! * fx;
      return top * (1 - fy) + bottom * fy;
    });
  });
}

describe('metrics/inception', () => {
  const dirs: string[] = [];
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('preprocessing = torch bilinear resize to 299 (align_corners=False) then 2x − 1; grey repeated to RGB', async () => {
    const h = 5;
    const w = 7;
    const grey = Array.from({ length: h }, (_, y) =>
      Array.from({ length: w }, (_, x) => ((x * 37 + y * 11) % 17) / 16),
    );
    const x = tf.tensor4d(grey.flat(), [1, h, w, 1]);
    const got = await InceptionV3Fid.preprocess(x).data();
    const ref = torchBilinear(grey, 299, 299);
    let err = 0;
    for (let y = 0; y < 299; y++) {
      for (let xx = 0; xx < 299; xx++) {
        for (let c = 0; c < 3; c++)
          err = Math.max(err, Math.abs(got[(y * 299 + xx) * 3 + c]! - (2 * ref[y]![xx]! - 1)));
      }
    }
    expect(err).toBeLessThan(1e-5);
    x.dispose();
    expect(() => InceptionV3Fid.preprocess(tf.zeros([1, 4, 4, 2]) as tf.Tensor4D)).toThrow(/1 or 3 channels, got 2/);
  });

  it('the state_dict check names missing, unexpected and mis-shaped tensors; num_batches_tracked is ignored', () => {
    const sd = randomStateDict(1);
    sd.set('Mixed_5b.branch1x1.bn.num_batches_tracked', { dtype: 'int64', shape: [], data: new Float64Array(1) });
    expect(() => foldStateDict(sd, W16, 'ok.pth')).not.toThrow();
    const broken = new Map(sd);
    broken.delete('Mixed_6c.branch7x7dbl_3.conv.weight');
    broken.set('AuxLogits.fc.weight', { dtype: 'float32', shape: [2], data: new Float32Array(2) });
    broken.set('fc.bias', { dtype: 'float32', shape: [1000], data: new Float32Array(1000) });
    expect(() => foldStateDict(broken, W16, 'bad.pth')).toThrow(
      /bad\.pth: not the FID Inception-v3 state_dict \(width ÷16\): missing Mixed_6c\.branch7x7dbl_3\.conv\.weight; unexpected AuxLogits\.fc\.weight; fc\.bias has shape \[1000\], expected \[1008\]/,
    );
    expect(() => inceptionPlan({ widthDivisor: 3, classes: 1008 })).toThrow(
      /width divisor must be 1, 2, 4, 8 or 16, got 3/,
    );
  });

  it('the real network has 2048 features and 1008 classes; BatchNorm folding keeps the conv + BN maths', () => {
    const plan = inceptionPlan();
    expect(plan.features).toBe(2048);
    expect(plan.convs.size).toBe(94);
    const sd = randomStateDict(2);
    const folded = foldStateDict(sd, W16);
    const s = folded.plan.convs.get('Mixed_7c.branch3x3_2a')!; // a 1×3 kernel
    const w = sd.get(`${s.name}.conv.weight`)!.data;
    const [g, b, m, v] = ['weight', 'bias', 'running_mean', 'running_var'].map(
      (p) => sd.get(`${s.name}.bn.${p}`)!.data,
    );
    const f = folded.convs.get(s.name)!;
    const o = 3;
    const i = 5;
    const scale = g![o]! / Math.sqrt(v![o]! + 0.001);
    // torch [o, i, 0, 2] → tfjs [0, 2, i, o]
    expect(f.filter[((0 * s.kw + 2) * s.cin + i) * s.cout + o]).toBeCloseTo(
      w[((o * s.cin + i) * 1 + 0) * 3 + 2]! * scale,
      6,
    );
    expect(f.bias[o]).toBeCloseTo(b![o]! - m![o]! * scale, 6);
  });

  it('loads a .pth file (hash checked) and runs a batch: shapes, finite values, no leaked tensors', async () => {
    const sd = randomStateDict(3);
    const specs: TensorSpec[] = [];
    const files: { name: string; data: Uint8Array }[] = [];
    [...sd].forEach(([name, t], k) => {
      const strides = t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
      specs.push({
        name,
        storage: String(k),
        storageType: 'FloatStorage',
        numel: t.data.length,
        offset: 0,
        size: t.shape,
        stride: strides,
      });
      files.push({ name: `w16/data/${k}`, data: new Uint8Array(Float32Array.from(t.data).buffer) });
    });
    const bytes = storedZip([{ name: 'w16/data.pkl', data: stateDictPickle(specs) }, ...files]);
    const dir = mkdtempSync(join(tmpdir(), 'sadpm-inception-'));
    dirs.push(dir);
    const path = join(dir, 'w16.pth');
    writeFileSync(path, bytes);
    const sha = createHash('sha256').update(bytes).digest('hex');
    await expect(loadInceptionWeights(join(dir, 'none.pth'))).rejects.toThrow(
      /none\.pth: cannot read the Inception weights \(ENOENT\)\. .*pt_inception-2015-12-05-6726825d\.pth/,
    );
    const weights = await loadInceptionWeights(path, { config: W16, sha256Prefix: sha.slice(0, 8) });
    expect(weights.sha256).toBe(sha);
    const model = new InceptionV3Fid(weights);
    const before = tf.memory().numTensors;
    const x = tf.randomUniform([2, 16, 16, 3]) as tf.Tensor4D;
    const { pool3, logits } = model.forward(x);
    expect(pool3.shape).toEqual([2, 128]);
    expect(logits.shape).toEqual([2, 1008]);
    expect([...(await pool3.data())].every(Number.isFinite)).toBe(true);
    tf.dispose([x, pool3, logits]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
