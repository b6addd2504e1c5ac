/**
 * The one Api client of the renderer. Inside Electron it calls the preload's `window.api[channel]`;
 * in a browser (web mode) it speaks the same contract over a WebSocket. In dev builds every
 * response and event payload is checked against the contract's zod schemas.
 */
import {
  EVENTS,
  INVOKE,
  type Api,
  type EventName,
  type EventPayload,
  type InvokeChannel,
  type InvokeRequest,
  type InvokeResponse,
} from '../../../shared/contract';
import { ApiCallError, toApiError } from './errors';
import { signedFileUrl } from './fileUrl';
import { WsTransport, type ConnectionState, type WsFactory } from './ws';

/** What the Electron preload exposes: one function per invoke channel, `on` and `fileUrl`. */
export type PreloadApi = { [C in InvokeChannel]: (req: InvokeRequest<C>) => Promise<InvokeResponse<C>> } & {
  on<E extends EventName>(event: E, fn: (payload: EventPayload<E>) => void): () => void;
  fileUrl?(path: string): string;
  readonly version?: string;
};

/** The contract plus what only a page needs: the address an <img> or a download loads a data-folder file from. */
export interface Client extends Api {
  fileUrl(path: string): Promise<string>;
}

export interface ClientOptions {
  /** Validate responses and events against the contract (default: dev builds only). */
  validate?: boolean;
}

function checkResponse<C extends InvokeChannel>(channel: C, res: unknown): InvokeResponse<C> {
  const r = INVOKE[channel].res.safeParse(res);
  if (!r.success) {
    const issues = r.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new ApiCallError('contract', `${channel}: the response does not match the contract (${issues})`, channel);
  }
  return r.data as InvokeResponse<C>;
}

function checkEvent<E extends EventName>(event: E, payload: unknown): payload is EventPayload<E> {
  const r = EVENTS[event].safeParse(payload);
  if (!r.success) console.error(`event ${event}: payload does not match the contract; ignored`, r.error.issues);
  return r.success;
}

const REBUILD = 'the preload does not expose this; rebuild the app';

export function createElectronApi(pre: PreloadApi, opts: ClientOptions = {}): Client {
  const validate = opts.validate ?? import.meta.env.DEV;
  return {
    async invoke(channel, req) {
      const fn = pre[channel] as unknown as ((r: unknown) => Promise<unknown>) | undefined;
      if (typeof fn !== 'function') throw new ApiCallError('contract', `${channel}: ${REBUILD}`, channel);
      let res: unknown;
      try {
        res = await fn(req);
      } catch (e) {
        throw toApiError(e, channel);
      }
      return (validate ? checkResponse(channel, res) : res) as never;
    },
    on(event, fn) {
      return pre.on(event, (payload) => {
        if (!validate || checkEvent(event, payload)) fn(payload);
      });
    },
    async fileUrl(path) {
      if (typeof pre.fileUrl !== 'function') throw new ApiCallError('contract', `fileUrl: ${REBUILD}`);
      return pre.fileUrl(path);
    },
  };
}

/** `token`: the page's web-mode token, which signs the addresses of the files it shows. */
export function createWsApi(transport: WsTransport, opts: ClientOptions & { token?: string | null } = {}): Client {
  const validate = opts.validate ?? import.meta.env.DEV;
  const token = opts.token ?? null;
  return {
    async invoke(channel, req) {
      const res = await transport.request(channel, req);
      return (validate ? checkResponse(channel, res) : res) as never;
    },
    on(event, fn) {
      return transport.on(event, (payload) => {
        if (!validate || checkEvent(event, payload)) fn(payload as never);
      });
    },
    fileUrl: (path) => signedFileUrl(token, path),
  };
}

export const TOKEN_KEY = 'sadpm.token';

/**
 * The web-mode token: from the page URL's ?token= (then kept in sessionStorage and removed from the
 * address bar, so it is neither in history nor in screenshots), else from sessionStorage.
 */
export function takeToken(
  loc: Location = window.location,
  storage: Storage = window.sessionStorage,
  history: History | null = window.history,
): string | null {
  const params = new URLSearchParams(loc.search);
  const fromUrl = params.get('token');
  if (fromUrl) {
    storage.setItem(TOKEN_KEY, fromUrl);
    params.delete('token');
    const q = params.toString();
    history?.replaceState(history.state, '', `${loc.pathname}${q ? `?${q}` : ''}${loc.hash}`);
    return fromUrl;
  }
  return storage.getItem(TOKEN_KEY);
}

export function wsUrl(loc: Location, token: string | null): string {
  const proto = loc.protocol === 'https:' ? 'wss' : 'ws';
  return `${proto}://${loc.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`;
}

export interface Connection {
  api: Client;
  mode: 'electron' | 'web';
  /** Web mode: the socket's state; null in Electron (always connected). */
  transport: WsTransport | null;
}

export function connect(
  opts: {
    onState?: (s: ConnectionState) => void;
    onReconnect?: () => void;
    factory?: WsFactory;
  } = {},
): Connection {
  const pre = (window as unknown as { api?: PreloadApi }).api;
  if (pre && typeof pre.on === 'function') return { api: createElectronApi(pre), mode: 'electron', transport: null };
  const token = takeToken();
  const transport = new WsTransport(wsUrl(window.location, token), {
    onState: opts.onState,
    onReconnect: opts.onReconnect,
    factory: opts.factory,
    requestTimeoutMs: 120_000,
  });
  return { api: createWsApi(transport, { token }), mode: 'web', transport };
}
