/**
 * The experiment table (issue 15): the runs the per-column filters match, in the order of a column, optionally
 * grouped by a column with mean ± std of the result columns shown. The store does the work (runs.list with
 * sort/where/limit/offset, runs.groups): the table scrolls through all the matching runs but holds only the pages
 * (of `pageSize` runs) near the rows in view, fetched as they come into view, so 10,000 runs cost a few pages.
 * `page` is the page of the first row in view; goTo asks the table to scroll to a page. The shown columns are
 * remembered (localStorage); the selection can be overlaid in the monitor or opened in Compare.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { RunRecord } from '../../../shared/records';
import type { RunCondition, RunGroup, RunSort, RunSortKey } from '../../../shared/runColumns';
import { api } from '../api';
import { toApiError } from '../api/errors';
import { DEFAULT_COLUMNS, TABLE_COLUMNS, isResultColumn, parseFilter } from '../runTable';

export const COLUMNS_KEY = 'sadpm.runTable.columns';
export const PAGE_SIZES = [50, 100, 250] as const;
/** Pages kept besides the ones in view: scrolling back is free, memory stays bounded at any table size. */
const MAX_PAGES = 24;
function storedColumns(): RunSortKey[] {
  try {
    const v = JSON.parse(localStorage.getItem(COLUMNS_KEY) ?? 'null') as unknown;
    if (Array.isArray(v)) {
      // In the table's order, whatever order was stored; keys of columns that no longer exist are dropped.
      const keys = TABLE_COLUMNS.filter((k) => v.includes(k));
      if (keys.length) return keys;
    }
  } catch {
    // Unreadable or unavailable storage: the default columns.
  }
  return [...DEFAULT_COLUMNS];
}

export const useRunTableStore = defineStore('runTable', () => {
  const columns = ref<RunSortKey[]>(storedColumns());
  const sort = ref<RunSort | null>(null);
  /** The text typed under each header. */
  const filterText = ref<Partial<Record<RunSortKey, string>>>({});
  const groupBy = ref<RunSortKey | null>(null);
  const page = ref(0);
  const pageSize = ref<number>(100);

  /** Loaded pages of the current query by page number (a shallowRef replaced as pages arrive and go). */
  const pagesLoaded = shallowRef(new Map<number, RunRecord[]>());
  const total = ref(0);
  const groups = shallowRef<RunGroup[]>([]);
  const loading = ref(false);
  const error = ref<unknown>(null);
  const selected = ref<number[]>([]);
  /** Rows in view, as the table reports them: the pages to have. */
  const view = ref({ first: 0, last: 0 });
  /** A scroll the table is asked to make (goTo, a new order or filter), numbered so the same row again is seen. */
  const jump = ref<{ index: number; seq: number }>({ index: 0, seq: 0 });
  /** The query's number: answers to an older one are dropped. */
  let seq = 0;
  const inFlight = new Set<number>();

  const parsed = computed(() =>
    Object.entries(filterText.value).map(([k, t]) => ({
      key: k as RunSortKey,
      ...parseFilter(k as RunSortKey, t ?? ''),
    })),
  );
  /** Filters that do not parse, by column: shown under the header, left out of the query. */
  const filterErrors = computed(
    () =>
      Object.fromEntries(parsed.value.filter((p) => p.error).map((p) => [p.key, p.error!])) as Record<string, string>,
  );
  const where = computed<RunCondition[]>(() => parsed.value.flatMap((p) => (p.cond ? [p.cond] : [])));
  const pages = computed(() => Math.max(1, Math.ceil(total.value / pageSize.value)));
  /** The numeric result columns shown: what a group aggregates. */
  const statColumns = computed(() => columns.value.filter(isResultColumn));
  /** The runs of the page the view is on (those loaded). */
  const rows = computed(() => pagesLoaded.value.get(page.value) ?? []);

  /** The run at a row of the table, or undefined while its page is loading. */
  function rowAt(i: number): RunRecord | undefined {
    return pagesLoaded.value.get(Math.floor(i / pageSize.value))?.[i % pageSize.value];
  }

  function fetchPage(p: number) {
    return api().invoke('runs.list', {
      where: where.value,
      ...(sort.value ? { sort: sort.value } : {}),
      limit: pageSize.value,
      offset: p * pageSize.value,
      withEvals: true,
    });
  }

  /** The pages of a page range. */
  function pagesOf(first: number, last: number): number[] {
    const out: number[] = [];
    for (let p = Math.floor(first / pageSize.value); p <= Math.floor(last / pageSize.value); p++) out.push(p);
    return out;
  }

  /** Keeps the loaded pages within MAX_PAGES, dropping those farthest from the view. */
  function withPage(map: Map<number, RunRecord[]>, p: number, runs: RunRecord[]): Map<number, RunRecord[]> {
    const next = new Map(map).set(p, runs);
    if (next.size > MAX_PAGES) {
      const here = page.value;
      const far = [...next.keys()].sort((a, b) => Math.abs(b - here) - Math.abs(a - here));
      for (const k of far.slice(0, next.size - MAX_PAGES)) next.delete(k);
    }
    return next;
  }

  /**
   * Pages of a new query that arrive while its first answer is awaited: the table still shows the old rows (so a
   * sort swaps them in one frame, without a flash of empty rows), and these join the new ones when they come.
   */
  let staged: Map<number, RunRecord[]> | null = null;

  /**
   * Runs the query again from the start (a new order, filter or page size, or Refresh): the pages in view and the
   * groups.
   */
  async function load(): Promise<void> {
    const my = ++seq;
    inFlight.clear();
    staged = new Map();
    loading.value = true;
    const need = new Set([page.value, ...pagesOf(view.value.first, view.value.last)]);
    try {
      const filter = { where: where.value };
      const [lists, grouped] = await Promise.all([
        Promise.all([...need].map((p) => fetchPage(p).then((l) => [p, l] as const))),
        groupBy.value
          ? api().invoke('runs.groups', { filter, by: groupBy.value, columns: statColumns.value })
          : Promise.resolve([]),
      ]);
      if (my !== seq) return;
      let map = staged;
      for (const [p, l] of lists) map = withPage(map, p, l.runs);
      staged = null;
      pagesLoaded.value = map;
      total.value = lists[0]?.[1].total ?? 0;
      groups.value = grouped;
      error.value = null;
      // A narrower filter can leave the view past the end: go to the last page there is.
      if (page.value > 0 && page.value >= pages.value) goTo(pages.value - 1);
      else void more();
    } catch (e) {
      if (my !== seq) return;
      error.value = toApiError(e, 'runs.list');
      pagesLoaded.value = staged ?? new Map();
      staged = null;
    } finally {
      if (my === seq) loading.value = false;
    }
  }

  /** Fetches the pages the view has come to (scrolling) that are neither loaded nor on their way. */
  async function more(): Promise<void> {
    const my = seq;
    const have = staged ?? pagesLoaded.value;
    // Half a page beyond the view each way: the next page is there before a steady scroll reaches it.
    const ahead = Math.floor(pageSize.value / 2);
    const first = Math.max(0, view.value.first - ahead);
    const last = total.value > 0 ? Math.min(view.value.last + ahead, total.value - 1) : view.value.first;
    const want = pagesOf(first, last).filter((p) => !have.has(p) && !inFlight.has(p));
    await Promise.all(
      want.map(async (p) => {
        inFlight.add(p);
        try {
          const l = await fetchPage(p);
          if (my !== seq) return;
          if (staged) staged.set(p, l.runs);
          else {
            pagesLoaded.value = withPage(pagesLoaded.value, p, l.runs);
            total.value = l.total;
          }
        } catch (e) {
          if (my === seq) error.value = toApiError(e, 'runs.list');
        } finally {
          if (my === seq) inFlight.delete(p);
        }
      }),
    );
  }

  /** The table's rows in view changed (a scroll, a resize): the page it is on, and the pages it needs. */
  function setView(first: number, last: number): void {
    view.value = { first, last: Math.max(first, last) };
    page.value = Math.min(Math.floor(first / pageSize.value), pages.value - 1);
    void more();
  }

  /** Back to the first row (a new order or filter). */
  function toTop(): void {
    page.value = 0;
    view.value = { first: 0, last: Math.max(0, view.value.last - view.value.first) };
    jump.value = { index: 0, seq: jump.value.seq + 1 };
  }

  /** Header click: ascending first, the same header again flips the order; another column starts over. */
  function sortBy(key: RunSortKey): void {
    const cur = sort.value;
    sort.value = cur?.key === key ? { key, dir: cur.dir === 'asc' ? 'desc' : 'asc' } : { key, dir: 'asc' };
    toTop();
    void load();
  }

  function setFilter(key: RunSortKey, text: string): void {
    const before = JSON.stringify(where.value);
    filterText.value = { ...filterText.value, [key]: text };
    if (JSON.stringify(where.value) === before) return;
    toTop();
    void load();
  }

  function setColumns(keys: RunSortKey[]): void {
    columns.value = TABLE_COLUMNS.filter((k) => keys.includes(k));
    try {
      localStorage.setItem(COLUMNS_KEY, JSON.stringify(columns.value));
    } catch {
      // Storage refused (private window): the choice lasts for this page.
    }
    // A hidden column's filter would narrow the table with nothing on screen saying so: it goes with the column.
    const before = JSON.stringify(where.value);
    filterText.value = Object.fromEntries(
      Object.entries(filterText.value).filter(([k]) => columns.value.includes(k as RunSortKey)),
    );
    if (JSON.stringify(where.value) !== before) toTop();
    if (groupBy.value || JSON.stringify(where.value) !== before) void load();
  }

  function toggleColumn(key: RunSortKey): void {
    const on = columns.value.includes(key);
    if (on && columns.value.length === 1) return;
    setColumns(on ? columns.value.filter((k) => k !== key) : [...columns.value, key]);
  }

  function setGroupBy(key: RunSortKey | null): void {
    groupBy.value = key;
    void load();
  }

  /** Scrolls the table to a page's first row (and loads that page). */
  function goTo(p: number): void {
    const next = Math.min(Math.max(0, p), pages.value - 1);
    if (next === page.value && view.value.first === next * pageSize.value) return;
    page.value = next;
    const rowsInView = view.value.last - view.value.first;
    view.value = { first: next * pageSize.value, last: next * pageSize.value + rowsInView };
    jump.value = { index: next * pageSize.value, seq: jump.value.seq + 1 };
    void more();
  }

  /** Runs per query: the pages are fetched again at the new size, from the top. */
  function setPageSize(n: number): void {
    pageSize.value = n;
    toTop();
    void load();
  }

  /** Up to `limit` runs the filters match, in the table's order (parallel coordinates), and how many match. */
  function matching(limit: number): Promise<{ runs: RunRecord[]; total: number }> {
    return api().invoke('runs.list', { where: where.value, ...(sort.value ? { sort: sort.value } : {}), limit });
  }

  /** The selected runs as they are now (they may be on other pages), in the order they were selected. */
  async function selectedRuns(): Promise<RunRecord[]> {
    const ids = selected.value;
    if (ids.length === 0) return [];
    const res = await api().invoke('runs.list', { where: [{ key: 'id', op: 'in', value: ids }], limit: ids.length });
    const byId = new Map(res.runs.map((r) => [r.id, r]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  function toggleSelected(id: number): void {
    selected.value = selected.value.includes(id) ? selected.value.filter((x) => x !== id) : [...selected.value, id];
  }

  return {
    columns,
    sort,
    filterText,
    filterErrors,
    where,
    groupBy,
    page,
    pageSize,
    pages,
    rows,
    rowAt,
    view,
    jump,
    setView,
    total,
    groups,
    loading,
    error,
    selected,
    statColumns,
    load,
    sortBy,
    setFilter,
    setColumns,
    toggleColumn,
    setGroupBy,
    goTo,
    setPageSize,
    toggleSelected,
    selectedRuns,
    matching,
  };
});
