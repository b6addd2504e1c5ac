/**
 * CovConfig: a covariance run (NPR-DPM / SN-DPM head) as plain data, the child of a trained run: it names
 * the base checkpoint whose frozen network the head reads, and the head's training recipe. Defaults are
 * the official recipe (baofff/Extended-Analytic-DPM configs/default.py and criterions/ddpm.py): Adam, lr 1e-4,
 * no weight decay, no warm-up, no gradient clipping, batch 128, EMA 0.9999, 500k iterations.
 */
import { z } from 'zod';
import { BACKENDS } from './config';

export const COV_HEAD_KINDS = ['npr', 'sn'] as const;
export type CovHeadKindName = (typeof COV_HEAD_KINDS)[number];

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();

export const CovConfigSchema = z.object({
  kind: z.enum(COV_HEAD_KINDS).describe('npr: the head predicts (ε - ε_θ)²; sn: it predicts ε²'),
  name: z.string().max(200).default(''),
  seed: nonNegInt.default(0),
  backend: z.enum(BACKENDS).default('auto'),
  base: z.object({
    runDir: z.string().min(1).describe('the base run folder (its dataset and held-out images)'),
    checkpoint: z.string().min(1).describe('the base checkpoint file'),
    step: nonNegInt.describe('its training step (checked against the file)'),
    ema: z.boolean().default(true).describe('freeze the EMA weights (the official code uses the EMA model)'),
  }),
  steps: posInt.default(500000).describe('training steps of the head'),
  batch: posInt.default(128),
  lr: z.number().positive().default(1e-4),
  warmup: nonNegInt.default(0),
  adamBeta1: z.number().min(0).lt(1).default(0.9),
  adamBeta2: z.number().min(0).lt(1).default(0.999),
  adamEps: z.number().positive().default(1e-8),
  emaDecay: z.number().min(0).max(1).default(0.9999),
  gradClip: z.number().min(0).default(0).describe('global-norm clip (0 = off, the official setting)'),
  logEvery: posInt.default(10),
  checkpointEvery: posInt.default(5000),
});

export type CovConfig = z.infer<typeof CovConfigSchema>;
export type CovConfigInput = z.input<typeof CovConfigSchema>;

/** Validates a covariance-run config; the error names the field. */
export function parseCovConfig(raw: unknown, where = 'covariance run config'): CovConfig {
  const r = CovConfigSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`${where}: field '${i.path.join('.')}': ${i.message}`);
  }
  return r.data;
}
