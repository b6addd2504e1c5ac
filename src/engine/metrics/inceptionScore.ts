/**
 * Inception Score (Salimans et al. 2016) as the OpenAI reference code computes it: the samples in
 * order are cut into `splits` contiguous parts (part i = [⌊iN/S⌋, ⌊(i+1)N/S⌋)); for each part
 * IS = exp(mean over x of KL(p(y|x) ‖ p(y))), p(y) the part's mean of p(y|x); mean ± population std
 * over the parts. The class probabilities are softmax(logits) of the 1008-way Inception classifier
 * without its bias (OpenAI's code multiplies pool3 by the softmax weights only; torch-fidelity's
 * 'logits_unbiased'). Streaming: since Σₓ Σ_y p log p̄ = N Σ_y p̄ log p̄, each part needs only Σ p(y|x)
 * and Σ Σ p log p, so 50,000 samples never need to be held.
 */

export interface InceptionScoreResult {
  mean: number;
  std: number;
  splits: number;
  /** The score of each part. */
  values: number[];
}

export class InceptionScoreAccumulator {
  private readonly sumP: Float64Array[];
  private readonly sumPLogP: Float64Array;
  private readonly counts: Float64Array;
  private seen = 0;

  /** `total` samples will be added (the parts' boundaries depend on it). */
  constructor(
    readonly total: number,
    readonly classes: number,
    readonly splits = 10,
  ) {
    if (!Number.isInteger(splits) || splits < 1)
      throw new Error(`Inception Score: splits must be a positive integer, got ${splits}`);
    if (!Number.isInteger(total) || total < splits) {
      throw new Error(`Inception Score: needs at least one sample per split (${splits} splits), got ${total} samples`);
    }
    if (!Number.isInteger(classes) || classes < 2)
      throw new Error(`Inception Score: needs ≥ 2 classes, got ${classes}`);
    this.sumP = Array.from({ length: splits }, () => new Float64Array(classes));
    this.sumPLogP = new Float64Array(splits);
    this.counts = new Float64Array(splits);
  }

  /** The part sample i belongs to: parts are [⌊sN/S⌋, ⌊(s+1)N/S⌋). */
  private partOf(i: number): number {
    let s = Math.floor((i * this.splits) / this.total);
    while (s + 1 < this.splits && Math.floor(((s + 1) * this.total) / this.splits) <= i) s++;
    while (s > 0 && Math.floor((s * this.total) / this.splits) > i) s--;
    return s;
  }

  /** Adds `rows` samples' logits (rows × classes, row-major). */
  add(logits: ArrayLike<number>, rows: number): void {
    const c = this.classes;
    if (logits.length !== rows * c)
      throw new Error(`Inception Score: expected ${rows}x${c} logits, got ${logits.length} values`);
    if (this.seen + rows > this.total)
      throw new Error(`Inception Score: more than the announced ${this.total} samples`);
    for (let r = 0; r < rows; r++) {
      let max = -Infinity;
      for (let j = 0; j < c; j++) {
        const v = logits[r * c + j]!;
        if (!Number.isFinite(v)) throw new Error(`Inception Score: logit ${j} of sample ${this.seen} is ${v}`);
        if (v > max) max = v;
      }
      let z = 0;
      for (let j = 0; j < c; j++) z += Math.exp(logits[r * c + j]! - max);
      const logZ = Math.log(z) + max;
      const part = this.partOf(this.seen);
      const sp = this.sumP[part]!;
      let plogp = 0;
      for (let j = 0; j < c; j++) {
        const lp = logits[r * c + j]! - logZ;
        const pj = Math.exp(lp);
        sp[j] = sp[j]! + pj;
        if (pj > 0) plogp += pj * lp;
      }
      this.sumPLogP[part] = this.sumPLogP[part]! + plogp;
      this.counts[part] = this.counts[part]! + 1;
      this.seen++;
    }
  }

  finish(): InceptionScoreResult {
    if (this.seen !== this.total)
      throw new Error(`Inception Score: ${this.seen} of the announced ${this.total} samples were added`);
    const values: number[] = [];
    for (let s = 0; s < this.splits; s++) {
      const n = this.counts[s]!;
      const sp = this.sumP[s]!;
      let cross = 0;
      for (let j = 0; j < this.classes; j++) {
        const pbar = sp[j]! / n;
        if (pbar > 0) cross += pbar * Math.log(pbar);
      }
      values.push(Math.exp(this.sumPLogP[s]! / n - cross));
    }
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    return { mean, std, splits: this.splits, values };
  }
}

export function inceptionScore(
  logits: ArrayLike<number>,
  rows: number,
  classes: number,
  splits = 10,
): InceptionScoreResult {
  const acc = new InceptionScoreAccumulator(rows, classes, splits);
  acc.add(logits, rows);
  return acc.finish();
}
