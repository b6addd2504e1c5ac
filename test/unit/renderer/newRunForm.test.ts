// @vitest-environment happy-dom
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Component } from 'vue';
import { setApi } from '../../../src/renderer/src/api';
import { MODEL_PRESETS, RUN_PRESETS, RunConfigSchema, resolveRunConfig } from '../../../src/shared/config';
import { FIELD_KEYS } from '../../../src/renderer/src/runFields';
import { FakeApi, runRecord } from './fakeApi';
import { loadSfc } from './sfc';

/** A validate handler that checks like the server: the shared schema, per-field messages. */
function validate({ config }: { config: Record<string, unknown> }) {
  try {
    const c = resolveRunConfig(config);
    return {
      ok: true,
      errors: [],
      config: c,
      estimate: { params: 177_400, stateBytes: 3_500_000, activationBytes: 18_000_000, msPerStep: null, basis: 'test' },
    };
  } catch {
    const r = RunConfigSchema.safeParse({ ...MODEL_PRESETS.tiny, ...config });
    const errors = r.success ? [] : r.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message }));
    return { ok: false, errors, config: null, estimate: null };
  }
}

let NewRunView: Component;
beforeAll(async () => {
  NewRunView = await loadSfc('src/renderer/src/views/NewRunView.vue');
});

describe('New-run form', () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    location.hash = '#/new';
    api = new FakeApi()
      .handle('runs.validate', validate)
      .handle('datasets.list', () => [])
      .handle('runs.get', ({ id }) => ({
        run: runRecord({
          id,
          name: 'sa3 celeba',
          tags: ['celeba', 'sa-3'],
          notes: 'ablation',
          config: { ...resolveRunConfig({ ...RUN_PRESETS['official-celeba64'], k: 3, lambda: 0.3, seed: 42 }) },
        }),
        checkpoints: [],
        samples: [],
        metricNames: [],
        disk: { total: 0, checkpoints: 0, samples: 0, other: 0 },
        retention: null,
        active: false,
        queuePosition: null,
      }))
      .handle('runs.create', (req) => runRecord({ id: 11, name: String(req.config.name) }));
    setApi(api);
  });

  const field = (w: ReturnType<typeof mount>, key: string) =>
    w.get(`[data-testid="field-${key}"]`).element as HTMLInputElement;

  it('has an input for every RunConfig field', async () => {
    const w = mount(NewRunView, { props: { debounceMs: 0 } });
    await flushPromises();
    const schemaKeys = Object.keys((RunConfigSchema as unknown as { shape: object }).shape).sort();
    expect([...FIELD_KEYS].sort()).toEqual(schemaKeys);
    for (const key of FIELD_KEYS) {
      const testid = key === 'dataset' ? 'field-dataset-select' : `field-${key}`;
      expect(w.find(`[data-testid="${testid}"]`).exists(), key).toBe(true);
    }
    w.unmount();
  });

  it('starts from the quick-cpu preset and a preset fills the fields', async () => {
    const w = mount(NewRunView, { props: { debounceMs: 0 } });
    await flushPromises();
    expect(field(w, 'steps').value).toBe(String(RUN_PRESETS['quick-cpu']!.steps));
    expect(field(w, 'ch').value).toBe('16');
    await w.get('[data-testid="preset-select"]').setValue('official-cifar10');
    await flushPromises();
    expect(field(w, 'steps').value).toBe('468000');
    expect(field(w, 'batch').value).toBe('128');
    expect(field(w, 'ch').value).toBe('128');
    expect(field(w, 'chMult').value).toBe('1, 2, 2, 2');
    expect(field(w, 'dropout').value).toBe('0.1');
    expect(field(w, 'preset').value).toBe('cifar10');
    expect(field(w, 'randomFlip').value).toBe('false');
    expect(w.get('[data-testid="estimate-params"]').text()).toBe('177.4 k');
    await w.get('[data-testid="preset-select"]').setValue('official-celeba64');
    await flushPromises();
    expect(field(w, 'randomFlip').value).toBe('true');
    await new Promise((r) => setTimeout(r, 5));
    await flushPromises();
    const last = api.callsTo('runs.validate').at(-1) as { config: Record<string, unknown> };
    expect(last.config.randomFlip).toBe(true);
    w.unmount();
  });

  it("the demo preset fills 'Start from' with its starter; an empty field leaves initFrom out", async () => {
    const w = mount(NewRunView, { props: { debounceMs: 0 } });
    await flushPromises();
    expect(field(w, 'initFrom').value).toBe('');
    await w.get('[data-testid="preset-select"]').setValue('demo');
    await flushPromises();
    expect(field(w, 'initFrom').value).toBe('builtin:starter-shapes');
    expect(field(w, 'ch').value).toBe('32');
    await new Promise((r) => setTimeout(r, 5));
    await flushPromises();
    const sent = () => (api.callsTo('runs.validate').at(-1) as { config: Record<string, unknown> }).config;
    expect(sent().initFrom).toBe('builtin:starter-shapes');
    await w.get('[data-testid="field-initFrom"]').setValue('  ');
    await new Promise((r) => setTimeout(r, 5));
    await flushPromises();
    expect('initFrom' in sent() && sent().initFrom !== undefined).toBe(false);
    expect(w.find('[data-testid="error-initFrom"]').exists()).toBe(false);
    w.unmount();
  });

  it('shows local and server validation messages inline and blocks starting', async () => {
    const w = mount(NewRunView, { props: { debounceMs: 0 } });
    await flushPromises();
    expect((w.get('[data-testid="start-run"]').element as HTMLButtonElement).disabled).toBe(false);
    await w.get('[data-testid="field-k"]').setValue('two');
    await w.get('[data-testid="field-gapT0"]').setValue('5000');
    await new Promise((r) => setTimeout(r, 5));
    await flushPromises();
    expect(w.get('[data-testid="error-k"]').text()).toBe('must be a whole number');
    expect(w.get('[data-testid="error-gapT0"]').text()).toContain('gapT0 (5000) must be <= T (1000)');
    expect((w.get('[data-testid="start-run"]').element as HTMLButtonElement).disabled).toBe(true);
    // Fixing the fields clears the messages.
    await w.get('[data-testid="field-k"]').setValue('2');
    await w.get('[data-testid="field-gapT0"]').setValue('300');
    await new Promise((r) => setTimeout(r, 5));
    await flushPromises();
    expect(w.find('[data-testid="error-k"]').exists()).toBe(false);
    expect(w.find('[data-testid="error-gapT0"]').exists()).toBe(false);
    // The request carried parsed numbers, not text.
    const last = api.callsTo('runs.validate').at(-1) as { config: Record<string, unknown> };
    expect(last.config.k).toBe(2);
    expect(last.config.chMult).toEqual([1, 2]);
    w.unmount();
  });

  it('Clone run pre-fills every field, tags and notes from the run', async () => {
    const w = mount(NewRunView, { props: { debounceMs: 0, cloneId: 5 } });
    await flushPromises();
    expect(api.callsTo('runs.get')).toEqual([{ id: 5 }]);
    expect(field(w, 'name').value).toBe('sa3 celeba (clone)');
    expect(field(w, 'k').value).toBe('3');
    expect(field(w, 'lambda').value).toBe('0.3');
    expect(field(w, 'seed').value).toBe('42');
    expect(field(w, 'imageSize').value).toBe('64');
    expect(field(w, 'chMult').value).toBe('1, 2, 2, 2, 4');
    expect((w.get('[data-testid="field-tags"]').element as HTMLInputElement).value).toBe('celeba, sa-3');
    expect((w.get('[data-testid="field-notes"]').element as HTMLTextAreaElement).value).toBe('ablation');
    expect(w.get('[data-testid="clone-note"]').text()).toContain('#5');
    w.unmount();
  });

  it('creates the run with the parsed config, tags and notes', async () => {
    const w = mount(NewRunView, { props: { debounceMs: 0 } });
    await flushPromises();
    await w.get('[data-testid="field-name"]').setValue('my run');
    await w.get('[data-testid="field-tags"]').setValue('a, b, a');
    await w.get('[data-testid="field-notes"]').setValue('note');
    await new Promise((r) => setTimeout(r, 5));
    await flushPromises();
    await w.get('[data-testid="start-run"]').trigger('click');
    await flushPromises();
    const req = api.callsTo('runs.create')[0] as {
      config: Record<string, unknown>;
      tags: string[];
      notes: string;
      start: boolean;
    };
    expect(req.config.name).toBe('my run');
    expect(req.config.steps).toBe(200);
    expect(req.tags).toEqual(['a', 'b']);
    expect(req.notes).toBe('note');
    expect(req.start).toBe(true);
    expect(location.hash).toBe('#/monitor/11');
    w.unmount();
  });
});
