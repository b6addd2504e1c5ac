/** Shaping evaluation data for the UI (issue 12): step lists, the ETA of a job, metric names and run columns. */
import type { EvalSummary } from '../../shared/records';

export const METRIC_LABELS: Record<string, string> = {
  fid: 'FID',
  kid: 'KID',
  is: 'IS',
  precision: 'Precision',
  recall: 'Recall',
};

/** Request metrics with what they store: 'pr' is precision and recall. */
export const EVAL_METRIC_CHOICES = [
  { value: 'fid', label: 'FID' },
  { value: 'kid', label: 'KID' },
  { value: 'is', label: 'IS (Inception only)' },
  { value: 'pr', label: 'Precision / recall' },
] as const;

/** '10, 20,50' → [10, 20, 50]; a message naming the bad entry otherwise. */
export function parseStepList(text: string, T?: number): { steps: number[]; error: string | null } {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) return { steps: [], error: 'give one or more sampling-step counts, e.g. 10,20,50,100' };
  const steps: number[] = [];
  for (const p of parts) {
    const v = Number(p);
    if (!/^\d+$/.test(p) || v < 1) return { steps: [], error: `'${p}' is not a positive whole number` };
    if (T !== undefined && v > T) return { steps: [], error: `${v} is more than the run's T = ${T} diffusion steps` };
    if (steps.includes(v)) return { steps: [], error: `${v} is listed twice` };
    steps.push(v);
  }
  return { steps, error: null };
}

/** Seconds left at the job's average rate so far (null before the first progress or once it ended). */
export function jobEta(job: { done: number; total: number; startedAt: number } | null, now: number): number | null {
  if (!job || job.done <= 0 || job.total <= job.done) return null;
  const elapsed = (now - job.startedAt) / 1000;
  if (!(elapsed > 0)) return null;
  return ((job.total - job.done) * elapsed) / job.done;
}

/** The runs list's metric cells: the latest value per metric, the feature space marked where it is pixels. */
export function metricCells(evals: EvalSummary[] | undefined): { metric: string; text: string; title: string }[] {
  if (!evals?.length) return [];
  const order = Object.keys(METRIC_LABELS);
  // One cell per metric: the Inception result when there is one (comparable with published numbers).
  const best = new Map<string, EvalSummary>();
  for (const e of evals) {
    const had = best.get(e.metric);
    if (!had || (had.featureSpace === 'pixel' && e.featureSpace === 'inception')) best.set(e.metric, e);
  }
  return [...best.values()]
    .sort((a, b) => order.indexOf(a.metric) - order.indexOf(b.metric))
    .map((e) => {
      const label = METRIC_LABELS[e.metric] ?? e.metric;
      const v = Math.abs(e.value) >= 100 ? e.value.toFixed(1) : Number(e.value.toPrecision(3)).toString();
      const px = e.featureSpace === 'pixel' ? ' px' : '';
      const title =
        `${label} at ${e.sampleSteps} ${e.sampler} steps, checkpoint ${e.step}, ${e.weights} weights, ` +
        `n = ${e.n}, ${e.featureSpace === 'pixel' ? 'pixel space (not Inception)' : 'Inception'}`;
      return { metric: e.metric, text: `${label}${px} ${v}`, title };
    });
}
