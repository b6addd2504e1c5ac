/**
 * A study's report folder: report.md (the runs, what differs, the gap and its ratio, the metric tables) beside its
 * charts as PNG (gap.png, gap-ratio.png, metric-<name>.png) and its numbers as CSV (gap.csv, gap-ratio.csv,
 * metrics.csv), plus study.json with everything. Each file is written atomically.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../../io/atomicFile';
import { LOWER_IS_BETTER, samplerLabel, type Study, type StudyMetric } from '../../shared/evaluation';
import { writeLineChartPng, type ChartSeries } from '../../engine/render/lineChart';

/** Distinct line colours (the app's chart palette, first entries). */
const COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#475569'];
const METRIC_TITLES: Record<string, string> = {
  fid: 'FID',
  kid: 'KID',
  is: 'Inception Score',
  precision: 'Precision',
  recall: 'Recall',
};

const num = (v: number | null | undefined, digits = 4) =>
  v === null || v === undefined ? '' : Number(v.toPrecision(digits)).toString();
const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const csv = (rows: (string | number | null)[][]) =>
  rows.map((r) => r.map((c) => csvCell(c === null ? '' : String(c))).join(',')).join('\n') + '\n';
/** Chart text is drawn in an ASCII bitmap font: Greek and symbols spelled out. */
const ascii = (s: string) => s.replace(/λ/g, 'L').replace(/[^\x20-\x7e]/g, '?');

function runLabel(study: Study, runId: number): string {
  const r = study.runs.find((x) => x.id === runId);
  return r ? `#${r.id} ${r.name} (${r.loss})` : `#${runId}`;
}

function colorOf(study: Study, runId: number): string {
  return COLORS[
    Math.max(
      0,
      study.runs.findIndex((r) => r.id === runId),
    ) % COLORS.length
  ]!;
}

function gapFiles(dir: string, study: Study): string[] {
  const g = study.gap;
  if (g.curves.length === 0) return [];
  const ts = [...new Set(g.curves.flatMap((c) => c.t))].sort((a, b) => b - a);
  const header = ['t', ...g.curves.map((c) => `mean_abs_D_run${c.runId}_step${c.step}`)];
  const rows = ts.map((t) => [
    t,
    ...g.curves.map((c) => {
      const i = c.t.indexOf(t);
      return i >= 0 ? c.meanAbs[i]! : null;
    }),
  ]);
  writeFileAtomic(join(dir, 'gap.csv'), csv([header, ...rows]));
  writeLineChartPng(join(dir, 'gap.png'), {
    title: `Estimation gap from t0 = ${g.t0}`,
    xLabel: 't (reverse chain)',
    yLabel: 'mean abs D_t',
    reverseX: true,
    series: g.curves.map((c) => ({
      name: ascii(runLabel(study, c.runId)),
      color: colorOf(study, c.runId),
      points: c.t.map((t, i) => [t, c.meanAbs[i]!] as [number, number]),
    })),
  });
  const files = ['gap.csv', 'gap.png'];
  if (g.ratios.length) {
    const rh = ['t', ...g.ratios.map((r) => `ratio_baseline_over_run${r.runId}`)];
    const rrows = ts.map((t) => [
      t,
      ...g.ratios.map((r) => {
        const i = r.t.indexOf(t);
        return i >= 0 ? r.ratio[i]! : null;
      }),
    ]);
    writeFileAtomic(join(dir, 'gap-ratio.csv'), csv([rh, ...rrows]));
    writeLineChartPng(join(dir, 'gap-ratio.png'), {
      title: 'Gap ratio baseline / SA',
      xLabel: 't (reverse chain)',
      yLabel: 'ratio of mean abs D_t',
      reverseX: true,
      refY: 1,
      series: g.ratios.map((r) => ({
        name: ascii(runLabel(study, r.runId)),
        color: colorOf(study, r.runId),
        points: r.t.map((t, i) => [t, r.ratio[i] ?? null] as [number, number | null]),
      })),
    });
    files.push('gap-ratio.csv', 'gap-ratio.png');
  }
  return files;
}

function metricChart(dir: string, study: Study, m: StudyMetric): string {
  const series: ChartSeries[] = m.curves.map((c, i) => ({
    name: ascii(`${runLabel(study, c.runId)} step ${c.step} ${c.weights} ${samplerLabel(c)} n=${c.n}`),
    color: colorOf(study, c.runId),
    dashed: m.curves.findIndex((x) => x.runId === c.runId) !== i,
    points: c.points.map((p) => [p.sampleSteps, p.value] as [number, number]),
  }));
  const file = `metric-${m.metric}.png`;
  const title = METRIC_TITLES[m.metric] ?? m.metric;
  writeLineChartPng(join(dir, file), {
    title: `${title} vs sampling steps${m.featureSpace === 'pixel' ? ' (pixel space)' : ''}`,
    xLabel: 'sampling steps',
    yLabel: `${title}${LOWER_IS_BETTER.includes(m.metric) ? ', lower is better' : ', higher is better'}`,
    logX: true,
    series,
  });
  return file;
}

function metricsCsv(study: Study): string {
  const head = [
    'run_id',
    'run_name',
    'loss',
    'role',
    'checkpoint_step',
    'weights',
    'sampler',
    'variance',
    'spacing',
    'eta',
    'n',
    'feature_space',
    'metric',
    'sample_steps',
    'value',
    'std',
  ];
  const rows: (string | number | null)[][] = [head];
  for (const m of study.metrics) {
    for (const c of m.curves) {
      const r = study.runs.find((x) => x.id === c.runId)!;
      for (const p of c.points) {
        rows.push([
          r.id,
          r.name,
          r.loss,
          r.role,
          c.step,
          c.weights,
          c.sampler,
          c.variance,
          c.spacing,
          c.eta,
          c.n,
          c.featureSpace,
          m.metric,
          p.sampleSteps,
          p.value,
          p.std,
        ]);
      }
    }
  }
  return csv(rows);
}

function mdTable(head: string[], rows: string[][]): string[] {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ];
}

function markdown(study: Study, files: Set<string>, charts: Map<string, string>): string {
  const base = study.runs[0]!;
  const l: string[] = [
    `# SA-DPM study: baseline #${base.id} ${base.name} vs ${study.runs
      .slice(1)
      .map((r) => `#${r.id} ${r.name}`)
      .join(', ')}`,
    '',
    `Written ${new Date().toISOString()} by SA-DPM Studio.`,
    '',
    '## Runs',
    ...mdTable(
      ['role', 'run', 'loss', 'seed', 'trained steps'],
      study.runs.map((r) => [r.role, `#${r.id} ${r.name}`, r.loss, String(r.seed), String(r.step)]),
    ),
    '',
    '## What differs',
  ];
  const shown = study.differences.filter((d) => d.kind !== 'ignore');
  if (shown.length === 0) l.push('', 'Nothing but the run names and monitoring settings.');
  else {
    const kinds = {
      refuse: 'must match (data, model, diffusion)',
      loss: 'the SA loss (compared)',
      warn: 'training recipe (a confound)',
      ignore: '',
    };
    l.push(
      '',
      ...mdTable(
        ['field', ...study.runs.map((r) => `#${r.id}`), 'kind'],
        shown.map((d) => [
          d.field,
          ...study.runs.map((r) => d.values.find((v) => v.runId === r.id)?.value ?? ''),
          kinds[d.kind],
        ]),
      ),
    );
  }
  const g = study.gap;
  l.push('', "## Estimation gap (the paper's Figure 4)", '');
  l.push(
    g.step === null
      ? "The runs share no checkpoint; each curve is its run's latest."
      : `At the latest common checkpoint, step ${g.step}; t0 = ${g.t0}, ${g.weights} weights.`,
  );
  if (files.has('gap.png')) l.push('', '![estimation gap](gap.png)');
  if (files.has('gap-ratio.png')) l.push('', '![gap ratio](gap-ratio.png)');
  if (g.ratios.length) {
    l.push(
      '',
      ...mdTable(
        ['SA run', 'final gap ratio (t = 1)', 'mean ratio over t'],
        g.ratios.map((r) => [runLabel(study, r.runId), num(r.final, 3), num(r.mean, 3)]),
      ),
    );
    l.push(
      '',
      "The ratio is the baseline's mean |D_t| over the SA run's: above 1, the SA run's gap is smaller. " +
        'The paper reports about 2.5 for SA-2 against its baseline. Numbers: gap.csv, gap-ratio.csv.',
    );
  } else l.push('', 'No gap ratio: the baseline or every SA run lacks a curve with these settings.');
  l.push('', "## Metrics against sampling steps (the paper's Table 1 and Figure 1)", '');
  if (study.metrics.length === 0)
    l.push('No evaluation results yet (`sadpm eval RUN`, or the study with --steps to evaluate).');
  else l.push(`Feature space: ${study.spaceLabel}.`);
  for (const m of study.metrics) {
    const title = METRIC_TITLES[m.metric] ?? m.metric;
    l.push('', `### ${title}`, '', `![${title}](${charts.get(m.metric)})`, '');
    const counts = [...new Set(m.curves.flatMap((c) => c.points.map((p) => p.sampleSteps)))].sort((a, b) => a - b);
    const cols = m.curves.map((c) => `#${c.runId} step ${c.step} ${c.weights} ${samplerLabel(c)} n=${c.n}`);
    l.push(
      ...mdTable(
        ['sampling steps', ...cols],
        counts.map((s) => [
          String(s),
          ...m.curves.map((c) => {
            const p = c.points.find((x) => x.sampleSteps === s);
            return p ? `${num(p.value)}${p.std !== null ? ` ± ${num(p.std, 2)}` : ''}` : '';
          }),
        ]),
      ),
    );
  }
  if (study.metrics.length) l.push('', 'Numbers: metrics.csv.');
  if (study.notes.length) l.push('', '## Notes', '', ...study.notes.map((n) => `- ${n}`));
  return l.join('\n') + '\n';
}

/** Writes the report folder; returns the file names (relative to `dir`) and their total size. */
export function writeStudyFiles(dir: string, study: Study): { files: string[]; bytes: number } {
  const files = gapFiles(dir, study);
  const charts = new Map<string, string>();
  for (const m of study.metrics) {
    const f = metricChart(dir, study, m);
    charts.set(m.metric, f);
    files.push(f);
  }
  if (study.metrics.length) {
    writeFileAtomic(join(dir, 'metrics.csv'), metricsCsv(study));
    files.push('metrics.csv');
  }
  writeJsonAtomic(join(dir, 'study.json'), study);
  files.push('study.json');
  writeFileAtomic(join(dir, 'report.md'), markdown(study, new Set(files), charts));
  files.push('report.md');
  return { files, bytes: files.reduce((a, f) => a + statSync(join(dir, f)).size, 0) };
}
