/**
 * Runs: the whole list (kept current by run.updated events), client-side search and filters for
 * the virtualised list, the selected run's detail, and the run actions.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef, triggerRef } from 'vue';
import type { InvokeRequest, InvokeResponse, RunDetail } from '../../../shared/contract';
import type { RunKind, RunRecord, RunStatus } from '../../../shared/records';
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
  const allTags = computed(() => [...new Set(all.value.flatMap((r) => r.tags))].sort());
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

  async function refresh(): Promise<void> {
    loading.value = true;
    try {
      const res = await api().invoke('runs.list', { limit: 100_000, withEvals: true });
      byId.value = new Map(res.runs.map((r) => [r.id, r]));
      for (const id of [...pending.value.keys()]) if (byId.value.get(id)?.status !== 'running') setPending(id, null);
      loaded.value = true;
      loadError.value = null;
    } catch (e) {
      loadError.value = toApiError(e, 'runs.list');
    } finally {
      loading.value = false;
    }
  }

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
    // run.updated carries no evaluation results: keep the ones the list brought (issue 12).
    const had = byId.value.get(r.id)?.latestEvals;
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
