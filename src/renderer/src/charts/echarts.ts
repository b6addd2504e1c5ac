/**
 * The parts of ECharts the app uses, registered once (tree-shaken build, canvas renderer), and the
 * app's chart theme: every chart is created with it (composables/useEChart.ts).
 */
import { registerTheme, use } from 'echarts/core';
import { LineChart, HeatmapChart } from 'echarts/charts';
import {
  GridComponent,
  TooltipComponent,
  LegendComponent,
  DataZoomComponent,
  VisualMapComponent,
  TitleComponent,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { PALETTE } from './palette';

use([
  LineChart,
  HeatmapChart,
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
