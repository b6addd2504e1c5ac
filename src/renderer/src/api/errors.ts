/**
 * Errors as the UI shows them: what happened (the server's message) and what to do (a hint per code).
 */
import type { ApiError } from '../../../shared/contract';

export type ErrorCode = ApiError['code'] | 'disconnected' | 'contract';

const HINTS: Record<ErrorCode, string> = {
  invalid: 'Correct the input named in the message and try again.',
  not_found: 'It may have been deleted or moved; refresh the view and pick it again.',
  conflict: 'The item is busy or in a state that does not allow this; wait for it to finish or refresh and retry.',
  failed: 'Fix the cause named in the message (a path, the disk, the GPU), then retry.',
  disconnected: 'The connection to the SA-DPM server was lost; it reconnects by itself. Retry once the banner is gone.',
  contract: 'The server and this page disagree on the message format: rebuild (npm run build) and reload.',
};

export class ApiCallError extends Error {
  readonly code: ErrorCode;
  readonly channel: string;
  constructor(code: ErrorCode, message: string, channel = '') {
    super(message);
    this.name = 'ApiCallError';
    this.code = code;
    this.channel = channel;
  }
  get hint(): string {
    return HINTS[this.code];
  }
}

/** Any thrown value as an ApiCallError (Electron wraps handler errors in "Error invoking remote method ..."). */
export function toApiError(e: unknown, channel = ''): ApiCallError {
  if (e instanceof ApiCallError) return e;
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const code = String((e as { code: unknown }).code);
    if (code in HINTS) return new ApiCallError(code as ErrorCode, String((e as { message: unknown }).message), channel);
  }
  let message = e instanceof Error ? e.message : String(e);
  const m = /^Error invoking remote method '[^']+': (?:\w*Error: )?(.*)$/s.exec(message);
  if (m) message = m[1]!;
  // A handler may encode {code, message} as JSON in the message text.
  try {
    const parsed = JSON.parse(message) as unknown;
    const coded = parsed && typeof parsed === 'object' && 'code' in parsed && 'message' in parsed;
    if (coded) return toApiError(parsed, channel);
  } catch {
    /* plain text */
  }
  return new ApiCallError('failed', message, channel);
}

/** "what happened. what to do." for a banner or an inline error. */
export function describeError(e: unknown): { message: string; hint: string } {
  const err = toApiError(e);
  return { message: err.message, hint: err.hint };
}
