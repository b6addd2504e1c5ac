/**
 * The rows of a long list that are in view (plus a few above and below), for a scroll box whose rows all have
 * one height: the runs list (VirtualList.vue) and the experiment table (issue 15) render only these, so 10,000
 * runs cost the DOM of a screenful. `start`/`end` move together in steps of `chunk` rows, so a frame of a steady
 * scroll either only scrolls or adds a chunk of rows (in software rendering a frame that adds rows also lays out
 * and paints them; the table's rows are contained, so that costs those rows only).
 */
import { computed, onBeforeUnmount, onMounted, ref, type Ref } from 'vue';

export interface VirtualWindowOptions {
  /** How many rows the list has. */
  count: () => number;
  /** Pixels per row. */
  rowHeight: () => number;
  /** Rows rendered beyond each edge of the view. */
  overscan?: number;
  /** Pixels above the first row inside the scroll box (a sticky table header). */
  offset?: () => number;
  /** The rendered range starts and ends on multiples of this many rows (1: row by row). */
  chunk?: number;
}

export interface VirtualWindow {
  /** The scroll box (bind with ref="..."). */
  el: Ref<HTMLElement | null>;
  /** First row rendered (inclusive) and last (exclusive). */
  start: Ref<number>;
  end: Ref<number>;
  /** Rows wholly or partly in view, without the overscan: [first, last] inclusive (last < first when empty). */
  inView: Ref<{ first: number; last: number }>;
  /** How many rows one view holds. */
  perView: Ref<number>;
  onScroll(): void;
  /** Scrolls so that row i is in view: at the top ('start'), or by the least scroll ('nearest'). */
  scrollToIndex(i: number, align?: 'start' | 'nearest'): void;
}

export function useVirtualWindow(o: VirtualWindowOptions): VirtualWindow {
  const overscan = o.overscan ?? 6;
  const offset = o.offset ?? (() => 0);
  const chunk = Math.max(1, o.chunk ?? 1);
  const el = ref<HTMLElement | null>(null);
  const scrollTop = ref(0);
  const viewport = ref(600);
  let ro: ResizeObserver | null = null;

  /** The scrolled pixels of the rows part (the header stays on top, sticky). */
  const rowsTop = computed(() => Math.max(0, scrollTop.value));
  const rowsHeight = computed(() => Math.max(0, viewport.value - offset()));
  const inView = computed(() => {
    const h = o.rowHeight();
    const first = Math.min(o.count(), Math.floor(rowsTop.value / h));
    const last = Math.min(o.count() - 1, Math.ceil((rowsTop.value + rowsHeight.value) / h) - 1);
    return { first, last };
  });
  const perView = computed(() => Math.max(1, Math.floor(rowsHeight.value / o.rowHeight())));
  const start = computed(() => Math.max(0, Math.floor((inView.value.first - overscan) / chunk) * chunk));
  /**
   * A window of one size from `start`, enough for the view and the overscan however the chunk falls, so the two
   * ends move together (one DOM change per chunk scrolled, not one for each end).
   */
  const span = computed(() => Math.ceil((perView.value + 1 + 2 * overscan + chunk - 1) / chunk) * chunk);
  const end = computed(() => Math.min(o.count(), start.value + span.value));

  function onScroll(): void {
    if (el.value) scrollTop.value = el.value.scrollTop;
  }

  function scrollToIndex(i: number, align: 'start' | 'nearest' = 'nearest'): void {
    const box = el.value;
    if (!box) return;
    const h = o.rowHeight();
    const top = i * h;
    let next = box.scrollTop;
    if (align === 'start' || top < box.scrollTop) next = top;
    else if (top + h > box.scrollTop + rowsHeight.value) next = top + h - rowsHeight.value;
    if (next !== box.scrollTop) {
      box.scrollTop = next;
      // Read back: the box clamps a scroll past its end. The scroll event follows; this renders at once.
      scrollTop.value = box.scrollTop;
    }
  }

  onMounted(() => {
    if (!el.value) return;
    viewport.value = el.value.clientHeight || 600;
    if (typeof ResizeObserver !== 'undefined') {
      ro = new ResizeObserver(() => {
        if (el.value) viewport.value = el.value.clientHeight || viewport.value;
      });
      ro.observe(el.value);
    }
  });
  onBeforeUnmount(() => ro?.disconnect());

  return { el, start, end, inView, perView, onScroll, scrollToIndex };
}
