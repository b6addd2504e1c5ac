/**
 * The Runs view's list in a store too large to hold (issue 15: the shell loads only the newest runs): the runs its
 * search and filters (the runs store's text, statuses, tags, kinds) match, asked of the store a page at a time as
 * the list scrolls to its end. The rows are the runs store's records, so run.updated events keep them current.
 * In a store the shell holds whole, the view filters the runs store's list instead (useRunsStore().filtered).
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { RunFilter, RunRecord } from '../../../shared/records';
import { nestRuns } from '../samplerOptions';
import { toApiError } from '../api/errors';
import { useRunsStore } from './runs';

export const LIST_PAGE = 100;

export const useRunListStore = defineStore('runList', () => {
  const runs = useRunsStore();
  const ids = shallowRef<number[]>([]);
  const total = ref(0);
  const loading = ref(false);
  const error = ref<unknown>(null);
  let seq = 0;

  const filter = computed<RunFilter>(() => ({
    ...(runs.text.trim() ? { text: runs.text.trim() } : {}),
    ...(runs.statuses.length ? { status: [...runs.statuses] } : {}),
    ...(runs.tags.length ? { tags: [...runs.tags] } : {}),
    // Both kinds (or none chosen) is every run.
    ...(runs.kinds.length === 1 ? { kind: runs.kinds[0] } : {}),
  }));

  /** The runs loaded so far, each covariance run right after its parent when both are loaded. */
  const items = computed<RunRecord[]>(() =>
    nestRuns(ids.value.flatMap((id) => (runs.byId.get(id) ? [runs.byId.get(id)!] : []))),
  );
  const done = computed(() => ids.value.length >= total.value);

  /** The first page of the current search and filters. */
  async function load(): Promise<void> {
    const my = ++seq;
    loading.value = true;
    try {
      const res = await runs.query({ ...filter.value, limit: LIST_PAGE, offset: 0 });
      if (my !== seq) return;
      ids.value = res.runs.map((r) => r.id);
      total.value = res.total;
      error.value = null;
    } catch (e) {
      if (my === seq) error.value = toApiError(e, 'runs.list');
    } finally {
      if (my === seq) loading.value = false;
    }
  }

  /** The next page (the list reached its end); one at a time. */
  async function more(): Promise<void> {
    if (loading.value || done.value) return;
    const my = seq;
    loading.value = true;
    try {
      const res = await runs.query({ ...filter.value, limit: LIST_PAGE, offset: ids.value.length });
      if (my !== seq) return;
      const have = new Set(ids.value);
      ids.value = [...ids.value, ...res.runs.map((r) => r.id).filter((id) => !have.has(id))];
      total.value = res.total;
    } catch (e) {
      if (my === seq) error.value = toApiError(e, 'runs.list');
    } finally {
      if (my === seq) loading.value = false;
    }
  }

  /** Typing in the search box asks the store once the typing pauses. */
  let timer: ReturnType<typeof setTimeout> | null = null;
  function schedule(): void {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void load();
    }, 250);
  }
  watch(() => JSON.stringify(filter.value), schedule);

  return { ids, items, total, loading, error, done, load, more };
});
