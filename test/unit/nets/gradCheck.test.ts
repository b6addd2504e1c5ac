/**
 * Finite-difference check of the whole training gradient: UNet + SA loss (K = 2, λ = 1, official
 * variant, the K terms batched, so the network sees batch K·B = 4), on every backend this machine has.
 *
 * The finite differences are taken on the float64 plain-JS transcription of the reference model
 * (unetReference.ts), so they are free of float32 noise: central differences with a step of 1e-3
 * along unit directions are exact to ~1e-8 relative. Each parameter group (one module of the UNet)
 * is probed along two random directions over all its parameters and along the coordinates where
 * its gradient is largest; the tfjs gradient's projection must agree to 1e-3 of the group's
 * gradient norm (float32 backward passes agree to ~1e-5).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { initBackend } from '../../../src/engine/backend';
import { UNet } from '../../../src/engine/nets/unet';
import { variableGradsFreeing } from '../../../src/engine/nets/grads';
import {
  lossTensors,
  prepareLossBatch,
  type LossBatch,
  type LossSettings,
} from '../../../src/engine/diffusion/losses/sequenceAware';
import { makeSchedule } from '../../../src/engine/diffusion/schedule';
import { Rng } from '../../../src/engine/rng';
import type { ModelConfig } from '../../../src/shared/config';
import { Weights, fromNHWC, referenceForward } from './unetReference';

const CFG: ModelConfig = {
  ch: 8,
  chMult: [1, 2],
  numResBlocks: 1,
  attnResolutions: [4],
  dropout: 0,
  imageSize: 8,
  channels: 3,
  normGroups: 4,
};
const SETTINGS: LossSettings = { k: 2, lambda: 1, tau: 'official' };
const SHAPE: [number, number, number] = [8, 8, 3];
const STEP = 1e-3;
const TOL = 1e-3;
const COORDS_PER_GROUP = 2;
const DIRECTIONS_PER_GROUP = 2;

interface Probe {
  group: string;
  what: string;
  /** Sparse unit direction: (variable index, element index, value). */
  dir: { v: number; i: number; x: number }[];
  fd: number;
}

/** The module a parameter belongs to: 'down.1.attn.0', 'mid.block_1', 'temb', 'conv_in', ... */
function groupOf(name: string): string {
  const parts = name.split('.');
  if (parts[0] === 'down' || parts[0] === 'up') {
    return parts.slice(0, parts[2] === 'block' || parts[2] === 'attn' ? 4 : 3).join('.');
  }
  if (parts[0] === 'mid') return parts.slice(0, 2).join('.');
  return parts[0] === 'norm_out' || parts[0] === 'conv_out' ? 'out' : parts[0]!;
}

function fixture(): { names: string[]; weights: Float32Array[]; lb: LossBatch } {
  const net = new UNet(CFG, 11);
  const weights = net.variables.map((v, i) => {
    const w = Float32Array.from(v.dataSync() as Float32Array);
    const name = net.names[i]!;
    // Non-trivial GroupNorm affine parameters, so that their gradients are probed off the init point.
    if (name.endsWith('.gamma')) Rng.keyed(5, i).fillUniform(w, 0.6, 1.4);
    if (name.endsWith('.beta')) Rng.keyed(5, i).fillUniform(w, -0.3, 0.3);
    return w;
  });
  const names = [...net.names];
  net.dispose();
  const B = 2;
  const x0 = Rng.keyed(5, 1000).fillUniform(new Float32Array(B * 8 * 8 * 3), -1, 1);
  // Top index 0 masks the image's k = 1 term (its residual still goes through the network).
  const top = Int32Array.from([0, 613]);
  const lb = prepareLossBatch(makeSchedule({ kind: 'linear', T: 1000 }), SETTINGS, x0, SHAPE, top, Rng.keyed(5, 1001));
  return { names, weights, lb };
}

/** The loss in float64 from the reference forward: sum over pixels, mean over the batch (spec §2). */
function referenceLoss(names: string[], weights: Float64Array[], lb: LossBatch): number {
  const { terms: K, batch: B } = lb;
  const P = SHAPE[0] * SHAPE[1] * SHAPE[2];
  const W = new Weights(new Map(names.map((n, i) => [n, weights[i]!])));
  const y = referenceForward(CFG, W, fromNHWC(lb.xin, K * B, ...SHAPE), Array.from(lb.t));
  let simple = 0;
  let sa = 0;
  for (let b = 0; b < B; b++)
    for (let p = 0; p < P; p++) {
      let acc = 0;
      for (let k = 0; k < K; k++) {
        const i = (k * B + b) * P + p;
        const r = lb.eps[i]! - y.d[i]!;
        if (k === 0) simple += r * r;
        acc += lb.weights[k * B + b]! * r;
      }
      sa += acc * acc;
    }
  return simple / B + (SETTINGS.lambda * sa) / (B * K * K);
}

function directionalFd(names: string[], base: Float64Array[], lb: LossBatch, dir: Probe['dir']): number {
  const at = (sign: number) => {
    const w = base.map((a) => a);
    for (const { v, i, x } of dir) {
      if (w[v] === base[v]) w[v] = Float64Array.from(base[v]!);
      w[v]![i]! += sign * STEP * x;
    }
    return referenceLoss(names, w, lb);
  };
  return (at(1) - at(-1)) / (2 * STEP);
}

async function tfjsGradients(
  names: string[],
  weights: Float32Array[],
  lb: LossBatch,
): Promise<{ loss: number; grads: Float32Array[] }> {
  const net = new UNet(CFG, 11);
  net.writeWeights(weights);
  const { value, grads } = variableGradsFreeing(
    () => lossTensors((x, t) => net.apply(x, t, { training: true }), lb, SETTINGS, true).loss,
    net.variables,
  );
  const loss = (await value.data())[0]!;
  const out: Float32Array[] = [];
  for (const v of net.variables) out.push(Float32Array.from(await grads[v.name]!.data()));
  tf.dispose([value, ...Object.values(grads)]);
  net.dispose();
  expect(names).toEqual(net.names);
  return { loss, grads: out };
}

describe('finite-difference gradient check of UNet + SA loss (K = 2, λ = 1, batch 2)', () => {
  const fx = fixture();
  const base = fx.weights.map((w) => Float64Array.from(w));
  const refLoss = referenceLoss(fx.names, base, fx.lb);
  let probes: Probe[] | null = null;
  const groups = [...new Set(fx.names.map(groupOf))];

  /** Probe directions are chosen from the first backend's gradient (largest coordinates), then fixed. */
  function makeProbes(grads: Float32Array[]): Probe[] {
    const out: Probe[] = [];
    groups.forEach((group, gi) => {
      const members = fx.names.map((n, v) => (groupOf(n) === group ? v : -1)).filter((v) => v >= 0);
      for (let d = 0; d < DIRECTIONS_PER_GROUP; d++) {
        const rng = Rng.keyed(7, gi, d);
        const dir = members.flatMap((v) => Array.from(rng.normal(fx.weights[v]!.length), (x, i) => ({ v, i, x })));
        const norm = Math.sqrt(dir.reduce((s, e) => s + e.x * e.x, 0));
        for (const e of dir) e.x /= norm;
        out.push({ group, what: `random direction ${d}`, dir, fd: directionalFd(fx.names, base, fx.lb, dir) });
      }
      const coords = members.flatMap((v) => Array.from(grads[v]!, (g, i) => ({ v, i, g: Math.abs(g) })));
      coords.sort((a, b) => b.g - a.g);
      for (const { v, i } of coords.slice(0, COORDS_PER_GROUP)) {
        const dir = [{ v, i, x: 1 }];
        out.push({ group, what: `${fx.names[v]}[${i}]`, dir, fd: directionalFd(fx.names, base, fx.lb, dir) });
      }
    });
    return out;
  }

  async function check(backend: string): Promise<void> {
    const { loss, grads } = await tfjsGradients(fx.names, fx.weights, fx.lb);
    expect(Math.abs(loss - refLoss)).toBeLessThan(1e-4 * refLoss);
    probes ??= makeProbes(grads);
    const failures: string[] = [];
    for (const p of probes) {
      const members = new Set(fx.names.map((n, v) => (groupOf(n) === p.group ? v : -1)).filter((v) => v >= 0));
      let gnorm2 = 0;
      for (const v of members) for (const g of grads[v]!) gnorm2 += g * g;
      const an = p.dir.reduce((s, { v, i, x }) => s + grads[v]![i]! * x, 0);
      const err = Math.abs(an - p.fd) / Math.sqrt(gnorm2);
      if (!(err <= TOL)) {
        const vals = `tfjs ${an.toPrecision(6)}, fd ${p.fd.toPrecision(6)}`;
        failures.push(`${backend} ${p.group} ${p.what}: ${vals} (${err.toExponential(2)} of |g|)`);
      }
    }
    expect(failures).toEqual([]);
  }

  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('cpu', async () => {
    await tf.setBackend('cpu');
    await check('cpu');
  });

  it('webgpu (where Dawn gives an adapter)', async (ctx) => {
    let ok = false;
    try {
      ok = (await initBackend('webgpu')).name === 'webgpu';
    } catch {
      ok = false;
    }
    if (!ok) ctx.skip();
    await check('webgpu');
  });
});
