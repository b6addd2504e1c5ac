/**
 * Command-line parsing. Every RunConfig field gets a kebab-case flag generated from the schema, so
 * a new config field is a new flag with no extra code.
 */
import { RunConfigSchema } from '../shared/config';

export interface ParsedArgs {
  command: string;
  positional: string[];
  flags: Map<string, string | true>;
}

/** Flags that take no value. */
const BOOLEAN_FLAGS = new Set([
  'json',
  'ema',
  'raw',
  'strict',
  'grayscale',
  'help',
  'quiet',
  'no-progress',
  'yes',
  'remove',
]);
// issue 16 (sweep, sweep-status)
BOOLEAN_FLAGS.add('detach').add('watch');

export function parseArgs(argv: string[]): ParsedArgs {
  const [command = 'help', ...rest] = argv;
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '-h') {
      flags.set('help', true);
      continue;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = (eq >= 0 ? a.slice(2, eq) : a.slice(2)).trim();
    if (eq >= 0) {
      flags.set(name, a.slice(eq + 1));
    } else if (BOOLEAN_FLAGS.has(name) || booleanConfigFlags().has(name)) {
      flags.set(name, true);
    } else {
      const v = rest[i + 1];
      if (v === undefined || (v.startsWith('--') && !/^--?\d/.test(v))) throw new Error(`flag --${name} needs a value`);
      flags.set(name, v);
      i++;
    }
  }
  return { command, positional, flags };
}

export function kebab(name: string): string {
  if (name === 'T') return 'T';
  return name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

type FieldKind = 'number' | 'int' | 'string' | 'enum' | 'numberList' | 'boolean';

interface FieldInfo {
  key: string;
  flag: string;
  kind: FieldKind;
  values?: readonly string[];
  description: string;
}

function unwrap(t: unknown): { def: Record<string, unknown>; description: string } {
  let cur = t as { def: Record<string, unknown>; description?: string };
  let description = cur.description ?? '';
  while (cur.def.type === 'default' || cur.def.type === 'optional') {
    cur = cur.def.innerType as typeof cur;
    description ||= cur.description ?? '';
  }
  return { def: cur.def, description };
}

/** The config fields and their flag kinds, read from the zod schema. */
export function configFields(): FieldInfo[] {
  const shape = (
    RunConfigSchema as unknown as { def: { in?: { shape: Record<string, unknown> }; shape?: Record<string, unknown> } }
  ).def;
  const objShape =
    shape.in?.shape ?? shape.shape ?? (RunConfigSchema as unknown as { shape: Record<string, unknown> }).shape;
  const out: FieldInfo[] = [];
  for (const [key, schema] of Object.entries(objShape)) {
    const { def, description } = unwrap(schema);
    let kind: FieldKind = 'string';
    let values: readonly string[] | undefined;
    if (def.type === 'number') {
      const checks = (def.checks ?? []) as { _zod?: { def?: { check?: string; format?: string } } }[];
      kind = checks.some((c) => c._zod?.def?.format === 'safeint' || c._zod?.def?.check === 'number_format')
        ? 'int'
        : 'number';
    } else if (def.type === 'enum') {
      kind = 'enum';
      values = Object.values(def.entries as Record<string, string>);
    } else if (def.type === 'array') {
      kind = 'numberList';
    } else if (def.type === 'boolean') {
      kind = 'boolean';
    }
    out.push({ key, flag: kebab(key), kind, values, description });
  }
  return out;
}

/** Boolean config fields: their flags alone mean true (--random-flip), or take =true / =false. */
function booleanConfigFlags(): Set<string> {
  return new Set(
    configFields()
      .filter((f) => f.kind === 'boolean')
      .map((f) => f.flag),
  );
}

/** Reads config fields from flags (only those given). Unknown flags are the caller's to report. */
export function configFromFlags(flags: Map<string, string | true>): {
  values: Record<string, unknown>;
  used: Set<string>;
} {
  const values: Record<string, unknown> = {};
  const used = new Set<string>();
  for (const f of configFields()) {
    const names = f.key === 'T' ? ['T', 't'] : [f.flag];
    for (const n of names) {
      const raw = flags.get(n);
      if (raw === undefined) continue;
      used.add(n);
      if (raw === true && f.kind === 'boolean') {
        values[f.key] = true;
        continue;
      }
      if (raw === true) throw new Error(`flag --${n} needs a value`);
      values[f.key] = convert(f, n, raw);
    }
  }
  return { values, used };
}

function convert(f: FieldInfo, flag: string, raw: string): unknown {
  switch (f.kind) {
    case 'int':
    case 'number': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) throw new Error(`--${flag}: expected a number, got '${raw}'`);
      return v;
    }
    case 'numberList': {
      if (raw.trim() === '') return [];
      return raw.split(',').map((s) => {
        const v = Number(s);
        if (!Number.isFinite(v))
          throw new Error(`--${flag}: expected comma-separated numbers like 1,2,2, got '${raw}'`);
        return v;
      });
    }
    case 'boolean':
      if (raw === 'true' || raw === '1' || raw === 'yes') return true;
      if (raw === 'false' || raw === '0' || raw === 'no') return false;
      throw new Error(`--${flag}: expected true or false (or the flag alone for true), got '${raw}'`);
    case 'enum':
      if (!f.values!.includes(raw)) throw new Error(`--${flag}: expected one of ${f.values!.join(', ')}, got '${raw}'`);
      return raw;
    default:
      return raw;
  }
}

export function flagString(flags: Map<string, string | true>, name: string): string | undefined {
  const v = flags.get(name);
  if (v === true) throw new Error(`flag --${name} needs a value`);
  return v;
}

/** A flag that takes one of a fixed set of values; a wrong one is named with the valid ones. */
export function flagChoice<T extends string>(
  flags: Map<string, string | true>,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const v = flagString(flags, name);
  if (v === undefined) return fallback;
  if (!(choices as readonly string[]).includes(v)) {
    throw new Error(`--${name}: '${v}' is not one of ${choices.join(', ')}`);
  }
  return v as T;
}

export function flagNumber(flags: Map<string, string | true>, name: string, fallback: number): number {
  const v = flagString(flags, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name}: expected a number, got '${v}'`);
  return n;
}

export function rejectUnknown(flags: Map<string, string | true>, allowed: Iterable<string>, command: string): void {
  const ok = new Set(allowed);
  for (const k of flags.keys()) {
    if (!ok.has(k)) throw new Error(`unknown flag --${k} (see sadpm ${command} --help)`);
  }
}

export function positiveInt(args: ParsedArgs, flag: string): number {
  const v = flagNumber(args.flags, flag, NaN);
  if (!Number.isInteger(v) || v < 1)
    throw new Error(`--${flag}: expected a positive integer, got '${flagString(args.flags, flag)}'`);
  return v;
}

/** An integer flag >= 0 (a seed, a GPU count); `fallback` when the flag is absent. */
export function nonNegativeInt(args: ParsedArgs, flag: string, fallback = NaN): number {
  const v = flagNumber(args.flags, flag, fallback);
  if (!Number.isInteger(v) || v < 0) {
    throw new Error(`--${flag}: expected an integer >= 0, got '${flagString(args.flags, flag)}'`);
  }
  return v;
}

/** An optional positive-integer flag. */
export function optionalPositiveInt(args: ParsedArgs, flag: string): number | undefined {
  return args.flags.has(flag) ? positiveInt(args, flag) : undefined;
}

export function splitList(v: string | undefined): string[] {
  return v
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
}

export function isJson(args: ParsedArgs): boolean {
  return args.flags.get('json') === true;
}

/** The checkpoint a flag names: 'latest' or a step number. */
export function checkpointFlag(args: ParsedArgs): 'latest' | number {
  const which = flagString(args.flags, 'checkpoint') ?? 'latest';
  if (which !== 'latest' && !/^\d+$/.test(which))
    throw new Error(`--checkpoint: expected 'latest' or a step number, got '${which}'`);
  return which === 'latest' ? 'latest' : Number(which);
}
