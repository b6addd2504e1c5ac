/**
 * Cancellation of long engine loops (sampling, the gap monitor): they check an AbortSignal between
 * steps and throw CancelledError, which callers treat as "abandon this work", not as a failure.
 */
export class CancelledError extends Error {
  override name = 'CancelledError';
}

export function throwIfCancelled(signal: AbortSignal | undefined, message: string): void {
  if (signal?.aborted) throw new CancelledError(message);
}

/**
 * Lets queued events run (a stop command arriving over IPC fires the signal): on the cpu backend a
 * data() read resolves as a microtask, so a loop of them alone would never let the message in.
 */
export function yieldToEvents(): Promise<void> {
  return new Promise<void>((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}
