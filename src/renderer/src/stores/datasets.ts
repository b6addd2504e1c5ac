/** The dataset library: list, selection, import (a cancellable job), upload, native pickers, delete. */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import { UPLOAD_CHUNK_BYTES, type ImportOutcome, type InvokeRequest } from '../../../shared/contract';
import type { DatasetRecord } from '../../../shared/records';
import { api, onReconnect } from '../api';
import { toApiError } from '../api/errors';
import { useJobsStore, type Job } from './jobs';

export type ImportRequest = InvokeRequest<'datasets.import'>;

export type { ImportOutcome };

/** A file of a folder picked with <input webkitdirectory>: its path starts with the folder's name. */
export type FolderFile = Blob & { name: string; webkitRelativePath: string };

export const useDatasetsStore = defineStore('datasets', () => {
  const list = shallowRef<DatasetRecord[]>([]);
  const loading = ref(false);
  const loadError = ref<unknown>(null);
  const lastImport = ref<{ job: Job; outcome: ImportOutcome | null } | null>(null);
  const selectedId = ref<number | null>(null);
  /** The dataset shown in detail: the one picked, else the newest. */
  const selected = computed(() => list.value.find((d) => d.id === selectedId.value) ?? list.value[0] ?? null);

  async function refresh(): Promise<void> {
    loading.value = true;
    try {
      list.value = await api().invoke('datasets.list', {});
      loadError.value = null;
    } catch (e) {
      loadError.value = toApiError(e, 'datasets.list');
    } finally {
      loading.value = false;
    }
  }
  onReconnect(() => void refresh());

  /** Starts an import; the returned job shows progress and can be cancelled. */
  function startImport(req: ImportRequest): { job: Job; result: Promise<ImportOutcome> } {
    const jobs = useJobsStore();
    const label = `Import ${req.input}`;
    const h = jobs.run('import', label, () => api().invoke('datasets.import', req));
    const entry = { job: h.job, outcome: null as ImportOutcome | null };
    lastImport.value = entry;
    const result = h.result.then(async (r) => {
      if (lastImport.value?.job.key === h.job.key) lastImport.value = { job: h.job, outcome: r };
      await refresh();
      selectedId.value = r.dataset.id;
      return r;
    });
    result.catch(() => undefined);
    return { job: h.job, result };
  }

  /**
   * Web mode: sends a picked file to the server's uploads folder in chunks (progress in bytes) and
   * returns its path there. A failed chunk discards the partial upload on the server.
   */
  function upload(
    file: Blob & { name: string },
    chunkBytes = UPLOAD_CHUNK_BYTES,
  ): {
    job: Job;
    result: Promise<string>;
  } {
    const jobs = useJobsStore();
    return jobs.track('upload', `Upload ${file.name}`, async (progress) => {
      const { uploadId } = await api().invoke('files.uploadBegin', { fileName: file.name, bytes: file.size });
      try {
        progress(0, file.size);
        for (let offset = 0; offset < file.size; offset += chunkBytes) {
          const base64 = await fileToBase64(file.slice(offset, Math.min(offset + chunkBytes, file.size)));
          const { received } = await api().invoke('files.uploadChunk', { uploadId, offset, base64 });
          progress(received, file.size);
        }
        const { path } = await api().invoke('files.uploadEnd', { uploadId, abort: false });
        if (!path) throw new Error(`the server kept no file for ${file.name}`);
        return path;
      } catch (err) {
        await api()
          .invoke('files.uploadEnd', { uploadId, abort: true })
          .catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * Web mode (issue 15): a folder picked in the browser (each file with its path under the folder, class subfolders
   * kept) goes to the server file by file, in chunks, with progress in bytes; the server shows the folder only once
   * all of it arrived. Returns its path there. A failure discards what was sent.
   */
  function uploadFolder(files: FolderFile[], chunkBytes = UPLOAD_CHUNK_BYTES): { job: Job; result: Promise<string> } {
    const jobs = useJobsStore();
    const root = files[0]?.webkitRelativePath.split('/')[0] || 'folder';
    const bytes = files.reduce((n, f) => n + f.size, 0);
    return jobs.track('upload', `Upload ${root}/ (${files.length} files)`, async (progress) => {
      if (files.length === 0) throw new Error('the folder picked has no files');
      const { folderId } = await api().invoke('files.folderBegin', { name: root, files: files.length, bytes });
      try {
        progress(0, bytes);
        for (const f of files) {
          // The path under the picked folder: the server's folder is that folder.
          const relPath = f.webkitRelativePath.split('/').slice(1).join('/') || f.name;
          let offset = 0;
          do {
            const end = Math.min(offset + chunkBytes, f.size);
            const base64 = await fileToBase64(f.slice(offset, end));
            const final = end >= f.size;
            const { received } = await api().invoke('files.folderChunk', { folderId, relPath, offset, base64, final });
            progress(received, bytes);
            offset = end;
          } while (offset < f.size);
        }
        const { path } = await api().invoke('files.folderEnd', { folderId, abort: false });
        if (!path) throw new Error(`the server kept no folder for ${root}`);
        return path;
      } catch (err) {
        await api()
          .invoke('files.folderEnd', { folderId, abort: true })
          .catch(() => undefined);
        throw err;
      }
    });
  }

  /** Electron: a native file or folder picker; the chosen path, or null when cancelled. */
  async function pick(kind: 'file' | 'folder'): Promise<string | null> {
    const title = kind === 'folder' ? 'Choose an image folder' : 'Choose a dataset file';
    return (await api().invoke('dialog.pick', { kind, title })).path;
  }

  async function remove(id: number): Promise<void> {
    await api().invoke('datasets.delete', { id });
    list.value = list.value.filter((d) => d.id !== id);
  }

  return {
    list,
    loading,
    loadError,
    lastImport,
    selectedId,
    selected,
    refresh,
    startImport,
    upload,
    uploadFolder,
    pick,
    remove,
  };
});

export function fileToBase64(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onerror = () => reject(r.error ?? new Error('the file could not be read'));
    r.onload = () => {
      const s = String(r.result);
      resolve(s.slice(s.indexOf(',') + 1));
    };
    r.readAsDataURL(file);
  });
}
