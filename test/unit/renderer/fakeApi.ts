/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference types="vite/client" />
import { resolveRunConfig } from '../../../src/shared/config';
/**
 * A fake Api for store and component tests: handlers per channel, recorded calls, and events the
 * test emits as the server would.
 */
import type {
  EventName,
  EventPayload,
  InvokeChannel,
  InvokeRequest,
  InvokeResponse,
} from '../../../src/shared/contract';
import type { Client } from '../../../src/renderer/src/api/client';

type Handler<C extends InvokeChannel> = (req: InvokeRequest<C>) => InvokeResponse<C> | Promise<InvokeResponse<C>>;

export class FakeApi implements Client {
  calls: { channel: string; req: unknown }[] = [];
  private handlers = new Map<string, (req: unknown) => unknown>();
  private listeners = new Map<string, Set<(p: unknown) => void>>();

  handle<C extends InvokeChannel>(channel: C, fn: Handler<C>): this {
    this.handlers.set(channel, fn as (req: unknown) => unknown);
    return this;
  }

  async invoke<C extends InvokeChannel>(channel: C, req: InvokeRequest<C>): Promise<InvokeResponse<C>> {
    this.calls.push({ channel, req });
    const h = this.handlers.get(channel);
    if (!h) throw Object.assign(new Error(`no fake handler for ${channel}`), { code: 'failed' });
    return (await h(req)) as InvokeResponse<C>;
  }

  on<E extends EventName>(event: E, fn: (payload: EventPayload<E>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn as (p: unknown) => void);
    return () => set!.delete(fn as (p: unknown) => void);
  }

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    for (const fn of this.listeners.get(event) ?? []) fn(payload);
  }

  /** Like web mode's signed route, minus the signature: tests read the path back from the <img>. */
  async fileUrl(path: string): Promise<string> {
    return `/files?${new URLSearchParams({ path })}`;
  }

  callsTo(channel: InvokeChannel): unknown[] {
    return this.calls.filter((c) => c.channel === channel).map((c) => c.req);
  }
}

export function sampleRecord(
  over: Partial<import('../../../src/shared/records').SampleRecord> = {},
): import('../../../src/shared/records').SampleRecord {
  return {
    id: 1,
    runId: 1,
    checkpointId: 10,
    step: 100,
    sampler: 'ddim',
    sampleSteps: 50,
    spacing: 'uniform',
    eta: 0,
    seed: 0,
    n: 16,
    ema: true,
    path: '/r1/s.png',
    createdAt: '',
    ...over,
  };
}

export function runRecord(
  over: Partial<import('../../../src/shared/records').RunRecord> = {},
): import('../../../src/shared/records').RunRecord {
  return {
    id: 1,
    name: 'run',
    status: 'running',
    config: resolveRunConfig({}),
    datasetId: null,
    dataset: 'builtin:shapes',
    preset: 'tiny',
    k: 2,
    lambda: 1,
    T: 1000,
    seed: 0,
    step: 0,
    totalSteps: 200,
    runDir: '/data/runs/1',
    backend: 'cpu',
    adapter: null,
    appVersion: '0.1.0',
    notes: '',
    tags: [],
    failureReason: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: null,
    endedAt: null,
    lastLoss: null,
    lastCheckpointStep: null,
    kind: 'train',
    parentId: null,
    cov: null,
    ...over,
  };
}

export function progressMsg(step: number, loss = 1) {
  return {
    type: 'progress' as const,
    step,
    totalSteps: 1000,
    loss,
    simple: loss * 0.6,
    sa: loss * 0.4,
    gradNorm: 2,
    lr: 2e-4,
    imagesPerSec: 100,
    msPerStep: 50,
    etaSec: 10,
    memory: { numTensors: 10, numBytes: 1000, gpuBytes: 5000 },
  };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(
  p: Promise<unknown>,
): Promise<import('../../../src/renderer/src/api/errors').ApiCallError> {
  try {
    await p;
  } catch (e) {
    return e as import('../../../src/renderer/src/api/errors').ApiCallError;
  }
  throw new Error('expected the promise to reject');
}
