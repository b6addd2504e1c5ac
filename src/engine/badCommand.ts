/**
 * What was wrong with a command the engine host refuses, in words a person can act on: the unknown
 * kind and the known ones, or each bad field with what it should be and what it was.
 */
import type { z } from 'zod';
import { EngineCommandSchema } from '../shared/engineMessages';

const KINDS = EngineCommandSchema.options.map((o) => o.shape.cmd.value);

/** A bounded, never-throwing rendering of any value (it may be huge, cyclic or a BigInt). */
export function preview(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function at(raw: unknown, path: readonly PropertyKey[]): unknown {
  let cur = raw;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

export function describeBadCommand(raw: unknown, error: z.ZodError): string {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return `malformed command: expected an object such as {cmd: 'import', ...}, got ${preview(raw)}`;
  }
  const kind = (raw as Record<string, unknown>).cmd;
  if (typeof kind !== 'string' || !KINDS.includes(kind as (typeof KINDS)[number])) {
    return `unknown command kind ${preview(kind)} (expected cmd to be one of ${KINDS.join(', ')})`;
  }
  const fields = error.issues.slice(0, 5).map((i) => {
    const path = i.path.map(String).join('.') || '(command)';
    return `${path}: ${i.message}, got ${preview(at(raw, i.path))}`;
  });
  const more = error.issues.length > 5 ? `; and ${error.issues.length - 5} more` : '';
  return `malformed '${kind}' command: ${fields.join('; ')}${more}`;
}
