/** What a run will cost before it starts: parameters, memory, and time per step from similar earlier runs. */
import type { Estimate } from '../../shared/contract';
import { modelConfigOf, type RunConfig } from '../../shared/config';
import { isSaActive } from '../../shared/naming';
import type { RunStore } from '../../store/runStore';
import { countUNetParams } from '../../engine/nets/unetPlan';

export function estimateRun(store: RunStore, cfg: RunConfig): Estimate {
  const model = modelConfigOf(cfg);
  const params = countUNetParams(model);
  // Weights, gradients, Adam m and v, EMA: five float32 copies.
  const stateBytes = params * 4 * 5;
  // Activations kept for the backward pass: per level, each res block keeps ~8 tensors of its size.
  const images = cfg.batch * (isSaActive(cfg) ? cfg.k : 1);
  let perImage = 0;
  let res = cfg.imageSize;
  for (const m of model.chMult) {
    perImage += res * res * cfg.ch * m * (model.numResBlocks * 2 + 1) * 8 * 2;
    res = Math.max(1, Math.floor(res / 2));
  }
  const activationBytes = images * perImage * 4;
  const similar = store.runs
    .list({ k: cfg.k, limit: 200 })
    .filter(
      (r) =>
        r.preset === cfg.preset &&
        r.config.batch === cfg.batch &&
        r.config.imageSize === cfg.imageSize &&
        r.lambda === cfg.lambda,
    )
    .slice(0, 20);
  const samples: number[] = [];
  for (const r of similar) samples.push(...store.metrics.series(r.id, 'msPerStep', 50).values.slice(1));
  samples.sort((a, b) => a - b);
  const msPerStep = samples.length ? samples[Math.floor(samples.length / 2)]! : null;
  const basis =
    msPerStep === null
      ? 'no earlier run with this model, batch and loss: time per step is measured once the run starts'
      : `median of ${samples.length} logged steps from ${similar.length} earlier run(s) ` +
        'with this model, batch and loss';
  return { params, stateBytes, activationBytes, msPerStep, basis };
}
