/**
 * The experiment table (issue 15): one page of runs at a time from the store, in the order of a column and
 * under per-column filters, optionally grouped by a column with mean ± std of the result columns shown. The
 * store does the work (runs.list with sort/where/limit/offset, runs.groups), so 10,000 runs cost one page.
 * The shown columns are remembered (localStorage); the selection can be overlaid in the monitor.
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

  const rows = shallowRef<RunRecord[]>([]);
  const total = ref(0);
  const groups = shallowRef<RunGroup[]>([]);
  const loading = ref(false);
  const error = ref<unknown>(null);
  const selected = ref<number[]>([]);
  let seq = 0;

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

  async function load(): Promise<void> {
    const my = ++seq;
    loading.value = true;
    try {
      const filter = { where: where.value };
      const [list, grouped] = await Promise.all([
        api().invoke('runs.list', {
          ...filter,
          ...(sort.value ? { sort: sort.value } : {}),
          limit: pageSize.value,
          offset: page.value * pageSize.value,
          withEvals: true,
        }),
        groupBy.value
          ? api().invoke('runs.groups', { filter, by: groupBy.value, columns: statColumns.value })
          : Promise.resolve([]),
      ]);
      if (my !== seq) return;
      rows.value = list.runs;
      total.value = list.total;
      groups.value = grouped;
      error.value = null;
      // A narrower filter can leave the page past the end: go to the last page there is.
      if (page.value > 0 && page.value >= pages.value) {
        page.value = pages.value - 1;
        void load();
      }
    } catch (e) {
      if (my === seq) error.value = toApiError(e, 'runs.list');
    } finally {
      if (my === seq) loading.value = false;
    }
  }

  /** Header click: ascending first, the same header again flips the order; another column starts over. */
  function sortBy(key: RunSortKey): void {
    const cur = sort.value;
    sort.value = cur?.key === key ? { key, dir: cur.dir === 'asc' ? 'desc' : 'asc' } : { key, dir: 'asc' };
    page.value = 0;
    void load();
  }

  function setFilter(key: RunSortKey, text: string): void {
    const before = JSON.stringify(where.value);
    filterText.value = { ...filterText.value, [key]: text };
    if (JSON.stringify(where.value) === before) return;
    page.value = 0;
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
    if (JSON.stringify(where.value) !== before) page.value = 0;
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

  function goTo(p: number): void {
    const next = Math.min(Math.max(0, p), pages.value - 1);
    if (next === page.value) return;
    page.value = next;
    void load();
  }

  function setPageSize(n: number): void {
    pageSize.value = n;
    page.value = 0;
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
