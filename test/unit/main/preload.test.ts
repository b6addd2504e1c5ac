import { describe, expect, it, vi } from 'vitest';
import { INVOKE } from '../../../src/shared/contract';

const exposed = vi.hoisted(() => ({
  api: undefined as Record<string, unknown> | undefined,
  invoked: [] as [string, unknown][],
}));
vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (_k: string, v: Record<string, unknown>) => (exposed.api = v) },
  ipcRenderer: {
    invoke: async (ch: string, req: unknown) => {
      exposed.invoked.push([ch, req]);
      return ch === 'runs.get'
        ? { ok: false, error: { code: 'not_found', message: 'no run #9' } }
        : { ok: true, res: { echo: req } };
    },
    on: vi.fn(),
    removeListener: vi.fn(),
  },
}));
vi.stubGlobal('__APP_VERSION__', '9.9.9');

describe('preload', () => {
  it('exposes one function per channel, events, and never ipcRenderer', async () => {
    await import('../../../src/preload/index');
    const api = exposed.api!;
    expect(Object.isFrozen(api)).toBe(true);
    for (const ch of Object.keys(INVOKE)) expect(typeof api[ch]).toBe('function');
    expect(Object.keys(api).sort()).toEqual([...Object.keys(INVOKE), 'fileUrl', 'on', 'version'].sort());
    expect(JSON.stringify(Object.keys(api))).not.toMatch(/ipcRenderer|send|invoke/);
    await expect((api['runs.list'] as (r: unknown) => Promise<unknown>)({ text: 'a' })).resolves.toEqual({
      echo: { text: 'a' },
    });
    await expect((api['runs.get'] as (r: unknown) => Promise<unknown>)({ id: 9 })).rejects.toThrow('no run #9');
    expect(() => (api.on as (e: string, f: () => void) => void)('nope', () => {})).toThrow(/unknown event/);
    const fileUrl = api.fileUrl as (p: string) => string;
    expect(fileUrl('/d/runs/1 a/s+1.png')).toBe('sadpm-file://data/?path=%2Fd%2Fruns%2F1+a%2Fs%2B1.png');
    expect(() => fileUrl('')).toThrow(/absolute path/);
  });
});
