/**
 * Electron IPC for the contract: one ipcMain.handle per invoke channel. Every call checks its sender
 * (our own page in our own window) before the dispatcher validates the payload.
 */
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { INVOKE, type EventName } from '../shared/contract';
import { dispatch, type DispatchResult } from '../app/contract/handlers';

export type SenderCheck = (url: string | undefined) => boolean;

/** Only our renderer: the built file, or the dev server's origin when not packaged. */
export function trustedSender(rendererFileUrl: string, devUrl?: string): SenderCheck {
  const devOrigin = devUrl ? new URL(devUrl).origin : undefined;
  return (url) => {
    if (!url) return false;
    if (url.split(/[?#]/)[0] === rendererFileUrl) return true;
    return devOrigin !== undefined && new URL(url).origin === devOrigin;
  };
}

export function registerIpc(
  ipcMain: Pick<IpcMain, 'handle'>,
  handlers: Parameters<typeof dispatch>[0],
  isTrusted: SenderCheck,
): void {
  for (const channel of Object.keys(INVOKE)) {
    ipcMain.handle(channel, async (e: IpcMainInvokeEvent, req: unknown): Promise<DispatchResult> => {
      if (!isTrusted(e.senderFrame?.url)) {
        return { ok: false, error: { code: 'invalid', message: `refused ${channel} from an untrusted frame` } };
      }
      return dispatch(handlers, channel, req);
    });
  }
}

/** Sends an event to every live window. */
export function broadcast(targets: () => WebContents[], event: EventName, payload: unknown): void {
  for (const wc of targets()) if (!wc.isDestroyed()) wc.send(event, payload);
}
