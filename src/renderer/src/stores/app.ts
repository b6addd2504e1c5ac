/** App-wide facts (version, mode, builtin datasets, concurrency), the notices in the corner, the menu's requests. */
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { z } from 'zod';
import type { AppInfoSchema } from '../../../shared/contract';
import { api } from '../api';
import { describeError } from '../api/errors';

export type AppInfo = z.infer<typeof AppInfoSchema>;

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  title: string;
  message: string;
  hint: string;
}

export const useAppStore = defineStore('app', () => {
  const info = ref<AppInfo | null>(null);
  const infoError = ref<string | null>(null);
  const notices = ref<Notice[]>([]);
  let nextId = 1;

  async function loadInfo(): Promise<void> {
    try {
      info.value = await api().invoke('app.info', {});
      infoError.value = null;
    } catch (e) {
      infoError.value = describeError(e).message;
    }
  }

  /** How many runs train at once; the answer is the new app info. A failure shows as a notice. */
  async function setConcurrency(concurrency: number): Promise<void> {
    try {
      info.value = await api().invoke('app.setConcurrency', { concurrency });
    } catch (e) {
      error('Could not change the number of concurrent runs', e);
    }
  }

  /** The native menu (Electron) asks for a view by name; returns the unsubscriber. */
  function onNavigate(fn: (view: string) => void): () => void {
    return api().on('app.navigate', ({ view }) => fn(view));
  }

  /** Shows an error as "title: what happened — what to do". */
  function error(title: string, e: unknown): void {
    const d = describeError(e);
    notices.value.push({ id: nextId++, kind: 'error', title, message: d.message, hint: d.hint });
    if (notices.value.length > 5) notices.value.shift();
  }

  function notify(title: string, message = ''): void {
    const n = { id: nextId++, kind: 'info' as const, title, message, hint: '' };
    notices.value.push(n);
    setTimeout(() => dismiss(n.id), 6000);
  }

  function dismiss(id: number): void {
    notices.value = notices.value.filter((n) => n.id !== id);
  }

  return { info, infoError, notices, loadInfo, setConcurrency, onNavigate, error, notify, dismiss };
});
