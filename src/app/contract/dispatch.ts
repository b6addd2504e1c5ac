/**
 * The dispatcher every transport calls (Electron IPC, web mode's WebSocket): it validates the channel and the
 * payload against the contract before a handler sees them, and turns any failure into an ApiError with a code
 * the UI can act on.
 */
import type { z } from 'zod';
import { INVOKE, type ApiError, type InvokeChannel, type InvokeResponse } from '../../shared/contract';
import { FieldError } from '../../shared/errors';

export class ApiFailure extends Error {
  constructor(
    readonly code: ApiError['code'],
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiFailure('not_found', what);

/** Runs `fn`; an error it throws reaches the caller as an ApiFailure with `code` and the same message. */
export function failAs<T>(code: ApiError['code'], fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ApiFailure) throw err;
    throw new ApiFailure(err instanceof FieldError ? 'invalid' : code, (err as Error).message);
  }
}

export type Handler<C extends InvokeChannel> = (
  req: z.infer<(typeof INVOKE)[C]['req']>,
) => Promise<InvokeResponse<C>> | InvokeResponse<C>;
export type Handlers = { [C in InvokeChannel]: Handler<C> };

export function zodIssues(err: z.ZodError): { field: string; message: string }[] {
  return err.issues.map((i) => ({ field: i.path.join('.') || '(config)', message: i.message }));
}

export type DispatchResult = { ok: true; res: unknown } | { ok: false; error: ApiError };

/** Validates the channel and payload, runs the handler, and turns failures into ApiErrors. */
export async function dispatch(handlers: Handlers, channel: string, raw: unknown): Promise<DispatchResult> {
  if (!Object.hasOwn(INVOKE, channel))
    return { ok: false, error: { code: 'invalid', message: `unknown channel '${channel}'` } };
  const c = channel as InvokeChannel;
  const parsed = INVOKE[c].req.safeParse(raw ?? {});
  if (!parsed.success) {
    const issues = zodIssues(parsed.error).map((i) => `${i.field}: ${i.message}`);
    return { ok: false, error: { code: 'invalid', message: `${channel}: ${issues.join('; ')}` } };
  }
  try {
    const res = await (handlers[c] as (r: unknown) => unknown)(parsed.data);
    return { ok: true, res };
  } catch (err) {
    if (err instanceof ApiFailure) return { ok: false, error: { code: err.code, message: err.message } };
    if (err instanceof FieldError) return { ok: false, error: { code: 'invalid', message: err.message } };
    return { ok: false, error: { code: 'failed', message: (err as Error).message } };
  }
}
