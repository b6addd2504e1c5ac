/**
 * Runs the app has seen (kept current by run.updated events), the selected run's detail, and the run actions.
 * Issue 15: the shell starts with one page of the newest runs (RECENT_RUNS), not the whole store. When that page
 * is every run (`complete`), search, filters and counts work on it here, as they always did; otherwise counts come
 * from runs.overview, and views page and search through the store (query, search, ensure, loadChildren), each
 * record they get joining this cache.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef, triggerRef } from 'vue';
import type { InvokeRequest, InvokeResponse, RunDetail } from '../../../shared/contract';
import type { RunFilter, RunKind, RunRecord, RunStatus } from '../../../shared/records';
import type { RunOverview } from '../../../shared/runColumns';
import { nestRuns } from '../samplerOptions';
import { api, onReconnect } from '../api';
import { toApiError } from '../api/errors';

export function matchesText(r: RunRecord, text: string): boolean {
  const q = text.trim().toLowerCase();
  if (!q) return true;
  const hay = [r.name, r.notes, r.dataset, r.preset, `#${r.id}`, `k${r.k}`, `sa-${r.k}`, ...r.tags]
    .join('\u0000')
    .toLowerCase();
  return q.split(/\s+/).every((w) => hay.includes(w));
}

/** Runs the shell loads at start, newest first: the run selectors' choices before a search. */
export const RECENT_RUNS = 200;
/** Other cached runs a refresh reads again (the newest of them); older ones are dropped, and read when needed. */
const KEEP_CACHED = 1000;
/** Most ids in one `id in` condition (the contract's limit). */
const IDS_PER_QUERY = 200;

export const useRunsStore = defineStore('runs', () => {
  /** id → record; a shallowRef triggered by hand so thousands of runs stay cheap. */
  const byId = shallowRef(new Map<number, RunRecord>());
  const loaded = ref(false);
  const loading = ref(false);
  const loadError = ref<unknown>(null);

  const text = ref('');
  const statuses = ref<RunStatus[]>([]);
  const tags = ref<string[]>([]);

  const all = computed(() => [...byId.value.values()].sort((a, b) => b.id - a.id));
  const allTags = computed(() =>
    !complete.value && overview.value
      ? overview.value.tags.map((t) => t.tag).sort()
      : [...new Set(all.value.flatMap((r) => r.tags))].sort(),
  );
  /** Issue 13: training runs, covariance runs, or both (empty); covariance runs follow their parent. */
  const kinds = ref<RunKind[]>([]);
  const filtered = computed(() =>
    nestRuns(
      all.value.filter(
        (r) =>
          (statuses.value.length === 0 || statuses.value.includes(r.status)) &&
          (tags.value.length === 0 || tags.value.every((t) => r.tags.includes(t))) &&
          (kinds.value.length === 0 || kinds.value.includes(r.kind)) &&
          matchesText(r, text.value),
      ),
    ),
  );

  /** Every run of the store is in byId: filters and counts work here; else the store is asked. */
  const complete = ref(false);
  /** Counts by status and kind and the tags in use, from the store (when not complete). */
  const overview = shallowRef<RunOverview | null>(null);

  /**
   * The newest runs (and, when there are more than a page, the counts from the store, and the other runs this
   * cache holds read again, so none of them is stale or deleted).
   */
  async function refresh(): Promise<void> {
    loading.value = true;
    try {
      const res = await api().invoke('runs.list', { limit: RECENT_RUNS, withEvals: true });
      const recent = new Map(res.runs.map((r) => [r.id, r]));
      if (res.total <= res.runs.length) {
        byId.value = recent;
        overview.value = null;
        complete.value = true;
      } else {
        const others = [...byId.value.keys()]
          .filter((id) => !recent.has(id))
          .sort((a, b) => b - a)
          .slice(0, KEEP_CACHED);
        const [again] = await Promise.all([readIds(others), loadOverview()]);
        byId.value = new Map([...recent, ...again.map((r) => [r.id, r] as const)]);
        complete.value = false;
      }
      for (const id of [...pending.value.keys()]) if (byId.value.get(id)?.status !== 'running') setPending(id, null);
      loaded.value = true;
      loadError.value = null;
    } catch (e) {
      loadError.value = toApiError(e, 'runs.list');
    } finally {
      loading.value = false;
    }
  }

  async function loadOverview(): Promise<void> {
    try {
      overview.value = await api().invoke('runs.overview', {});
    } catch (e) {
      loadError.value = toApiError(e, 'runs.overview');
    }
  }

  /** The counts change with a run's status (or a new or deleted run): read again, at most once a second. */
  let overviewTimer: ReturnType<typeof setTimeout> | null = null;
  function overviewChanged(): void {
    if (complete.value || overviewTimer) return;
    overviewTimer = setTimeout(() => {
      overviewTimer = null;
      void loadOverview();
    }, 1000);
  }

  /** Runs by id from the store (IDS_PER_QUERY at a time); ids that are gone are left out. */
  async function readIds(ids: number[]): Promise<RunRecord[]> {
    const chunks: number[][] = [];
    for (let i = 0; i < ids.length; i += IDS_PER_QUERY) chunks.push(ids.slice(i, i + IDS_PER_QUERY));
    const lists = await Promise.all(
      chunks.map((c) =>
        api().invoke('runs.list', { where: [{ key: 'id', op: 'in', value: c }], limit: c.length, withEvals: true }),
      ),
    );
    return lists.flatMap((l) => l.runs);
  }

  /** A page of runs matching a filter, from the store; each joins the cache. */
  async function query(f: RunFilter): Promise<{ runs: RunRecord[]; total: number }> {
    const res = await api().invoke('runs.list', { withEvals: true, ...f });
    for (const r of res.runs) upsert(r);
    return res;
  }

  /**
   * Runs whose name, notes, tags, dataset or preset contain `text` (newest first), or the run `#<id>`, from the
   * store, and how many match.
   */
  function search(text: string, opts: { kind?: RunKind; limit?: number } = {}) {
    const t = text.trim();
    const id = /^#(\d+)$/.exec(t);
    const what: RunFilter = id ? { where: [{ key: 'id', op: 'eq', value: Number(id[1]) }] } : t ? { text: t } : {};
    return query({ ...what, ...(opts.kind ? { kind: opts.kind } : {}), limit: opts.limit ?? 50 });
  }

  /** Makes sure these runs are in the cache (a link to an old run, a selection, overlaid runs). */
  async function ensure(ids: number[]): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !byId.value.has(id));
    if (missing.length === 0) return;
    for (const r of await readIds(missing)) upsert(r);
  }

  /** A run's covariance runs (issue 13), which views list as its heads; a failure shows as the list's error. */
  async function loadChildren(parentId: number): Promise<void> {
    if (complete.value) return;
    try {
      await query({ parentId, limit: 1000 });
    } catch (e) {
      loadError.value = toApiError(e, 'runs.list');
    }
  }

  /** Runs by status (from the cache when it holds every run, else from the store's counts). */
  const statusCounts = computed<Partial<Record<RunStatus, number>>>(() => {
    if (!complete.value && overview.value) return overview.value.byStatus as Partial<Record<RunStatus, number>>;
    const c: Partial<Record<RunStatus, number>> = {};
    for (const r of byId.value.values()) c[r.status] = (c[r.status] ?? 0) + 1;
    return c;
  });
  /** How many runs the store holds. */
  const total = computed(() => (!complete.value && overview.value ? overview.value.total : byId.value.size));

  /**
   * Pause/stop requests the engine has not acted on yet: the request returns at once, but the run
   * keeps 'running' until the engine reaches a safe point and checkpoints.
   */
  const pending = shallowRef(new Map<number, 'pausing' | 'stopping'>());
  function setPending(id: number, p: 'pausing' | 'stopping' | null): void {
    if (p) pending.value.set(id, p);
    else if (!pending.value.delete(id)) return;
    triggerRef(pending);
  }

  function upsert(r: RunRecord): void {
    const before = byId.value.get(r.id);
    if (before?.status !== r.status) overviewChanged();
    // run.updated carries no evaluation results: keep the ones the list brought (issue 12).
    const had = before?.latestEvals;
    byId.value.set(r.id, r.latestEvals || !had ? r : { ...r, latestEvals: had });
    triggerRef(byId);
    if (r.status !== 'running' && pending.value.has(r.id)) setPending(r.id, null);
    if (detail.value?.run.id === r.id) detail.value = { ...detail.value, run: r };
  }

  let subscribed = false;
  function subscribe(): void {
    if (subscribed) return;
    subscribed = true;
    api().on('run.updated', upsert);
    api().on('run.message', ({ runId, msg }) => {
      // New checkpoints and samples change the detail the gallery and compare views show.
      const shown = detail.value?.run.id === runId;
      if (shown && (msg.type === 'checkpoint' || msg.type === 'samples')) void loadDetail(runId);
    });
    onReconnect(() => {
      void refresh();
      if (detail.value) void loadDetail(detail.value.run.id);
    });
  }

  const detail = shallowRef<RunDetail | null>(null);
  const detailError = ref<unknown>(null);
  const details = new Map<number, RunDetail>();

  async function loadDetail(id: number): Promise<RunDetail | null> {
    try {
      const d = await api().invoke('runs.get', { id });
      details.set(id, d);
      upsert(d.run);
      detail.value = d;
      detailError.value = null;
      return d;
    } catch (e) {
      detailError.value = toApiError(e, 'runs.get');
      return null;
    }
  }

  /** Detail of any run (for compare/export pickers) without changing the selected one. */
  async function getDetail(id: number, fresh = false): Promise<RunDetail> {
    const hit = details.get(id);
    if (hit && !fresh) return hit;
    const d = await api().invoke('runs.get', { id });
    details.set(id, d);
    return d;
  }

  async function act(action: 'pause' | 'resume' | 'stop' | 'start', id: number, steps?: number): Promise<RunRecord> {
    const channel = `runs.${action}` as const;
    if (action === 'pause' || action === 'stop') setPending(id, action === 'pause' ? 'pausing' : 'stopping');
    try {
      const rec =
        action === 'resume'
          ? await api().invoke('runs.resume', steps ? { id, steps } : { id })
          : await api().invoke(channel as 'runs.pause' | 'runs.stop' | 'runs.start', { id });
      upsert(rec);
      return rec;
    } catch (e) {
      if (action === 'pause' || action === 'stop') setPending(id, null);
      throw e;
    }
  }

  /** The server's check of a New-run form's config: per-field errors, the resolved config, the estimate. */
  function validate(config: Record<string, unknown>): Promise<InvokeResponse<'runs.validate'>> {
    return api().invoke('runs.validate', { config });
  }

  async function create(req: InvokeRequest<'runs.create'>): Promise<RunRecord> {
    const rec = await api().invoke('runs.create', req);
    upsert(rec);
    return rec;
  }

  async function update(req: InvokeRequest<'runs.update'>): Promise<RunRecord> {
    const rec = await api().invoke('runs.update', req);
    upsert(rec);
    return rec;
  }

  async function remove(id: number, deleteFiles: boolean): Promise<void> {
    await api().invoke('runs.delete', { id, deleteFiles });
    byId.value.delete(id);
    // The store deletes a run's covariance runs with it (issue 13).
    for (const r of [...byId.value.values()]) if (r.parentId === id) byId.value.delete(r.id);
    triggerRef(byId);
    overviewChanged();
    details.delete(id);
    if (detail.value?.run.id === id) detail.value = null;
  }

  function get(id: number): RunRecord | undefined {
    return byId.value.get(id);
  }

  return {
    byId,
    all,
    allTags,
    filtered,
    loaded,
    loading,
    loadError,
    complete,
    overview,
    statusCounts,
    total,
    loadOverview,
    query,
    search,
    ensure,
    loadChildren,
    text,
    statuses,
    tags,
    kinds,
    detail,
    detailError,
    pending,
    refresh,
    subscribe,
    upsert,
    loadDetail,
    getDetail,
    act,
    validate,
    create,
    update,
    remove,
    get,
  };
});
