/**
 * The handlers of every invoke channel in the contract, one module per domain, composed for one client. The
 * transports (Electron IPC, web mode's WebSocket) call dispatch() with them; dispatch validates first.
 */
import type { Services } from '../services';
import type { UploadOwner } from '../uploads';
import type { Handlers } from './dispatch';
import { dataHandlers, type NativeUi } from './dataHandlers';
import { runHandlers } from './runHandlers';
import { sampleHandlers } from './sampleHandlers';
import { evalHandlers } from './evalHandlers';
import { varianceHandlers } from './varianceHandlers';
import { sweepHandlers } from './sweepHandlers';
import { stripHandlers } from './stripHandlers'; // issue 12/15

export { ApiFailure, dispatch, type DispatchResult, type Handlers } from './dispatch';
export type { NativeUi } from './dataHandlers';

/**
 * The handlers for one client. `uploads` is that client's own upload owner: web mode makes one set of
 * handlers per WebSocket and closes its owner when the socket closes.
 */
export function makeHandlers(s: Services, native?: NativeUi, uploads: UploadOwner = s.uploads.owner()): Handlers {
  return {
    ...dataHandlers(s, uploads, native),
    ...runHandlers(s),
    ...sampleHandlers(s),
    ...evalHandlers(s),
    ...varianceHandlers(s),
    ...sweepHandlers(s),
    ...stripHandlers(s), // issue 12/15
  };
}
