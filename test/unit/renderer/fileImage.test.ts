// @vitest-environment happy-dom
/**
 * Images reach the page as URLs, not as base64 through the contract: web mode signs /files addresses
 * with the page's token (the server checks the same HMAC: test/unit/main/webMode.test.ts), Electron
 * asks the preload for a sadpm-file:// address, and FileImage is an <img> with that src.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { flushPromises, mount } from '@vue/test-utils';
import type { Component } from 'vue';
import { setApi } from '../../../src/renderer/src/api';
import { createElectronApi, createWsApi, type PreloadApi } from '../../../src/renderer/src/api/client';
import type { WsTransport } from '../../../src/renderer/src/api/ws';
import { fileSchemeUrl, fileSigningInput } from '../../../src/shared/fileUrls';
import { FakeApi, rejection } from './fakeApi';
import { loadSfc } from './sfc';

const noTransport = {} as WsTransport;

describe('fileUrl per transport', () => {
  it('web mode: /files?path=&sig= with the HMAC-SHA256 of the path under the token, never the token', async () => {
    const token = 'ab'.repeat(24);
    const path = '/data/runs/1 sa2/samples/step+1 ü.png';
    const url = await createWsApi(noTransport, { token }).fileUrl(path);
    const q = new URLSearchParams(url.slice(url.indexOf('?') + 1));
    expect(url.startsWith('/files?')).toBe(true);
    expect(q.get('path')).toBe(path);
    expect(q.get('sig')).toBe(createHmac('sha256', token).update(fileSigningInput(path)).digest('hex'));
    expect(url).not.toContain(token);
    // Another token signs differently; no token, no address.
    expect(await createWsApi(noTransport, { token: 'cd'.repeat(24) }).fileUrl(path)).not.toBe(url);
    expect((await rejection(createWsApi(noTransport, {}).fileUrl(path))).code).toBe('disconnected');
  });

  it("Electron: the preload's sadpm-file:// address; an old preload without fileUrl is a clear error", async () => {
    const pre = { on: () => () => undefined, fileUrl: fileSchemeUrl } as unknown as PreloadApi;
    expect(await createElectronApi(pre).fileUrl('/d/a.png')).toBe('sadpm-file://data/?path=%2Fd%2Fa.png');
    const old = { on: () => () => undefined } as unknown as PreloadApi;
    const err = await rejection(createElectronApi(old).fileUrl('/d/a.png'));
    expect([err.code, err.message]).toEqual(['contract', 'fileUrl: the preload does not expose this; rebuild the app']);
  });
});

let FileImage: Component;
beforeAll(async () => {
  FileImage = await loadSfc('src/renderer/src/components/FileImage.vue');
});

describe('FileImage', () => {
  let api: FakeApi;
  beforeEach(() => {
    api = new FakeApi();
    setApi(api);
  });

  it('is an <img> whose src is the transport URL of its path, following path changes', async () => {
    const w = mount(FileImage, { props: { path: '/d/a.png', alt: 'grid', testid: 'img' } });
    await flushPromises();
    expect(w.get('[data-testid="img"]').attributes('src')).toBe('/files?path=%2Fd%2Fa.png');
    await w.setProps({ path: '/d/b.png' });
    await flushPromises();
    expect(w.get('[data-testid="img"]').attributes('src')).toBe('/files?path=%2Fd%2Fb.png');
    // Nothing went through the contract.
    expect(api.calls).toEqual([]);
    w.unmount();
  });

  it('says why when the address cannot be made or the file does not load', async () => {
    api.fileUrl = () => Promise.reject(Object.assign(new Error('no access token'), { code: 'disconnected' }));
    const w = mount(FileImage, { props: { path: '/d/a.png', alt: 'grid', testid: 'img' } });
    await flushPromises();
    expect(w.get('[role="alert"]').text()).toContain('Could not load grid: no access token');
    api.fileUrl = FakeApi.prototype.fileUrl;
    await w.setProps({ path: '/d/gone.png' });
    await flushPromises();
    await w.get('[data-testid="img"]').trigger('error');
    expect(w.get('[role="alert"]').text()).toContain('the file is missing or not one the app serves');
    w.unmount();
  });
});
