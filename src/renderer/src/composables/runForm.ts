/**
 * The New-run form's state and behaviour: text per field, presets, clone, debounced server-side
 * validation (the runs store's validate) with per-field messages, and the estimate.
 */
import { computed, reactive, ref, watch } from 'vue';
import { MODEL_PRESETS, RUN_PRESETS, resolveRunConfig, type ModelPresetName } from '../../../shared/config';
import type { Estimate } from '../../../shared/contract';
import type { DatasetRecord } from '../../../shared/records';
import { toApiError } from '../api/errors';
import { ALL_FIELDS, fromText, toText } from '../runFields';
import { useRunsStore } from '../stores/runs';

export const DEFAULT_PRESET = 'quick-cpu';

export function useRunForm(opts: { debounceMs?: number } = {}) {
  const debounceMs = opts.debounceMs ?? 300;
  const runs = useRunsStore();
  const text = reactive<Record<string, string>>({});
  const tags = ref('');
  const notes = ref('');
  const runPreset = ref<string>('');
  const clonedFrom = ref<number | null>(null);
  const serverErrors = ref<{ field: string; message: string }[]>([]);
  const estimate = ref<Estimate | null>(null);
  const resolved = ref<Record<string, unknown> | null>(null);
  const validating = ref(false);
  const validateError = ref<unknown>(null);
  const datasetNote = ref<string | null>(null);
  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;

  function fill(cfg: Record<string, unknown>): void {
    for (const def of ALL_FIELDS) text[def.key] = toText(cfg[def.key]);
  }

  /** Local parse: the config to send and the fields that are not even the right type. */
  const parsed = computed(() => {
    const config: Record<string, unknown> = {};
    const errors: Record<string, string> = {};
    for (const def of ALL_FIELDS) {
      const r = fromText(def, text[def.key] ?? '');
      if ('error' in r) errors[def.key] = r.error;
      else config[def.key] = r.value;
    }
    return { config, errors };
  });

  /** Field → message, local type errors first, then the server's. */
  const fieldErrors = computed(() => {
    const out: Record<string, string> = { ...parsed.value.errors };
    for (const e of serverErrors.value) {
      const key = e.field.split('.')[0] ?? e.field;
      if (!out[key]) out[key] = e.message;
    }
    return out;
  });
  /** Server errors that name no field of the form. */
  const otherErrors = computed(() =>
    serverErrors.value.filter((e) => !ALL_FIELDS.some((d) => d.key === (e.field.split('.')[0] ?? ''))),
  );
  const valid = computed(
    () => Object.keys(fieldErrors.value).length === 0 && serverErrors.value.length === 0 && !validateError.value,
  );

  async function validateNow(): Promise<void> {
    const my = ++seq;
    validating.value = true;
    try {
      const r = await runs.validate(parsed.value.config);
      if (my !== seq) return;
      serverErrors.value = r.errors;
      estimate.value = r.estimate;
      resolved.value = r.config;
      validateError.value = null;
    } catch (e) {
      if (my !== seq) return;
      validateError.value = toApiError(e, 'runs.validate');
    } finally {
      if (my === seq) validating.value = false;
    }
  }

  function scheduleValidate(): void {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void validateNow();
    }, debounceMs);
  }
  watch(() => JSON.stringify(parsed.value.config), scheduleValidate);

  /** Sets one field's text as typed (the model preset field also fills the model's sizes). */
  function setField(key: string, value: string): void {
    if (key === 'preset') applyModelPreset(value);
    else text[key] = value;
  }

  function dismissValidateError(): void {
    validateError.value = null;
  }

  function applyRunPreset(name: string): void {
    const p = RUN_PRESETS[name];
    if (!p) return;
    runPreset.value = name;
    const keep = { name: text.name ?? '', seed: text.seed ?? '0', dataset: text.dataset ?? '' };
    fill(resolveRunConfig({ ...p }) as unknown as Record<string, unknown>);
    text.name = keep.name;
    text.seed = keep.seed || '0';
    if (p.dataset === undefined && keep.dataset) text.dataset = keep.dataset;
    datasetNote.value = null;
  }

  function applyModelPreset(name: string): void {
    const m = MODEL_PRESETS[name as ModelPresetName];
    if (!m) return;
    text.preset = name;
    for (const [k, v] of Object.entries(m)) text[k] = toText(v);
  }

  /** Picks a dataset; a library dataset also sets image size and channels to match it. */
  function setDataset(ref: string, lib?: DatasetRecord | null): void {
    text.dataset = ref;
    datasetNote.value = null;
    if (lib) {
      const changed: string[] = [];
      if (text.imageSize !== String(lib.height)) changed.push(`image size ${lib.height}`);
      if (text.channels !== String(lib.channels)) changed.push(`channels ${lib.channels}`);
      text.imageSize = String(lib.height);
      text.channels = String(lib.channels);
      if (changed.length) datasetNote.value = `Set ${changed.join(' and ')} to match ${lib.name}.`;
    }
  }

  function reset(): void {
    clonedFrom.value = null;
    tags.value = '';
    notes.value = '';
    text.name = '';
    applyRunPreset(DEFAULT_PRESET);
  }

  /** Pre-fills from an existing run (Clone run). */
  async function cloneFrom(runId: number): Promise<void> {
    const d = await runs.getDetail(runId, true);
    const cfg = { ...d.run.config };
    fill(resolveRunConfigSafe(cfg));
    text.name = `${d.run.name} (clone)`;
    tags.value = d.run.tags.join(', ');
    notes.value = d.run.notes;
    runPreset.value = '';
    clonedFrom.value = runId;
    datasetNote.value = null;
  }

  function tagList(): string[] {
    const list = tags.value
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    return [...new Set(list)];
  }

  function request(start: boolean) {
    return { config: parsed.value.config, tags: tagList(), notes: notes.value, start };
  }

  return {
    text,
    tags,
    notes,
    runPreset,
    clonedFrom,
    parsed,
    fieldErrors,
    otherErrors,
    valid,
    estimate,
    resolved,
    validating,
    validateError,
    datasetNote,
    fill,
    validateNow,
    setField,
    dismissValidateError,
    applyRunPreset,
    applyModelPreset,
    setDataset,
    reset,
    cloneFrom,
    tagList,
    request,
  };
}

export type RunForm = ReturnType<typeof useRunForm>;

function resolveRunConfigSafe(cfg: Record<string, unknown>): Record<string, unknown> {
  try {
    return resolveRunConfig(cfg) as unknown as Record<string, unknown>;
  } catch {
    return cfg;
  }
}
