/**
 * The training metrics a run records, with the words and units the UI and exports show. The recorder writes
 * these names, the live monitor keeps a column per name, and the charts take their titles from here: one list
 * instead of four that could drift.
 */

/** Fields of an engine progress message stored as metrics, in this order. */
export const PROGRESS_METRICS = ['loss', 'simple', 'sa', 'gradNorm', 'lr', 'imagesPerSec', 'msPerStep'] as const;
/** Memory figures of a progress message stored as metrics (gpuBytes only where the backend reports it). */
export const MEMORY_METRICS = ['gpuBytes', 'tensorBytes'] as const;
export const TRAINING_METRICS = [...PROGRESS_METRICS, ...MEMORY_METRICS] as const;

export type ProgressMetric = (typeof PROGRESS_METRICS)[number];
export type TrainingMetric = (typeof TRAINING_METRICS)[number];

export interface MetricInfo {
  /** A chart title. */
  title: string;
  /** The unit of the values, for axis titles ('' when dimensionless). */
  unit: string;
}

export const METRIC_INFO: Record<TrainingMetric, MetricInfo> = {
  loss: { title: 'Loss L = L_simple + λ·L_sa', unit: '' },
  simple: { title: 'L_simple', unit: '' },
  sa: { title: 'L_sa', unit: '' },
  gradNorm: { title: 'Gradient norm (before clipping)', unit: '' },
  lr: { title: 'Learning rate', unit: '' },
  imagesPerSec: { title: 'Images / s', unit: 'images/s' },
  msPerStep: { title: 'Time per step', unit: 'ms' },
  gpuBytes: { title: 'GPU memory', unit: 'bytes' },
  tensorBytes: { title: 'Tensor memory', unit: 'bytes' },
};

// issue 15: the charts' time axes and the monitor's chart list, from this one place.
/** Seconds since the epoch at which each logged step's scalars were read (the recorder writes it). */
export const WALL_TIME_METRIC = 'wallTime';
/** Every metric a run's progress records: the training metrics and the wall time. */
export const RECORDED_METRICS = [...TRAINING_METRICS, WALL_TIME_METRIC] as const;

/** The monitor's charts in order: a metric each; 'memory' is gpuBytes where the backend reports it, else tensorBytes. */
export const MONITOR_CHARTS = ['loss', 'simple', 'sa', 'gradNorm', 'lr', 'imagesPerSec', 'memory'] as const;
export type MonitorChart = (typeof MONITOR_CHARTS)[number];

/** The name of a chart in test ids and file names: chart-loss, chart-gradnorm, chart-throughput, chart-memory. */
export const CHART_SLUGS: Record<MonitorChart, string> = {
  loss: 'loss',
  simple: 'simple',
  sa: 'sa',
  gradNorm: 'gradnorm',
  lr: 'lr',
  imagesPerSec: 'throughput',
  memory: 'memory',
};

/** Short names for a chart's y axis, which has the chart's height to fit in (the chart's title says the rest). */
const AXIS_NAMES: Record<TrainingMetric, string> = {
  loss: 'L',
  simple: 'L_simple',
  sa: 'L_sa',
  gradNorm: '‖g‖',
  lr: 'lr',
  imagesPerSec: 'throughput',
  msPerStep: 'time',
  gpuBytes: 'memory',
  tensorBytes: 'memory',
};

/** A metric's axis title with its unit: "throughput (images/s)", "L_simple". */
export function axisTitle(metric: TrainingMetric): string {
  const unit = METRIC_INFO[metric].unit;
  return unit ? `${AXIS_NAMES[metric]} (${unit})` : AXIS_NAMES[metric];
}
