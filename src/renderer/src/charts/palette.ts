/** A neutral palette that separates up to ~20 overlaid runs (no ECharts import: stores use it too). */
export const PALETTE = [
  '#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#475569', '#ea580c',
  '#4f46e5', '#0d9488', '#b91c1c', '#a16207', '#9333ea', '#0284c7', '#be185d', '#15803d', '#334155', '#c2410c',
];
