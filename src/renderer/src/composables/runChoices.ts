/**
 * The runs a picker offers (run selectors, the monitor's overlay picker, the study's SA runs; issue 15). When the
 * shell holds every run, all of them, narrowed by what is typed as the Runs view's search does. In a larger store:
 * the newest runs the app has seen, and what is typed is a search in the store (the newest 50 matches, or `#<id>`).
 * The runs picked stay among the choices, read from the store when the app has not seen them.
 */
import { computed, ref, shallowRef, watch } from 'vue';
import type { RunRecord } from '../../../shared/records';
import { matchesText, useRunsStore } from '../stores/runs';
import { toApiError } from '../api/errors';

/** Most runs a picker lists before a search narrows them. */
export const MAX_CHOICES = 300;

export interface RunChoicesOptions {
  /** Training runs only (pickers of a model to sample). */
  trainOnly?: () => boolean;
  /** Runs left out (the run shown, the baseline). */
  exclude?: () => number[];
  /** The runs picked: always among the choices. */
  picked?: () => number[];
  /** Most runs listed before a search narrows them (MAX_CHOICES). */
  max?: number;
}

export function useRunChoices(o: RunChoicesOptions = {}) {
  const runs = useRunsStore();
  const query = ref('');
  /** Ids the store's search found for `query` (a large store), null while none was asked for. */
  const found = shallowRef<number[] | null>(null);
  /** How many runs the store's search matched (more than `found` holds when many do). */
  const matched = ref(0);
  const searching = ref(false);
  const max = o.max ?? MAX_CHOICES;
  const error = ref<unknown>(null);

  const wanted = (r: RunRecord) => (!o.trainOnly?.() || r.kind === 'train') && !(o.exclude?.() ?? []).includes(r.id);
  const listed = computed(() => {
    const q = query.value.trim();
    if (q && !runs.complete) return (found.value ?? []).flatMap((id) => runs.byId.get(id) ?? []).filter(wanted);
    const all = runs.all.filter((r) => wanted(r) && matchesText(r, q));
    return all.slice(0, max);
  });
  /** A search box is worth showing: the store holds more runs than the shell loaded, or than are listed. */
  const searchable = computed(() => (runs.loaded && !runs.complete) || runs.all.filter(wanted).length > max);
  /** What the picker says below its runs when it does not list all that could be picked, else null. */
  const more = computed(() => {
    if (query.value.trim()) {
      const rest = runs.complete || !found.value ? 0 : matched.value - found.value.length;
      return rest > 0 ? `… ${rest} more match: type more to narrow` : null;
    }
    return searchable.value ? '… older runs: search to find them (or #id)' : null;
  });
  const choices = computed(() => {
    const list = listed.value;
    const ids = new Set(list.map((r) => r.id));
    const extra = (o.picked?.() ?? []).flatMap((id) => (ids.has(id) ? [] : (runs.byId.get(id) ?? [])));
    return [...extra, ...list];
  });

  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  watch(query, (q) => {
    if (timer) clearTimeout(timer);
    if (runs.complete || !q.trim()) {
      found.value = null;
      return;
    }
    timer = setTimeout(() => void search(q), 250);
  });
  async function search(q: string): Promise<void> {
    const my = ++seq;
    searching.value = true;
    try {
      const res = await runs.search(q, o.trainOnly?.() ? { kind: 'train' } : {});
      if (my !== seq) return;
      found.value = res.runs.map((r) => r.id);
      matched.value = res.total;
      error.value = null;
    } catch (e) {
      if (my === seq) error.value = toApiError(e, 'runs.list');
    } finally {
      if (my === seq) searching.value = false;
    }
  }

  // A picked run the app has not seen (a link to an old run): read it, so the picker can name it.
  watch(
    () => (o.picked?.() ?? []).join(),
    () => void runs.ensure(o.picked?.() ?? []).catch(() => undefined),
    { immediate: true },
  );

  return { query, choices, more, searchable, searching, error };
}
