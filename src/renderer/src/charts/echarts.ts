/** The parts of ECharts the app uses, registered once (tree-shaken build, canvas renderer). */
import { use } from 'echarts/core';
import { LineChart, HeatmapChart } from 'echarts/charts';
import { GridComponent, TooltipComponent, LegendComponent, DataZoomComponent, VisualMapComponent, TitleComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

use([LineChart, HeatmapChart, GridComponent, TooltipComponent, LegendComponent, DataZoomComponent, VisualMapComponent, TitleComponent, CanvasRenderer]);

/** A neutral palette that separates up to ~20 overlaid runs. */
export const PALETTE = [
  '#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#475569', '#ea580c',
  '#4f46e5', '#0d9488', '#b91c1c', '#a16207', '#9333ea', '#0284c7', '#be185d', '#15803d', '#334155', '#c2410c',
];

export const AXIS_STYLE = {
  axisLine: { lineStyle: { color: '#9ca3af' } },
  axisLabel: { color: '#4b5563', fontSize: 11 },
  splitLine: { lineStyle: { color: '#eef0f3' } },
  nameTextStyle: { color: '#6b7280', fontSize: 11 },
};
