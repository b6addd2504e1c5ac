// @vitest-environment happy-dom
/**
 * Web mode's folder upload (issue 15): every file of the picked folder, under its path inside the folder, in
 * chunks (an empty file as one final chunk), with byte progress over the whole folder; a failure discards the
 * server's part folder.
 */
import { describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { setApi } from '../../../src/renderer/src/api';
import { useDatasetsStore, type FolderFile } from '../../../src/renderer/src/stores/datasets';
import { FakeApi } from './fakeApi';

const file = (path: string, text: string): FolderFile =>
  Object.assign(new Blob([text]), { name: path.split('/').at(-1)!, webkitRelativePath: path });

describe('datasets store folder upload (web mode)', () => {
  it('sends each file under its path in the folder, in chunks, then completes the folder', async () => {
    setActivePinia(createPinia());
    const got: [string, number, string, boolean][] = [];
    let failOn = '';
    let total = 0;
    const api = new FakeApi()
      .handle('files.folderBegin', ({ name, files, bytes }) => ({ folderId: `${name}-${files}-${bytes}` }))
      .handle('files.folderChunk', ({ relPath, offset, base64, final }) => {
        if (relPath === failOn) throw Object.assign(new Error('not a relative path'), { code: 'invalid' });
        got.push([relPath, offset, atob(base64), final]);
        total += atob(base64).length;
        return { received: total };
      })
      .handle('files.folderEnd', ({ abort }) => ({ path: abort ? null : '/d/uploads/x-pets' }));
    setApi(api);
    const ds = useDatasetsStore();
    const files = [file('pets/cat/1.png', 'abcdefghij'), file('pets/dog/2.png', 'xyz'), file('pets/empty.png', '')];
    const h = ds.uploadFolder(files, 4);
    expect(await h.result).toBe('/d/uploads/x-pets');
    expect(api.callsTo('files.folderBegin')).toEqual([{ name: 'pets', files: 3, bytes: 13 }]);
    expect(got).toEqual([
      ['cat/1.png', 0, 'abcd', false],
      ['cat/1.png', 4, 'efgh', false],
      ['cat/1.png', 8, 'ij', true],
      ['dog/2.png', 0, 'xyz', true],
      ['empty.png', 0, '', true],
    ]);
    expect([h.job.done, h.job.total, h.job.state]).toEqual([13, 13, 'done']);
    expect(api.callsTo('files.folderEnd')).toEqual([{ folderId: 'pets-3-13', abort: false }]);

    failOn = 'dog/2.png';
    total = 0;
    const bad = ds.uploadFolder(files, 4);
    await expect(bad.result).rejects.toThrow(/not a relative path/);
    expect(bad.job.state).toBe('failed');
    expect(api.callsTo('files.folderEnd').at(-1)).toEqual({ folderId: 'pets-3-13', abort: true });
  });
});
