/**
 * The app-wide client: one connection, its state for the banner, and hooks the stores use to
 * refresh after a reconnect (events sent while the socket was down are lost).
 */
import { reactive } from 'vue';
import { connect, type Client, type Connection } from './client';
import type { ConnectionState } from './ws';

type Mode = 'electron' | 'web' | 'none';
export const connection = reactive<{ state: ConnectionState; mode: Mode; hadToken: boolean }>({
  state: { kind: 'connecting', attempt: 0 },
  mode: 'none',
  hadToken: true,
});

const reconnectHooks = new Set<() => void>();
export function onReconnect(fn: () => void): () => void {
  reconnectHooks.add(fn);
  return () => reconnectHooks.delete(fn);
}

let current: Connection | null = null;
let override: Client | null = null;

/** Tests install a fake client here before creating stores. */
export function setApi(api: Client | null): void {
  override = api;
}

export function api(): Client {
  if (override) return override;
  if (!current) {
    current = connect({
      onState: (s) => (connection.state = s),
      onReconnect: () => reconnectHooks.forEach((fn) => fn()),
    });
    connection.mode = current.mode;
    if (current.mode === 'electron') connection.state = { kind: 'open' };
    else connection.hadToken = !!window.sessionStorage.getItem('sadpm.token');
  }
  return current.api;
}

/** The address an <img> or a download loads a data-folder file from (the transport's own way). */
export function fileUrl(path: string): Promise<string> {
  return api().fileUrl(path);
}
