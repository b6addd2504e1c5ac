// @vitest-environment happy-dom
/** The runs view's dialogs from the keyboard: focus in on open, Tab trapped, Escape closes, focus back. */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Component } from 'vue';
import { setApi } from '../../../src/renderer/src/api';
import { FakeApi, runRecord } from './fakeApi';
import { loadSfc } from './sfc';

let RunsView: Component;
beforeAll(async () => {
  RunsView = await loadSfc('src/renderer/src/views/RunsView.vue');
});

const key = (el: Element, k: string, shift = false) =>
  el.dispatchEvent(new KeyboardEvent('keydown', { key: k, shiftKey: shift, bubbles: true, cancelable: true }));
const active = () => (document.activeElement as HTMLElement | null)?.getAttribute('data-testid');

describe('Runs view dialogs', () => {
  beforeEach(() => {
    setActivePinia(createPinia());
    const api = new FakeApi()
      .handle('runs.list', () => ({
        runs: [
          runRecord({ id: 1, name: 'a', status: 'completed', tags: ['x'] }),
          runRecord({ id: 2, name: 'b', status: 'stopped' }),
        ],
        total: 2,
      }))
      .handle('datasets.list', () => []);
    setApi(api);
  });

  it('tags dialog: focus on the first field, Tab and Shift+Tab wrap inside, Escape closes and returns focus', async () => {
    const w = mount(RunsView, { attachTo: document.body });
    await flushPromises();
    const opener = w.get('[data-testid="run-1-edit"]');
    (opener.element as HTMLElement).focus();
    await opener.trigger('click');
    await flushPromises();
    const dialog = w.get('[data-testid="edit-dialog"]');
    expect(dialog.attributes('role')).toBe('dialog');
    expect(dialog.attributes('aria-modal')).toBe('true');
    expect(document.getElementById(dialog.attributes('aria-labelledby')!)?.textContent).toContain('run #1');
    expect(active()).toBe('edit-tags');

    key(document.activeElement!, 'Tab', true);
    expect(active()).toBe('edit-cancel');
    key(document.activeElement!, 'Tab');
    expect(active()).toBe('edit-tags');

    key(document.activeElement!, 'Escape');
    await flushPromises();
    expect(w.find('[data-testid="edit-dialog"]').exists()).toBe(false);
    expect(active()).toBe('run-1-edit');
    w.unmount();
  });

  it('delete dialog: takes focus, Escape cancels without deleting', async () => {
    const w = mount(RunsView, { attachTo: document.body });
    await flushPromises();
    const opener = w.get('[data-testid="run-2-delete"]');
    (opener.element as HTMLElement).focus();
    await opener.trigger('click');
    await flushPromises();
    expect(w.get('[data-testid="delete-dialog"]').element.contains(document.activeElement)).toBe(true);
    key(document.activeElement!, 'Escape');
    await flushPromises();
    expect(w.find('[data-testid="delete-dialog"]').exists()).toBe(false);
    expect(w.find('[data-testid="run-row-2"]').exists()).toBe(true);
    expect(active()).toBe('run-2-delete');
    w.unmount();
  });
});
