/**
 * Loads the FID Inception weights: reads the .pth (pth/torchFile.ts), checks its SHA-256 against the
 * prefix pytorch-fid puts in the file name, checks every tensor's name and shape against the plan,
 * and folds each BatchNorm (inference: running statistics, eps 0.001) into its convolution:
 *   W' = W·γ/√(σ²+ε),  b' = β − μ·γ/√(σ²+ε)   (in float64, then float32),
 * with filters transposed from torch's [out, in, kh, kw] to tfjs' [kh, kw, in, out].
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readStateDict, type TorchTensor } from '../pth/torchFile';
import {
  expectedStateDict,
  FID_INCEPTION,
  inceptionPlan,
  type InceptionConfig,
  type InceptionPlan,
} from './architecture';

export const FID_WEIGHTS_FILE = 'pt_inception-2015-12-05-6726825d.pth';
/** The first 8 hex digits of the file's SHA-256 (torch.hub's naming convention). */
export const FID_WEIGHTS_SHA256_PREFIX = '6726825d';
export const FID_WEIGHTS_URL = `https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/${FID_WEIGHTS_FILE}`;
/** The environment variable the CLI and the app read for the weights path. */
export const INCEPTION_WEIGHTS_ENV = 'SADPM_INCEPTION_WEIGHTS';
export const INCEPTION_WEIGHTS_HELP =
  `FID, KID, IS and precision/recall in the standard Inception feature space need pytorch-fid's weights, ` +
  `${FID_WEIGHTS_FILE} (about 91 MB). Nothing is downloaded for you: fetch it from ${FID_WEIGHTS_URL} and ` +
  `point Settings, --inception FILE or ${INCEPTION_WEIGHTS_ENV} at it.`;

const BN_EPS = 0.001;

export interface FoldedConv {
  /** [kh, kw, cin, cout] */
  filter: Float32Array;
  bias: Float32Array;
}

export interface InceptionWeights {
  plan: InceptionPlan;
  convs: Map<string, FoldedConv>;
  /** [features, classes]: pool3 · fcT = logits without bias */
  fcT: Float32Array;
  fcBias: Float32Array;
  /** Hex SHA-256 of the file the weights came from (null when built from a state_dict in memory). */
  sha256: string | null;
}

/** Compares a state_dict with the plan: every missing, extra or mis-shaped tensor, by name. */
export function checkStateDict(sd: Map<string, TorchTensor>, plan: InceptionPlan, label: string): void {
  const expected = expectedStateDict(plan);
  const problems: string[] = [];
  const missing = [...expected.keys()].filter((k) => !sd.has(k));
  // num_batches_tracked is a training counter, saved by newer PyTorch and unused at inference
  const extra = [...sd.keys()].filter((k) => !expected.has(k) && !k.endsWith('.bn.num_batches_tracked'));
  const list = (keys: string[]) =>
    keys.slice(0, 6).join(', ') + (keys.length > 6 ? ` and ${keys.length - 6} more` : '');
  if (missing.length) problems.push(`missing ${list(missing)}`);
  if (extra.length) problems.push(`unexpected ${list(extra)}`);
  for (const [k, shape] of expected) {
    const t = sd.get(k);
    if (t && t.shape.join('x') !== shape.join('x'))
      problems.push(`${k} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    if (t && !t.dtype.startsWith('float') && t.dtype !== 'bfloat16')
      problems.push(`${k} is ${t.dtype}, expected floating point`);
  }
  if (problems.length) {
    const width = plan.config.widthDivisor === 1 ? '' : ` (width ÷${plan.config.widthDivisor})`;
    throw new Error(`${label}: not the FID Inception-v3 state_dict${width}: ${problems.join('; ')}`);
  }
}

export function foldStateDict(
  sd: Map<string, TorchTensor>,
  config: InceptionConfig = FID_INCEPTION,
  label = 'state_dict',
): InceptionWeights {
  const plan = inceptionPlan(config);
  checkStateDict(sd, plan, label);
  const convs = new Map<string, FoldedConv>();
  for (const s of plan.convs.values()) {
    const w = sd.get(`${s.name}.conv.weight`)!.data;
    const gamma = sd.get(`${s.name}.bn.weight`)!.data;
    const beta = sd.get(`${s.name}.bn.bias`)!.data;
    const mean = sd.get(`${s.name}.bn.running_mean`)!.data;
    const variance = sd.get(`${s.name}.bn.running_var`)!.data;
    const filter = new Float32Array(s.kh * s.kw * s.cin * s.cout);
    const bias = new Float32Array(s.cout);
    for (let o = 0; o < s.cout; o++) {
      if (!(variance[o]! + BN_EPS > 0))
        throw new Error(`${label}: ${s.name}.bn.running_var[${o}] = ${variance[o]} makes the BatchNorm undefined`);
      const scale = gamma[o]! / Math.sqrt(variance[o]! + BN_EPS);
      bias[o] = beta[o]! - mean[o]! * scale;
      for (let i = 0; i < s.cin; i++) {
        for (let y = 0; y < s.kh; y++) {
          for (let x = 0; x < s.kw; x++) {
            filter[((y * s.kw + x) * s.cin + i) * s.cout + o] = w[((o * s.cin + i) * s.kh + y) * s.kw + x]! * scale;
          }
        }
      }
    }
    convs.set(s.name, { filter, bias });
  }
  const fc = sd.get('fc.weight')!.data;
  const classes = plan.config.classes;
  const fcT = new Float32Array(plan.features * classes);
  for (let k = 0; k < classes; k++)
    for (let f = 0; f < plan.features; f++) fcT[f * classes + k] = fc[k * plan.features + f]!;
  return { plan, convs, fcT, fcBias: Float32Array.from(sd.get('fc.bias')!.data), sha256: null };
}

export interface LoadWeightsOptions {
  config?: InceptionConfig;
  /** Hex prefix the file's SHA-256 must start with; null skips the check (tests with their own files). */
  sha256Prefix?: string | null;
}

export async function loadInceptionWeights(path: string, opts: LoadWeightsOptions = {}): Promise<InceptionWeights> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      `${path}: cannot read the Inception weights (${code ?? (err as Error).message}). ${INCEPTION_WEIGHTS_HELP}`,
    );
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const prefix = opts.sha256Prefix === undefined ? FID_WEIGHTS_SHA256_PREFIX : opts.sha256Prefix;
  if (prefix !== null && !sha256.startsWith(prefix.toLowerCase())) {
    throw new Error(
      `${path}: SHA-256 ${sha256} does not start with ${prefix}` +
        (prefix === FID_WEIGHTS_SHA256_PREFIX
          ? `, the prefix in pytorch-fid's file name ${FID_WEIGHTS_FILE}: a different or corrupt file. ` +
            INCEPTION_WEIGHTS_HELP
          : ''),
    );
  }
  const weights = foldStateDict(readStateDict(bytes, path), opts.config ?? FID_INCEPTION, path);
  return { ...weights, sha256 };
}
