/**
 * Issue 13: where a variance sampler's σ² comes from, as a request names it; each sampler reads its own fields
 * (ddpm and ddim none). analytic-*: the Γ estimate's training images per index (default all, as the official code)
 * and seed; npr-* / sn-*: the covariance run whose head to use (default the newest completed one of that kind on
 * this checkpoint and weights). Sampling (contract.ts) and evaluation (evaluation.ts) both take it.
 */
import { z } from 'zod';

export const SampleVarianceSchema = z.object({
  gammaImages: z.number().int().positive().optional(),
  gammaSeed: z.number().int().nonnegative().optional(),
  covRun: z.number().int().positive().optional(),
});
export type SampleVariance = z.infer<typeof SampleVarianceSchema>;
