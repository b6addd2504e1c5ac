/**
 * The parts of ECharts the app uses, registered once (tree-shaken build, canvas renderer), and the
 * app's chart theme: every chart is created with it (composables/useEChart.ts).
 */
import { registerTheme, use } from 'echarts/core';
import { LineChart, HeatmapChart, ParallelChart } from 'echarts/charts';
import {
  GridComponent,
  TooltipComponent,
  LegendComponent,
  DataZoomComponent,
  VisualMapComponent,
  TitleComponent,
  ParallelComponent,
  ToolboxComponent,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { PALETTE } from './palette';

use([
  LineChart,
  HeatmapChart,
  // issue 15: parallel coordinates of runs, and drag-to-zoom (the toolbox's zoom select, its icons hidden).
  ParallelChart,
  ParallelComponent,
  ToolboxComponent,
  GridComponent,
  TooltipComponent,
  LegendComponent,
  DataZoomComponent,
  VisualMapComponent,
  TitleComponent,
  CanvasRenderer,
]);

export { PALETTE };

/** Axis colours and sizes; the theme applies them to every axis type (the chart benchmark passes them itself). */
export const AXIS_STYLE = {
  axisLine: { lineStyle: { color: '#9ca3af' } },
  axisLabel: { color: '#4b5563', fontSize: 11 },
  splitLine: { lineStyle: { color: '#eef0f3' } },
  nameTextStyle: { color: '#6b7280', fontSize: 11 },
};

export const THEME = 'sadpm';
registerTheme(THEME, {
  color: PALETTE,
  backgroundColor: 'transparent',
  categoryAxis: AXIS_STYLE,
  valueAxis: AXIS_STYLE,
  logAxis: AXIS_STYLE,
});

/** The dark theme's axes (issue 15): light text and grid lines on the dark panels. */
export const AXIS_STYLE_DARK = {
  axisLine: { lineStyle: { color: '#5b6372' } },
  axisLabel: { color: '#b4bcc8', fontSize: 11 },
  splitLine: { lineStyle: { color: '#252a33' } },
  nameTextStyle: { color: '#9aa3b2', fontSize: 11 },
};
export const THEME_DARK = 'sadpm-dark';
registerTheme(THEME_DARK, {
  color: PALETTE,
  backgroundColor: 'transparent',
  textStyle: { color: '#e4e7ec' },
  categoryAxis: AXIS_STYLE_DARK,
  valueAxis: AXIS_STYLE_DARK,
  logAxis: AXIS_STYLE_DARK,
  timeAxis: AXIS_STYLE_DARK,
  parallelAxis: AXIS_STYLE_DARK,
  legend: { textStyle: { color: '#e4e7ec' } },
});

/** The ECharts theme of the page's theme, and the background a chart's PNG gets. */
export function chartTheme(dark: boolean): { name: string; background: string } {
  return dark ? { name: THEME_DARK, background: '#171a21' } : { name: THEME, background: '#ffffff' };
}
