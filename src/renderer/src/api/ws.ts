/**
 * Web mode's transport: the contract over one WebSocket. Requests are {id, channel, req}; the server
 * answers {id, ok, res} or {id, ok: false, error}; events arrive as {event, payload}. The socket
 * reconnects with exponential backoff; requests made while it is down wait for the next open socket
 * (bounded), and requests in flight when it drops fail with a 'disconnected' error.
 */
import { WsServerFrameSchema } from '../../../shared/contract';
import { ApiCallError } from './errors';

/** The part of the DOM WebSocket this transport uses (a fake one in tests). */
export interface WsLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WsFactory = (url: string) => WsLike;

export type ConnectionState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'open' }
  | { kind: 'waiting'; attempt: number; retryAt: number; reason: string };

export interface WsTransportOptions {
  factory?: WsFactory;
  /** First retry delay; doubles per failed attempt up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** A request that gets no answer within this time fails (0 = never). */
  requestTimeoutMs?: number;
  /** Most requests kept while disconnected. */
  maxQueued?: number;
  onState?: (s: ConnectionState) => void;
  /** Called after every open that follows a drop (not the first open): state may have been missed. */
  onReconnect?: () => void;
}

interface Pending {
  channel: string;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

const OPEN = 1;

/** Close codes the server sends when it refuses what this page sent (RFC 6455, section 7.4.1). */
const CLOSED_BY_SERVER = new Map([
  [1003, 'it accepts only JSON text frames'],
  [1007, 'a message was not valid UTF-8'],
  [1009, 'a message was larger than the server accepts'],
]);

function closeReason(code: number, reason: string): string {
  if (code === 1008 || code === 4401 || code === 4403) return 'the server refused the token';
  const known = CLOSED_BY_SERVER.get(code);
  if (known) return `${known} (code ${code})`;
  return reason || `closed (code ${code})`;
}

export class WsTransport {
  private ws: WsLike | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private queue: { id: number; frame: string }[] = [];
  private readonly listeners = new Map<string, Set<(p: unknown) => void>>();
  private attempt = 0;
  private everOpened = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private readonly opts: Required<Omit<WsTransportOptions, 'onState' | 'onReconnect'>> &
    Pick<WsTransportOptions, 'onState' | 'onReconnect'>;

  constructor(
    private readonly url: string,
    opts: WsTransportOptions = {},
  ) {
    this.opts = {
      factory: opts.factory ?? ((u) => new WebSocket(u) as unknown as WsLike),
      initialDelayMs: opts.initialDelayMs ?? 500,
      maxDelayMs: opts.maxDelayMs ?? 10_000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 0,
      maxQueued: opts.maxQueued ?? 200,
      onState: opts.onState,
      onReconnect: opts.onReconnect,
    };
    this.connect();
  }

  /** Sends a request; resolves with `res`, rejects with an ApiCallError. */
  request(channel: string, req: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new ApiCallError('disconnected', 'the connection was closed', channel));
    const id = this.nextId++;
    const frame = JSON.stringify({ id, channel, req });
    return new Promise((resolve, reject) => {
      const p: Pending = { channel, resolve, reject, timer: null };
      if (this.opts.requestTimeoutMs > 0) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          this.queue = this.queue.filter((q) => q.id !== id);
          const s = Math.round(this.opts.requestTimeoutMs / 1000);
          reject(new ApiCallError('failed', `${channel}: no answer from the server within ${s} s`, channel));
        }, this.opts.requestTimeoutMs);
      }
      this.pending.set(id, p);
      if (this.ws && this.ws.readyState === OPEN) {
        this.ws.send(frame);
      } else if (this.queue.length >= this.opts.maxQueued) {
        const why = `${channel}: not connected to the server (too many requests waiting)`;
        this.settle(id, new ApiCallError('disconnected', why, channel));
      } else {
        this.queue.push({ id, frame });
      }
    });
  }

  on(event: string, fn: (payload: unknown) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => set!.delete(fn);
  }

  /** Stops reconnecting and fails what is pending. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.ws?.close(1000, 'client closed');
    this.failAll('the connection was closed');
  }

  private connect(): void {
    this.retryTimer = null;
    this.opts.onState?.({ kind: 'connecting', attempt: this.attempt });
    let ws: WsLike;
    try {
      ws = this.opts.factory(this.url);
    } catch (e) {
      this.scheduleRetry(e instanceof Error ? e.message : String(e));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.opts.onState?.({ kind: 'open' });
      const queued = this.queue;
      this.queue = [];
      for (const q of queued) if (this.pending.has(q.id)) ws.send(q.frame);
      if (reconnected) this.opts.onReconnect?.();
    };
    ws.onmessage = (ev) => this.handleFrame(ev.data);
    ws.onerror = () => {
      /* onclose follows and carries the code */
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const reason = closeReason(ev.code, ev.reason);
      const dropped = 'the connection to the server dropped before it answered';
      this.failAll(CLOSED_BY_SERVER.has(ev.code) ? `the server closed the connection (${reason})` : dropped);
      if (this.closed) return;
      this.scheduleRetry(reason);
    };
  }

  private scheduleRetry(reason: string): void {
    const delay = Math.min(this.opts.maxDelayMs, this.opts.initialDelayMs * 2 ** this.attempt);
    this.attempt++;
    this.opts.onState?.({ kind: 'waiting', attempt: this.attempt, retryAt: Date.now() + delay, reason });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private failAll(why: string): void {
    for (const [id, p] of [...this.pending]) {
      // Requests still queued (never sent) wait for the next socket.
      if (this.queue.some((q) => q.id === id)) continue;
      this.settle(id, new ApiCallError('disconnected', `${p.channel}: ${why}`, p.channel));
    }
  }

  private settle(id: number, err: ApiCallError | null, res?: unknown): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(res);
  }

  private handleFrame(data: unknown): void {
    let raw: unknown;
    try {
      raw = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      console.error('web mode: a frame that is not JSON was ignored');
      return;
    }
    const parsed = WsServerFrameSchema.safeParse(raw);
    if (!parsed.success) {
      console.error('web mode: a frame that does not match the contract was ignored', parsed.error.issues);
      // Still fail the request it answers, so the caller is not left waiting.
      const id = (raw as { id?: unknown })?.id;
      if (typeof id === 'number') {
        const why = 'the server sent an answer this page cannot read';
        this.settle(id, new ApiCallError('contract', why, this.pending.get(id)?.channel ?? ''));
      }
      return;
    }
    const f = parsed.data;
    if ('event' in f) {
      for (const fn of this.listeners.get(f.event) ?? []) {
        try {
          fn(f.payload);
        } catch (e) {
          console.error(`listener for ${f.event} failed`, e);
        }
      }
      return;
    }
    const channel = this.pending.get(f.id)?.channel ?? '';
    if (f.ok) this.settle(f.id, null, f.res);
    else this.settle(f.id, new ApiCallError(f.error.code, f.error.message, channel));
  }
}
