/**
 * The tfjs FID Inception-v3 against PyTorch on the same random weights (width ÷8), and the .pth
 * reader on files written by torch.save. The fixtures come from
 *   python3 scripts/fixtures/make_inception_fixture.py --out test/fixtures/inception
 * (needs PyTorch); without them these tests are skipped and say so.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { assertGpuHealthy, initBackend } from '../../../src/engine/backend';
import { readStateDict } from '../../../src/engine/metrics/pth/torchFile';
import { loadInceptionWeights, type InceptionWeights } from '../../../src/engine/metrics/inception/weights';
import { InceptionV3Fid } from '../../../src/engine/metrics/inception/model';

const DIR = join(__dirname, '../../fixtures/inception');
const SCRIPT = 'python3 scripts/fixtures/make_inception_fixture.py --out test/fixtures/inception';
const MODEL_JSON = join(DIR, 'inception_w8_expected.json');
const TINY_JSON = join(DIR, 'tiny_expected.json');
const haveModel = existsSync(MODEL_JSON);
const haveTiny = existsSync(TINY_JSON);
if (!haveModel || !haveTiny) {
  console.warn(`SKIPPED: the PyTorch fixtures are missing from ${DIR}; make them on a machine with PyTorch: ${SCRIPT}`);
}

interface Expected {
  width_divisor: number;
  classes: number;
  features: number;
  pth: string;
  sha256: string;
  outputs: Record<
    string,
    {
      n: number;
      channels: number;
      size: number;
      salt: number;
      pool3: number[][];
      logits: number[][];
      logits_unbiased: number[][];
    }
  >;
}

/** The script's images: v = (3x² + 7y + xy + 85c + 41k + salt) mod 256, /255, as NHWC. */
function images(n: number, channels: number, size: number, salt: number): tf.Tensor4D {
  const v = new Float32Array(n * size * size * channels);
  for (let k = 0; k < n; k++)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++)
        for (let c = 0; c < channels; c++)
          v[((k * size + y) * size + x) * channels + c] =
            ((3 * x * x + 7 * y + x * y + 85 * c + 41 * k + salt) % 256) / 255;
  return tf.tensor4d(v, [n, size, size, channels]);
}

/** max |a − b| / max |b| (normwise: pool3 holds near-zero features where elementwise ratios mean nothing). */
function relErr(a: ArrayLike<number>, b: number[]): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return d / s;
}

describe.skipIf(!haveModel)('FID Inception-v3 (tfjs) against PyTorch float64, width ÷8 random weights', () => {
  let expected: Expected;
  let weights: InceptionWeights;
  let webgpu = false;

  beforeAll(async () => {
    expected = JSON.parse(readFileSync(MODEL_JSON, 'utf8')) as Expected;
    const config = { widthDivisor: expected.width_divisor, classes: expected.classes };
    weights = await loadInceptionWeights(join(DIR, expected.pth), {
      config,
      sha256Prefix: expected.sha256.slice(0, 8),
    });
    try {
      webgpu = (await initBackend('webgpu')).name === 'webgpu';
    } catch {
      webgpu = false;
    }
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('reads the torch.save file, checks its SHA-256 and refuses a wrong one', async () => {
    expect(weights.sha256).toBe(expected.sha256);
    const config = { widthDivisor: expected.width_divisor, classes: expected.classes };
    await expect(loadInceptionWeights(join(DIR, expected.pth), { config, sha256Prefix: 'deadbeef' })).rejects.toThrow(
      new RegExp(`inception_w8\\.pth: SHA-256 ${expected.sha256} does not start with deadbeef`),
    );
    // the real file's name check applies by default
    await expect(loadInceptionWeights(join(DIR, expected.pth), { config })).rejects.toThrow(
      /does not start with 6726825d/,
    );
  });

  for (const backend of ['cpu', 'webgpu'] as const) {
    it(`pool3 and logits within 1e-4 of PyTorch float64 on ${backend} (32×32 RGB and grey resized to 299, and 299×299)`, async (ctx) => {
      if (backend === 'webgpu' && !webgpu) ctx.skip();
      await tf.setBackend(backend === 'webgpu' ? 'webgpu' : 'cpu');
      const model = new InceptionV3Fid(weights);
      const before = tf.memory().numTensors;
      for (const [name, o] of Object.entries(expected.outputs)) {
        const x = images(o.n, o.channels, o.size, o.salt);
        const { pool3, logits } = model.forward(x);
        const p = await pool3.data();
        const l = await logits.data();
        const biased = Float32Array.from(l, (v, i) => v + model.fcBias[i % expected.classes]!);
        tf.dispose([x, pool3, logits]);
        if (backend === 'webgpu') assertGpuHealthy();
        const ep = relErr(p, o.pool3.flat());
        const el = relErr(l, o.logits_unbiased.flat());
        const eb = relErr(biased, o.logits.flat());
        console.log(
          `${backend} ${name}: pool3 ${ep.toExponential(2)}, logits ${el.toExponential(2)} (biased ${eb.toExponential(2)})`,
        );
        expect(ep, `${name} pool3`).toBeLessThan(1e-4);
        expect(el, `${name} logits`).toBeLessThan(1e-4);
        expect(eb, `${name} biased logits`).toBeLessThan(1e-4);
      }
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });
  }
});

describe.skipIf(!haveTiny)('.pth reader on files written by torch.save', () => {
  const tiny = haveTiny
    ? (JSON.parse(readFileSync(TINY_JSON, 'utf8')) as {
        tensors: Record<string, { dtype: string; shape: number[]; values: number[] }>;
      })
    : null;
  for (const file of ['tiny_zip.pth', 'tiny_legacy.pth']) {
    it(`${file}: every tensor's dtype, shape and values (views, transposes, float16, bfloat16, bool, int64)`, () => {
      const sd = readStateDict(readFileSync(join(DIR, file)), file);
      expect([...sd.keys()]).toEqual(Object.keys(tiny!.tensors));
      for (const [k, e] of Object.entries(tiny!.tensors)) {
        const t = sd.get(k)!;
        expect(t.dtype, k).toBe(e.dtype);
        expect(t.shape, k).toEqual(e.shape);
        expect(Array.from(t.data), k).toEqual(e.values);
      }
    });
  }
});
