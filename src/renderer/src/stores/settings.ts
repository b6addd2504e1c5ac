/** App settings (issue 12): the Inception weights' path, and whether the server finds the file and its hash. */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { SettingsView } from '../../../shared/evaluation';
import { api } from '../api';
import { toApiError } from '../api/errors';

export const useSettingsStore = defineStore('settings', () => {
  const view = shallowRef<SettingsView | null>(null);
  const error = ref<unknown>(null);
  const saving = ref(false);
  /** Metrics are computed in the labelled pixel space unless the weights are found and right. */
  const pixel = computed(() => !view.value?.weights.ok);

  async function load(): Promise<void> {
    try {
      view.value = await api().invoke('settings.get', {});
      error.value = null;
    } catch (e) {
      error.value = toApiError(e, 'settings.get');
    }
  }

  /** Stores the path (null clears it); the answer says whether the file is there and right. */
  async function saveWeights(path: string | null): Promise<boolean> {
    saving.value = true;
    try {
      view.value = await api().invoke('settings.set', { inceptionWeights: path?.trim() || null });
      error.value = null;
      return true;
    } catch (e) {
      error.value = toApiError(e, 'settings.set');
      return false;
    } finally {
      saving.value = false;
    }
  }

  /** A native file picker (desktop app); null where there is none (web mode: type the path). */
  async function pick(): Promise<string | null> {
    try {
      return (await api().invoke('dialog.pick', { kind: 'file', title: 'The Inception weights (.pth)' })).path;
    } catch {
      return null;
    }
  }

  return { view, error, saving, pixel, load, saveWeights, pick };
});
