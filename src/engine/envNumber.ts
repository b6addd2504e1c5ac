/**
 * Numeric SADPM_* switches read from the environment: unset or empty gives `fallback`; a value that is
 * not a number, or that `ok` refuses, stops the start with an error naming the variable, its value and
 * what was expected.
 */
export function envNumber<T extends number | null>(
  name: string,
  fallback: T,
  expected: string,
  ok: (n: number) => boolean,
): number | T {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || !ok(n)) throw new Error(`${name}=${text}: expected ${expected}`);
  return n;
}
