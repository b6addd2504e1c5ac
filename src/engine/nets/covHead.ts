/**
 * The NPR / SN covariance head (Bao et al., ICML 2022), as the official code attaches it to the DDPM UNet
 * (baofff/Extended-Analytic-DPM `libs/ddpm/customized.py` `Model4Pretrained`, mode 'simple', the one used
 * for CIFAR-10 and CelebA 64): it reads the UNet's last hidden layer h (the input of norm_out) and computes
 *   out2 = conv_out2(SiLU(norm_out2(h)))
 * with its own GroupNorm (the UNet's group count, eps 1e-6) and a 3x3 conv to the image channels, no output
 * activation. The backbone is frozen (requires_grad_(False) there; here its weights are simply not trained).
 * Initialisation as PyTorch's defaults, which that module keeps: GroupNorm weight 1, bias 0; conv weight and
 * bias U(±1/√fan_in). (The improved-DDPM variant zero-initialises the conv instead; not used here.)
 */
import { tf } from '../tf';
import { Rng, Stream } from '../rng';
import type { UNet } from './unet';
import { conv2dSame, groupNormAct } from './ops';
import type { CovHeadKind, CovModel } from '../diffusion/samplers';

const GN_EPS = 1e-6;
/** Separates the head's init streams from the UNet's (which use (seed, Stream.init, index)). */
const HEAD_INIT_KEY = 0x48454144;

export interface CovHeadSpec {
  kind: CovHeadKind;
  mode: 'simple';
  inChannels: number;
  outChannels: number;
  groups: number;
}

/** What the covariance trainer trains: variables and a map from backbone features (and indices) to h. */
export interface TrainableHead {
  readonly variables: tf.Variable[];
  readonly names: string[];
  apply(features: tf.Tensor4D, j: tf.Tensor1D): tf.Tensor4D;
}

export class CovHead implements TrainableHead {
  readonly variables: tf.Variable[];
  readonly names = ['norm_out2.gamma', 'norm_out2.beta', 'conv_out2.w', 'conv_out2.b'];
  private readonly eps = tf.scalar(GN_EPS, 'float32');
  private disposed = false;

  constructor(
    readonly spec: CovHeadSpec,
    seed: number,
  ) {
    const { inChannels: cin, outChannels: cout, groups } = spec;
    for (const [name, v] of [
      ['inChannels', cin],
      ['outChannels', cout],
      ['groups', groups],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`CovHead: ${name} must be a positive integer, got ${v}`);
    }
    if (cin % groups !== 0) throw new Error(`CovHead: ${cin} input channels are not divisible into ${groups} groups`);
    if (spec.mode !== 'simple') {
      throw new Error(`CovHead: mode '${String(spec.mode)}' is not implemented (expected simple)`);
    }
    const bound = 1 / Math.sqrt(cin * 9);
    const uniform = (n: number, i: number) =>
      Rng.keyed(seed, Stream.init, HEAD_INIT_KEY, i).fillUniform(new Float32Array(n), -bound, bound);
    const init: [number[], Float32Array][] = [
      [[cin], new Float32Array(cin).fill(1)],
      [[cin], new Float32Array(cin)],
      [[3, 3, cin, cout], uniform(9 * cin * cout, 2)],
      [[cout], uniform(cout, 3)],
    ];
    this.variables = init.map(([shape, values]) =>
      tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), true)),
    );
  }

  apply(features: tf.Tensor4D, _j?: tf.Tensor1D): tf.Tensor4D {
    if (this.disposed) throw new Error('CovHead: used after dispose()');
    const c = features.shape[3];
    if (c !== this.spec.inChannels) {
      throw new Error(`CovHead: features have ${c} channels, the head expects ${this.spec.inChannels}`);
    }
    const [gamma, beta, w, b] = this.variables as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
    return tf.tidy(() => {
      const h = groupNormAct(features, gamma, beta, this.spec.groups, this.eps, GN_EPS, true);
      return conv2dSame(h, w as unknown as tf.Tensor4D, b as unknown as tf.Tensor1D, 1);
    });
  }

  async readWeights(): Promise<Float32Array[]> {
    const data = await Promise.all(this.variables.map((v) => v.data<'float32'>()));
    return data.map((d) => Float32Array.from(d));
  }

  writeWeights(w: Float32Array[]): void {
    const vars = this.variables;
    if (w.length !== vars.length) {
      throw new Error(`CovHead.writeWeights: expected ${vars.length} arrays, got ${w.length}`);
    }
    w.forEach((arr, i) => {
      const v = vars[i]!;
      if (arr.length !== v.size) {
        throw new Error(`CovHead.writeWeights: '${this.names[i]}' expects ${v.size} values, got ${arr.length}`);
      }
    });
    w.forEach((arr, i) => tf.tidy(() => vars[i]!.assign(tf.tensor(arr, vars[i]!.shape, 'float32'))));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.variables) v.dispose();
    this.eps.dispose();
  }
}

/** The head's spec for a UNet backbone. */
export function covHeadSpecFor(net: UNet, kind: CovHeadKind): CovHeadSpec {
  const { channels, normGroups } = net.cfg;
  return { kind, mode: 'simple', inChannels: net.featureChannels(), outChannels: channels, groups: normGroups };
}

/** ε_θ and the head's output from one pass of the (frozen) UNet. */
export function covModelOf(net: UNet, head: TrainableHead): CovModel {
  return (x, j) =>
    tf.tidy(() => {
      const { eps, features } = net.applyWithFeatures(x, j);
      return { eps, head: head.apply(features, j) };
    });
}
