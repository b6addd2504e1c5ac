// @vitest-environment happy-dom
/**
 * Chart tooltips are DOM nodes styled by class: the strict CSP blocks the inline style="" markup of
 * ECharts' default tooltip (console errors on every hover, values run into names). The browser-level
 * check (zero CSP violations on hover in Chromium) is in test/e2e-web.
 */
import { describe, expect, it } from 'vitest';
import { lineBaseOption } from '../../../src/renderer/src/charts/lineModel';
import { axisTooltip, tipText } from '../../../src/renderer/src/charts/tooltip';

type Formatter = (p: unknown) => HTMLElement;

function formatterOf(option: Record<string, unknown>): Formatter {
  const tip = option.tooltip as { formatter?: unknown };
  expect(typeof tip.formatter).toBe('function');
  return tip.formatter as Formatter;
}

describe('chart tooltips under a strict CSP', () => {
  it('metric charts: "step 40 · loss 0.09866", names and values apart, DOM content rather than markup', () => {
    const opt = lineBaseOption(
      false,
      (v) => String(v),
      (v) => String(v),
      {},
    );
    const el = formatterOf(opt)([{ seriesName: 'loss', value: [40, 0.09866], color: '#2563eb', axisValue: 40 }]);
    expect(el).toBeInstanceOf(HTMLElement);
    expect(el.getAttribute('aria-label')).toBe('step 40 · loss 0.09866');
    const row = el.querySelector('.chart-tip__row')!;
    expect(row.textContent).toBe('loss 0.09866');
    expect(el.querySelector('.chart-tip__head')!.textContent).toBe('step 40');
    // The colour goes through the CSSOM (allowed by the CSP), never through markup.
    expect((el.querySelector('.chart-tip__swatch') as HTMLElement).style.backgroundColor).not.toBe('');
    // The tooltip box is styled by our stylesheet's class, not by ECharts' inline markup.
    expect((opt.tooltip as { className?: string }).className).toBe('chart-tip');
  });

  it('several series: one row each; a series without a value at that step is left out', () => {
    const f = axisTooltip(
      'step',
      (x) => x.toLocaleString('en-US'),
      (y) => y.toFixed(2),
    );
    const el = f([
      { seriesName: 'sa2', value: [1200, 0.5], color: '#111' },
      { seriesName: 'baseline', value: [1200, 0.75], color: '#222' },
      { seriesName: 'short run', value: [1200, undefined], color: '#333' },
    ]);
    expect(Array.from(el.querySelectorAll('.chart-tip__row')).map((r) => r.textContent)).toEqual([
      'sa2 0.50',
      'baseline 0.75',
    ]);
    expect(el.getAttribute('aria-label')).toBe('step 1,200 · sa2 0.50 · baseline 0.75');
    expect(tipText('t 5', [])).toBe('t 5');
  });
});
