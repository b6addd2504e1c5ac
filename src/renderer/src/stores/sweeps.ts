/**
 * Sweeps (issue 16): the list with per-status counts, the shown sweep's grid (kept live from run.updated and
 * progress messages: a cell is a run), create and cancel.
 */
import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { InvokeRequest, InvokeResponse } from '../../../shared/contract';
import type { HostMessage } from '../../../shared/engineMessages';
import type { RunRecord } from '../../../shared/records';
import type { SweepCell, SweepDetail } from '../../../shared/sweep';
import { api, onReconnect } from '../api';
import { toApiError } from '../api/errors';

export type SweepSummary = InvokeResponse<'sweeps.list'>[number];

/** Events come in bursts (a whole array job starting): one reload per burst. */
export const RELOAD_COALESCE_MS = 500;

export const useSweepsStore = defineStore('sweeps', () => {
  const list = shallowRef<SweepSummary[]>([]);
  const listLoaded = ref(false);
  const listError = ref<unknown>(null);
  const detail = shallowRef<SweepDetail | null>(null);
  const detailError = ref<unknown>(null);
  const loadingDetail = ref(false);
  const cancelling = ref(false);
  /** The sweep the view shows; replies about another one are dropped. */
  let shownId: number | null = null;

  async function loadList(): Promise<void> {
    try {
      list.value = await api().invoke('sweeps.list', {});
      listLoaded.value = true;
      listError.value = null;
    } catch (e) {
      listError.value = toApiError(e, 'sweeps.list');
    }
  }

  /** Shows a sweep (null: none); a reply for a sweep no longer shown is dropped. */
  async function load(id: number | null): Promise<void> {
    if (id === null) {
      detail.value = null;
      detailError.value = null;
      return;
    }
    if (detail.value?.sweep.id !== id) detail.value = null;
    loadingDetail.value = true;
    try {
      const d = await api().invoke('sweeps.get', { id });
      if (shownId !== id) return;
      detail.value = d;
      detailError.value = null;
    } catch (e) {
      if (shownId === id) detailError.value = toApiError(e, 'sweeps.get');
    } finally {
      loadingDetail.value = false;
    }
  }
  function show(id: number | null): Promise<void> {
    shownId = id;
    return load(id);
  }

  async function create(req: InvokeRequest<'sweeps.create'>): Promise<SweepDetail> {
    const d = await api().invoke('sweeps.create', req);
    shownId = d.sweep.id;
    detail.value = d;
    void loadList();
    return d;
  }

  async function cancel(id: number): Promise<void> {
    cancelling.value = true;
    try {
      const d = await api().invoke('sweeps.cancel', { id });
      if (shownId === id) detail.value = d;
      void loadList();
    } finally {
      cancelling.value = false;
    }
  }

  function patchCell(runId: number, patch: (c: SweepCell) => SweepCell): boolean {
    const d = detail.value;
    if (!d || !d.cells.some((c) => c.runId === runId)) return false;
    detail.value = { ...d, cells: d.cells.map((c) => (c.runId === runId ? patch(c) : c)) };
    return true;
  }

  let timer: ReturnType<typeof setTimeout> | null = null;
  function scheduleReload(): void {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      if (listLoaded.value) void loadList();
      if (shownId !== null) void load(shownId);
    }, RELOAD_COALESCE_MS);
  }

  function onRunUpdated(r: RunRecord): void {
    const shown = patchCell(r.id, (c) => ({
      ...c,
      status: r.status,
      reason: r.failureReason,
      step: r.step,
      totalSteps: r.totalSteps,
      lastLoss: r.lastLoss,
      lastCheckpointStep: r.lastCheckpointStep,
    }));
    // The list's counts, and what only the server knows of a cell (its Slurm state), come with a reload.
    if (shown || listLoaded.value) scheduleReload();
  }

  function onRunMessage(runId: number, msg: HostMessage): void {
    if (msg.type !== 'progress') return;
    patchCell(runId, (c) => ({ ...c, step: msg.step, totalSteps: msg.totalSteps, lastLoss: msg.loss }));
  }

  let subscribed = false;
  function subscribe(): void {
    if (subscribed) return;
    subscribed = true;
    api().on('run.updated', onRunUpdated);
    api().on('run.message', ({ runId, msg }) => onRunMessage(runId, msg));
    onReconnect(() => {
      if (listLoaded.value) void loadList();
      if (shownId !== null) void load(shownId);
    });
  }

  return {
    list,
    listLoaded,
    listError,
    detail,
    detailError,
    loadingDetail,
    cancelling,
    loadList,
    show,
    create,
    cancel,
    subscribe,
  };
});
