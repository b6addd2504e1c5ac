/**
 * Issue 13: training a covariance head (NPR-DPM / SN-DPM) on a completed run, as a child run: the dialog's
 * state (the run's checkpoints, kind, steps, weights, batch, lr) and its creation through runs.createCov.
 */
import { defineStore } from 'pinia';
import { computed, reactive, ref, shallowRef } from 'vue';
import { CovConfigSchema, type CovHeadKindName } from '../../../shared/covConfig';
import type { CheckpointRecord, RunRecord } from '../../../shared/records';
import { api } from '../api';
import { toApiError } from '../api/errors';
import { useRunsStore } from './runs';

/** The official recipe's defaults (CovConfig: 500,000 steps at batch 128, Adam lr 1e-4). */
const OFFICIAL = CovConfigSchema.parse({ kind: 'npr', base: { runDir: '-', checkpoint: '-', step: 0 } });

export const useCovRunsStore = defineStore('covRuns', () => {
  const runs = useRunsStore();
  const parent = ref<RunRecord | null>(null);
  const checkpoints = shallowRef<CheckpointRecord[]>([]);
  const form = reactive({
    checkpointId: null as number | null,
    kind: 'npr' as CovHeadKindName,
    steps: OFFICIAL.steps,
    ema: true,
    batch: OFFICIAL.batch,
    lr: OFFICIAL.lr,
  });
  const error = ref<unknown>(null);
  const busy = ref(false);
  const hasEma = computed(() => (parent.value?.config.emaDecay ?? 0) > 0);
  const invalid = computed(() => {
    if (!form.checkpointId) return 'Choose a checkpoint.';
    if (!Number.isInteger(form.steps) || form.steps < 1) return 'Steps must be a whole number ≥ 1.';
    if (!Number.isInteger(form.batch) || form.batch < 1) return 'Batch must be a whole number ≥ 1.';
    if (!(form.lr > 0)) return 'The learning rate must be > 0.';
    return null;
  });

  /** Opens the dialog for a training run: its checkpoints, newest first, and EMA weights when it keeps them. */
  async function open(run: RunRecord): Promise<void> {
    parent.value = run;
    error.value = null;
    checkpoints.value = [];
    form.checkpointId = null;
    form.ema = run.config.emaDecay > 0;
    try {
      const d = await runs.getDetail(run.id, true);
      if (parent.value?.id !== run.id) return;
      checkpoints.value = [...d.checkpoints].sort((a, b) => b.step - a.step);
      form.checkpointId = checkpoints.value[0]?.id ?? null;
    } catch (e) {
      error.value = toApiError(e, 'runs.get');
    }
  }

  function close(): void {
    parent.value = null;
  }

  /** Creates and queues the covariance run; null (with `error` set) when the server refused it. */
  async function create(): Promise<RunRecord | null> {
    if (invalid.value || !form.checkpointId) return null;
    busy.value = true;
    error.value = null;
    try {
      const { checkpointId, kind, steps, ema, batch, lr } = form;
      const rec = await api().invoke('runs.createCov', { checkpointId, kind, steps, ema, batch, lr, start: true });
      runs.upsert(rec);
      parent.value = null;
      return rec;
    } catch (e) {
      error.value = toApiError(e, 'runs.createCov');
      return null;
    } finally {
      busy.value = false;
    }
  }

  return { parent, checkpoints, form, error, busy, hasEma, invalid, open, close, create };
});
