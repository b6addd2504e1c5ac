/**
 * Chart tooltips built as DOM nodes with classes from the bundled stylesheet. ECharts' default
 * tooltip markup carries inline style="" attributes, which the strict CSP (style-src 'self') blocks:
 * console errors on every hover and names run into values. Colours are set through the CSSOM
 * (element.style), which the CSP allows.
 */

export interface TipRow {
  name: string;
  value: string;
  color: string;
}

/** The tooltip as one line of text: "step 40 · loss 0.09866 · other 0.1". */
export function tipText(head: string, rows: TipRow[]): string {
  return [head, ...rows.map((r) => `${r.name} ${r.value}`)].join(' · ');
}

/** The tooltip's content: a head line, then one "swatch name value" row per series. */
export function tipElement(head: string, rows: TipRow[]): HTMLElement {
  const root = document.createElement('div');
  root.className = 'chart-tip__body';
  root.setAttribute('aria-label', tipText(head, rows));
  const h = document.createElement('div');
  h.className = 'chart-tip__head';
  h.textContent = head;
  root.appendChild(h);
  for (const r of rows) {
    const row = document.createElement('div');
    row.className = 'chart-tip__row';
    const sw = document.createElement('span');
    sw.className = 'chart-tip__swatch';
    sw.style.backgroundColor = r.color;
    const name = document.createElement('span');
    name.className = 'chart-tip__name';
    name.textContent = r.name;
    const value = document.createElement('span');
    value.className = 'chart-tip__value';
    value.textContent = r.value;
    // Text separators keep the row readable when copied or read as plain text.
    row.append(sw, name, document.createTextNode(' '), value);
    root.appendChild(row);
  }
  return root;
}

/** What ECharts passes an axis-trigger formatter (the fields used here). */
interface AxisParam {
  seriesName?: string;
  color?: unknown;
  value?: unknown;
  data?: unknown;
  axisValue?: unknown;
}

function yOf(p: AxisParam): unknown {
  const v = Array.isArray(p.value) ? p.value[1] : p.value;
  return v;
}

/**
 * An axis-trigger formatter: "<x label> <x>" then each series' value. Series with no value at that
 * x (a shorter overlaid run) are left out. Each run's value is the one at its own nearest point: where
 * that point's step is not the head's (runs logged at other steps, or a time axis), the row says its step.
 */
export function axisTooltip(xLabel: string, fmtX: (x: number) => string, fmtY: (y: number) => string) {
  return (params: AxisParam | AxisParam[]): HTMLElement => {
    const list = Array.isArray(params) ? params : [params];
    const first = list[0];
    const x = Number(Array.isArray(first?.value) ? first.value[0] : first?.axisValue);
    const rows: TipRow[] = [];
    for (const p of list) {
      const y = yOf(p);
      if (typeof y !== 'number' || !Number.isFinite(y)) continue;
      const v = Array.isArray(p.value) ? p.value : [];
      const step = typeof v[2] === 'number' ? v[2] : xLabel === 'step' ? Number(v[0]) : NaN;
      const own = Number.isFinite(step) && !(xLabel === 'step' && step === x) ? ` (step ${fmtStep(step)})` : '';
      const color = typeof p.color === 'string' ? p.color : '#9ca3af';
      rows.push({ name: p.seriesName ?? '', value: fmtY(y) + own, color });
    }
    return tipElement(`${xLabel} ${Number.isFinite(x) ? fmtX(x) : ''}`.trim(), rows);
  };
}

function fmtStep(s: number): string {
  return s.toLocaleString('en-US');
}

/** Tooltip options shared by the charts: HTML content from the formatter, styled by class. */
export function tooltipBase(): Record<string, unknown> {
  return { confine: true, className: 'chart-tip', textStyle: { fontSize: 11 } };
}
