// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WsTransport, type WsLike, type ConnectionState } from '../../../src/renderer/src/api/ws';
import { ApiCallError } from '../../../src/renderer/src/api/errors';
import { rejection } from './fakeApi';
import { createWsApi, takeToken, wsUrl, TOKEN_KEY } from '../../../src/renderer/src/api/client';

class FakeSocket implements WsLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(data);
  }
  close(code = 1000, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  frames(): { id: number; channel: string; req: unknown }[] {
    return this.sent.map((s) => JSON.parse(s));
  }
}

const last = () => FakeSocket.all[FakeSocket.all.length - 1]!;

describe('WsTransport framing', () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('sends {id, channel, req} and resolves with res of the matching id', async () => {
    const t = new WsTransport('ws://h/ws?token=x', { factory: (u) => new FakeSocket(u) });
    last().open();
    const a = t.request('runs.get', { id: 3 });
    const b = t.request('datasets.list', {});
    const [fa, fb] = last().frames();
    expect(fa).toEqual({ id: 1, channel: 'runs.get', req: { id: 3 } });
    expect(fb).toEqual({ id: 2, channel: 'datasets.list', req: {} });
    // Answers out of order still reach the right caller.
    last().receive({ id: 2, ok: true, res: ['B'] });
    last().receive({ id: 1, ok: true, res: 'A' });
    await expect(a).resolves.toBe('A');
    await expect(b).resolves.toEqual(['B']);
  });

  it('turns {ok:false, error} into an ApiCallError with the code and message', async () => {
    const t = new WsTransport('ws://h/ws', { factory: (u) => new FakeSocket(u) });
    last().open();
    const p = t.request('runs.get', { id: 9 });
    last().receive({ id: 1, ok: false, error: { code: 'not_found', message: 'no run #9' } });
    const err = await rejection(p);
    expect(err).toBeInstanceOf(ApiCallError);
    expect(err.code).toBe('not_found');
    expect(err.message).toBe('no run #9');
    expect(err.hint).toMatch(/refresh/);
  });

  it('dispatches {event, payload} frames to listeners and ignores frames outside the contract', () => {
    const t = new WsTransport('ws://h/ws', { factory: (u) => new FakeSocket(u) });
    last().open();
    const seen: unknown[] = [];
    const off = t.on('job.progress', (p) => seen.push(p));
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    last().receive({ event: 'job.progress', payload: { jobId: 'j', done: 1, total: 2 } });
    last().receive({ nonsense: true });
    last().onmessage?.({ data: 'not json' });
    off();
    last().receive({ event: 'job.progress', payload: { jobId: 'j', done: 2, total: 2 } });
    expect(seen).toEqual([{ jobId: 'j', done: 1, total: 2 }]);
    expect(err).toHaveBeenCalledTimes(2);
    err.mockRestore();
  });

  it('queues requests until the socket opens', async () => {
    const t = new WsTransport('ws://h/ws', { factory: (u) => new FakeSocket(u) });
    const p = t.request('app.info', {});
    expect(last().sent).toHaveLength(0);
    last().open();
    expect(last().frames()).toEqual([{ id: 1, channel: 'app.info', req: {} }]);
    last().receive({ id: 1, ok: true, res: 42 });
    await expect(p).resolves.toBe(42);
  });

  it('fails in-flight requests on a drop, reconnects with doubling backoff and reports the reconnect', async () => {
    const states: ConnectionState['kind'][] = [];
    const onReconnect = vi.fn();
    const t = new WsTransport('ws://h/ws', {
      factory: (u) => new FakeSocket(u),
      initialDelayMs: 100,
      maxDelayMs: 1000,
      onState: (s) => states.push(s.kind),
      onReconnect,
    });
    last().open();
    const p = t.request('runs.list', {});
    last().drop();
    const err = await rejection(p);
    expect(err.code).toBe('disconnected');
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(99);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2);
    last().drop(); // second failure: next wait is 200 ms
    vi.advanceTimersByTime(199);
    expect(FakeSocket.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(3);
    expect(onReconnect).not.toHaveBeenCalled();
    last().open();
    expect(onReconnect).toHaveBeenCalledTimes(1);
    expect(states).toEqual(['connecting', 'open', 'waiting', 'connecting', 'waiting', 'connecting', 'open']);
    // After a successful open the backoff starts again from the initial delay.
    last().drop();
    vi.advanceTimersByTime(100);
    expect(FakeSocket.all).toHaveLength(4);
  });

  it('says why when the server closed the socket over a frame it refused (1009, 1007, 1003)', async () => {
    const reasons: string[] = [];
    const onState = (s: ConnectionState) => s.kind === 'waiting' && reasons.push(s.reason);
    const t = new WsTransport('ws://h/ws', { factory: (u) => new FakeSocket(u), onState });
    for (const [code, why] of [
      [1009, /larger than the server accepts \(code 1009\)/],
      [1007, /not valid UTF-8 \(code 1007\)/],
      [1003, /only JSON text frames \(code 1003\)/],
    ] as const) {
      last().open();
      const p = t.request('files.uploadChunk', {});
      last().drop(code);
      const err = await rejection(p);
      expect(err.code).toBe('disconnected');
      expect(err.message).toMatch(new RegExp(`files.uploadChunk: the server closed the connection \\(.*${why.source}`));
      expect(reasons[reasons.length - 1]).toMatch(why);
      vi.advanceTimersByTime(20_000);
    }
    t.close();
  });

  it('close() stops reconnecting', () => {
    const t = new WsTransport('ws://h/ws', { factory: (u) => new FakeSocket(u), initialDelayMs: 10 });
    last().open();
    t.close();
    vi.advanceTimersByTime(1000);
    expect(FakeSocket.all).toHaveLength(1);
  });
});

describe('createWsApi validation', () => {
  beforeEach(() => (FakeSocket.all = []));

  it('rejects a response that does not match the contract when validating', async () => {
    const t = new WsTransport('ws://h/ws', { factory: (u) => new FakeSocket(u) });
    last().open();
    const api = createWsApi(t, { validate: true });
    const p = api.invoke('files.uploadEnd', { uploadId: 'u1', abort: false });
    last().receive({ id: 1, ok: true, res: { path: 42 } });
    const err = await rejection(p);
    expect(err.code).toBe('contract');
    expect(err.message).toMatch(/files\.uploadEnd/);
  });

  it('passes a valid response and drops an invalid event payload', async () => {
    const t = new WsTransport('ws://h/ws', { factory: (u) => new FakeSocket(u) });
    last().open();
    const api = createWsApi(t, { validate: true });
    const p = api.invoke('files.uploadEnd', { uploadId: 'u1', abort: false });
    last().receive({ id: 1, ok: true, res: { path: '/d/uploads/a.bin' } });
    await expect(p).resolves.toEqual({ path: '/d/uploads/a.bin' });
    const seen: unknown[] = [];
    api.on('job.done', (d) => seen.push(d));
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    last().receive({ event: 'job.done', payload: { jobId: 1 } });
    last().receive({ event: 'job.done', payload: { jobId: 'a', kind: 'sample', ok: true } });
    err.mockRestore();
    expect(seen).toEqual([{ jobId: 'a', kind: 'sample', ok: true }]);
  });
});

describe('token and URL', () => {
  it('takes ?token= from the page URL, keeps it in sessionStorage and removes it from the address bar', () => {
    sessionStorage.clear();
    const replaced: string[] = [];
    const loc = { search: '?token=abc&x=1', pathname: '/', hash: '#/runs' } as Location;
    const hist = {
      state: null,
      replaceState: (_s: unknown, _t: string, url: string) => replaced.push(url),
    } as unknown as History;
    expect(takeToken(loc, sessionStorage, hist)).toBe('abc');
    expect(sessionStorage.getItem(TOKEN_KEY)).toBe('abc');
    expect(replaced).toEqual(['/?x=1#/runs']);
    // A reload without the parameter still finds it.
    expect(takeToken({ search: '', pathname: '/', hash: '' } as Location, sessionStorage, hist)).toBe('abc');
  });

  it('builds ws:// or wss:// on the same host', () => {
    expect(wsUrl({ protocol: 'http:', host: '127.0.0.1:5180' } as Location, 'a b')).toBe(
      'ws://127.0.0.1:5180/ws?token=a%20b',
    );
    expect(wsUrl({ protocol: 'https:', host: 'x' } as Location, null)).toBe('wss://x/ws');
  });
});
