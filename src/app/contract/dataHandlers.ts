/** Contract handlers for the app itself, the dataset library, files (uploads, reads), jobs and native pickers. */
import { fileStamp, slug } from '../../shared/naming';
import { BUILTIN_DATASETS } from '../../engine/data/builtin';
import { importIntoLibrary } from '../datasetLibrary';
import { appVersion } from '../appVersion';
import type { Services } from '../services';
import { decodeBase64Strict, type UploadOwner } from '../uploads';
import { ApiFailure, failAs, notFound, type Handlers } from './dispatch';

type DataHandlers = Pick<
  Handlers,
  | 'app.info'
  | 'app.setConcurrency'
  | 'datasets.list'
  | 'datasets.import'
  | 'datasets.delete'
  | 'files.uploadBegin'
  | 'files.uploadChunk'
  | 'files.uploadEnd'
  | 'jobs.cancel'
  | 'dialog.pick'
  | 'files.folderBegin'
  | 'files.folderChunk'
  | 'files.folderEnd'
>;

/** Platform pieces only Electron has (native dialogs); web mode passes none. */
export interface NativeUi {
  pick(kind: 'file' | 'folder', title?: string): Promise<string | null>;
}

export function dataHandlers(s: Services, uploads: UploadOwner, native?: NativeUi): DataHandlers {
  const info = () => ({
    version: appVersion(),
    mode: s.mode,
    dataDir: s.store.layout.root,
    concurrency: s.runs.concurrency,
    builtinDatasets: BUILTIN_DATASETS.map((b) => ({ id: b.id, description: b.description, size: b.size })),
  });
  return {
    'app.info': info,
    'app.setConcurrency': ({ concurrency }) => {
      s.runs.setConcurrency(concurrency);
      return info();
    },
    'datasets.list': () => s.store.datasets.list(),
    'datasets.import': (req) => ({
      jobId: s.jobs.start('import', (signal, onProgress) =>
        importIntoLibrary(s.store, s.spawn, req, { signal, onProgress }),
      ),
    }),
    'datasets.delete': ({ id }) => {
      const used = s.store.runs.list({ datasetId: id, limit: 1 });
      if (used.length)
        throw new ApiFailure('conflict', `dataset #${id} is used by run #${used[0]!.id}; delete its runs first`);
      s.store.datasets.delete(id);
      return { ok: true as const };
    },
    'files.uploadBegin': ({ fileName, bytes }) => uploads.begin(fileName, bytes),
    'files.uploadChunk': ({ uploadId, offset, base64 }) =>
      failAs('invalid', () => {
        const data = decodeBase64Strict(base64, `files.uploadChunk base64 (upload ${uploadId}, offset ${offset})`);
        return uploads.chunk(uploadId, offset, data);
      }),
    'files.uploadEnd': ({ uploadId, abort }) => {
      if (abort) {
        uploads.abort(uploadId);
        return { path: null };
      }
      return failAs('invalid', () => uploads.end(uploadId, (name) => `${fileStamp()}-${slug(name, 'file', 80)}`));
    },
    'jobs.cancel': ({ jobId }) => {
      if (!s.jobs.cancel(jobId)) throw notFound(`no running job ${jobId}`);
      return { ok: true as const };
    },
    'dialog.pick': async ({ kind, title }) => {
      if (!native)
        throw new ApiFailure(
          'invalid',
          'file pickers exist only in the desktop app; type the path, or upload the file',
        );
      return { path: await native.pick(kind, title) };
    },
    // issue 15: folder uploads.
    'files.folderBegin': ({ name, files, bytes }) => failAs('invalid', () => uploads.folderBegin(name, files, bytes)),
    'files.folderChunk': ({ folderId, relPath, offset, base64, final }) =>
      failAs('invalid', () => {
        const data = decodeBase64Strict(base64, `files.folderChunk base64 (${relPath}, offset ${offset})`);
        return uploads.folderChunk(folderId, relPath, offset, data, final);
      }),
    'files.folderEnd': ({ folderId, abort }) => {
      if (abort) {
        uploads.folderAbort(folderId);
        return { path: null };
      }
      return failAs('invalid', () =>
        uploads.folderEnd(folderId, (name) => `${fileStamp()}-${slug(name, 'folder', 80)}`),
      );
    },
  };
}
