/** Human output for engine messages: a progress bar with ETA and images/s, or plain lines. */
import type { EngineMessage, EngineSink, SamplesMessage } from '../shared/engineMessages';
import { IOU_MIN, LEARNED_MIN, learnedShapes } from '../engine/data/shapeCheck';
import { SHAPE_NAMES } from '../engine/data/builtin';

function fmtDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '--';
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

export function fmtBytes(n: number | undefined): string {
  if (n === undefined) return '-';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) ((v /= 1024), i++);
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** The shape check of a samples message, in words (data/shapeCheck.ts). */
export function fmtShapeCheck(shapes: NonNullable<SamplesMessage['shapes']>): string {
  const counts = SHAPE_NAMES.map((name, i) => `${shapes.byClass[i] ?? 0} ${name}${shapes.byClass[i] === 1 ? '' : 's'}`);
  return (
    `shape check: ${shapes.recognised} of ${shapes.n} samples are recognisable shapes (${counts.join(', ')}; ` +
    `IoU >= ${IOU_MIN} with the generator's shape, mean ${shapes.meanIou.toFixed(2)}; noise scores 0)`
  );
}

/** The last line of run `runId` on a built-in shapes dataset: did its model learn the shapes? */
export function fmtShapeVerdict(shapes: NonNullable<SamplesMessage['shapes']>, runId: number): string {
  const pct = Math.round((100 * shapes.recognised) / Math.max(shapes.n, 1));
  const counts = `${shapes.recognised} of ${shapes.n} samples (${pct}%) are recognisable shapes`;
  const bar = `the bar is ${Math.round(100 * LEARNED_MIN)}%`;
  return learnedShapes(shapes)
    ? `the model learned the shapes: ${counts} (${bar})`
    : `the model has not learned the shapes yet: ${counts} (${bar}); train longer: sadpm resume ${runId} --steps N`;
}

/** JSON lines on stdout: the engine protocol, one object per line. */
export function jsonSink(): EngineSink {
  return (msg) => process.stdout.write(JSON.stringify(msg) + '\n');
}

/** A progress bar on a TTY (stderr), periodic lines otherwise; milestones always as lines. */
export function humanSink(opts: { tty?: boolean } = {}): EngineSink {
  const tty = opts.tty ?? Boolean(process.stderr.isTTY);
  let barShown = false;
  let lastLine = 0;
  const clearBar = () => {
    if (barShown) process.stderr.write('\r\x1b[K');
    barShown = false;
  };
  const line = (s: string) => {
    clearBar();
    process.stderr.write(s + '\n');
  };
  return (msg: EngineMessage) => {
    switch (msg.type) {
      case 'started':
        line(
          `${msg.resumed ? 'resuming' : 'training'} ${msg.runDir} from step ${msg.step} to ${msg.totalSteps} ` +
            `| ${msg.params.toLocaleString('en-US')} parameters | ${msg.datasetCount} images | backend ${msg.adapter}`,
        );
        if (msg.initFrom) {
          line(
            `starting from ${msg.initFrom.spec}: its weights, EMA and Adam state after ` +
              `${msg.initFrom.updates.toLocaleString('en-US')} training steps (this run counts from step 0)`,
          );
        }
        break;
      case 'progress': {
        const frac = msg.step / msg.totalSteps;
        const width = 24;
        const filled = Math.round(frac * width);
        const text =
          `step ${msg.step}/${msg.totalSteps} loss ${msg.loss.toFixed(4)} (simple ${msg.simple.toFixed(4)}, sa ${msg.sa.toFixed(4)}) ` +
          `|g| ${msg.gradNorm.toFixed(3)} ${msg.imagesPerSec.toFixed(1)} img/s ETA ${fmtDuration(msg.etaSec)}`;
        if (tty) {
          process.stderr.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
          barShown = true;
        } else if (Date.now() - lastLine > 5000 || msg.step === msg.totalSteps) {
          lastLine = Date.now();
          line(`${(frac * 100).toFixed(0).padStart(3)}% ${text}`);
        }
        break;
      }
      case 'checkpoint':
        if (!tty) line(`checkpoint step ${msg.step}: ${msg.path} (${fmtBytes(msg.bytes)})`);
        break;
      case 'samples':
        line(
          `samples (${msg.n}, ${msg.sampler} ${msg.sampleSteps} steps, ${msg.ema ? 'EMA' : 'raw'} weights): ${msg.path}`,
        );
        if (msg.shapes) line(fmtShapeCheck(msg.shapes));
        break;
      case 'gap': {
        const lastIdx = msg.t.length - 1;
        line(
          `gap monitor from t0=${msg.t0}: final mean |D| ${msg.meanAbs[lastIdx]?.toExponential(3)}, ` +
            `mean ‖D‖ ${msg.l2[lastIdx]?.toExponential(3)}: ${msg.path ?? ''}`,
        );
        break;
      }
      case 'finished':
        line(`${msg.reason === 'completed' ? 'finished' : 'stopped'} at step ${msg.step}: ${msg.runDir}`);
        break;
      case 'failed':
        line(`failed at step ${msg.step}: ${msg.reason}`);
        break;
      case 'log':
        line(`${msg.level}: ${msg.message}`);
        break;
    }
  };
}
