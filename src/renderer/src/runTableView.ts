/**
 * The experiment table's body as the user moves through it (issue 15): the height of a row (the table renders
 * only the rows in view, so every row has one height), what a key does on a focused row, and when a selection
 * can open in Compare.
 */

/** Pixels per table row; the table measures the rendered row and uses that where the two differ. */
export const ROW_HEIGHT = 28;

/** Pixels of the selection checkbox column. */
export const CHECK_WIDTH = 32;

/** Wider text columns; every other column is as wide as its filter box (88 px and the cell's padding). */
const WIDE: Record<string, number> = { name: 200, dataset: 160, tags: 160, created: 136 };

/**
 * A column's width in pixels. The table lays out by these alone, not by the rows in view: columns keep their width
 * while rows come and go as the table scrolls, and a frame that adds rows lays out only those rows. Each width has
 * a class (xw-<px>, experiments.css).
 */
export function columnWidth(key: string): number {
  return WIDE[key] ?? 104;
}

/** The class that gives a column its width. */
export function columnClass(key: string): string {
  return `xw-${columnWidth(key)}`;
}

/** The monitor and Compare tell up to 20 runs apart (the palette's colours). */
export const MAX_COMPARED = 20;

export type RowKeyAction = { kind: 'focus'; index: number } | { kind: 'open' } | { kind: 'select' };

/**
 * A key pressed on row `i` of `total`, `perView` rows to a screen: arrows move one row, Page Up/Down a screen,
 * Home/End to the first/last run, Enter opens the run, Space selects it. null: the key is not the table's.
 */
export function rowKeyAction(key: string, i: number, perView: number, total: number): RowKeyAction | null {
  const last = Math.max(0, total - 1);
  const to = (index: number): RowKeyAction => ({ kind: 'focus', index: Math.min(last, Math.max(0, index)) });
  switch (key) {
    case 'ArrowDown':
      return to(i + 1);
    case 'ArrowUp':
      return to(i - 1);
    case 'PageDown':
      return to(i + Math.max(1, perView - 1));
    case 'PageUp':
      return to(i - Math.max(1, perView - 1));
    case 'Home':
      return to(0);
    case 'End':
      return to(last);
    case 'Enter':
      return { kind: 'open' };
    case ' ':
      return { kind: 'select' };
  }
  return null;
}

/** Why a selection of n runs cannot open in Compare, or null when it can. */
export function compareSelection(n: number): string | null {
  if (n < 2) return 'Select at least two runs to compare them';
  if (n > MAX_COMPARED) return `Compare shows at most ${MAX_COMPARED} runs (${n} are selected)`;
  return null;
}
