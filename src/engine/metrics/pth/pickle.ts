/**
 * A minimal pickle virtual machine: the opcodes Python's pickler emits (protocols 2–4) for the plain
 * data of a torch state_dict — ints, floats, strings, bytes, tuples, lists, dicts — plus GLOBAL /
 * STACK_GLOBAL, REDUCE, BUILD and BINPERSID, whose meaning is delegated to hooks that allow only
 * named globals. It executes no code: an unknown opcode or a global the hooks do not allow is an
 * error naming it and its byte offset.
 */

export class PyTuple {
  constructor(readonly items: unknown[]) {}
}

/** A Python dict (insertion-ordered, so also an OrderedDict); `attrs` holds a BUILD state, if any. */
export class PyDict {
  readonly map = new Map<unknown, unknown>();
  attrs: unknown = undefined;
}

/** A global the hooks allow: REDUCE calls `call`; BUILD on what it made calls `build`, if given. */
export interface PyCallable {
  readonly qualname: string;
  call(args: unknown[]): unknown;
}

export interface UnpickleHooks {
  /** The value of `module.name`, or throw to refuse it. */
  findClass(module: string, name: string): unknown;
  /** The object a persistent id (BINPERSID) stands for. */
  persistentLoad(pid: unknown): unknown;
}

/** Objects that accept a BUILD (setstate) opcode. */
interface Buildable {
  setState(state: unknown): void;
}

const NAMES: Record<number, string> = {
  0x28: 'MARK',
  0x2e: 'STOP',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x46: 'FLOAT',
  0x49: 'INT',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4c: 'LONG',
  0x4d: 'BININT2',
  0x4e: 'NONE',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
  0x52: 'REDUCE',
  0x53: 'STRING',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE',
  0x58: 'BINUNICODE',
  0x61: 'APPEND',
  0x62: 'BUILD',
  0x63: 'GLOBAL',
  0x64: 'DICT',
  0x7d: 'EMPTY_DICT',
  0x65: 'APPENDS',
  0x67: 'GET',
  0x68: 'BINGET',
  0x69: 'INST',
  0x6a: 'LONG_BINGET',
  0x6c: 'LIST',
  0x5d: 'EMPTY_LIST',
  0x6f: 'OBJ',
  0x70: 'PUT',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x73: 'SETITEM',
  0x74: 'TUPLE',
  0x29: 'EMPTY_TUPLE',
  0x75: 'SETITEMS',
  0x47: 'BINFLOAT',
  0x80: 'PROTO',
  0x81: 'NEWOBJ',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE',
  0x95: 'FRAME',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

/** Little-endian two's-complement integer of `bytes` (LONG1/LONG4), as a number when exact. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset just past the STOP opcode (legacy torch files hold several pickles back to back). */
  end: number;
}

export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks, start = 0, label = 'pickle'): UnpickleResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let pos = start;
  let opAt = start;
  let op = 0;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();

  const fail = (msg: string): never => {
    throw new Error(
      `${label}: ${msg} (opcode ${NAMES[op] ?? 'unknown'} 0x${op.toString(16).padStart(2, '0')} at byte ${opAt})`,
    );
  };
  const take = (n: number): Uint8Array => {
    if (!Number.isSafeInteger(n) || n < 0 || pos + n > bytes.length)
      fail(`needs ${n} more bytes but the data ends at byte ${bytes.length}`);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) fail('unterminated text line');
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, nl));
    pos = nl + 1;
    return s;
  };
  const text = (n: number): string => {
    try {
      return utf8.decode(take(n));
    } catch (err) {
      return fail(`invalid UTF-8 (${(err as Error).message})`);
    }
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1]!)) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK on the stack');
    return stack.splice(m!);
  };
  const u32 = () => view.getUint32(take(4).byteOffset - bytes.byteOffset, true);
  const u64 = (): number => {
    const at = take(8).byteOffset - bytes.byteOffset;
    const v = view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} is too large`);
    return Number(v);
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) fail(`memo entry ${i} was never stored`);
    return memo.get(i);
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof PyDict)) fail('SETITEM(S) on something that is not a dict');
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) (target as PyDict).map.set(items[i], items[i + 1]);
  };
  const global = (module: string, name: string) => {
    try {
      return hooks.findClass(module, name);
    } catch (err) {
      return fail((err as Error).message);
    }
  };

  for (;;) {
    opAt = pos;
    op = take(1)[0]!;
    switch (op) {
      case 0x80: // PROTO
        if (take(1)[0]! > 5) fail('protocol newer than 5');
        break;
      case 0x95: // FRAME: a length prefix only
        u64();
        break;
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length)
          fail(`STOP with ${stack.length} values and ${marks.length} marks on the stack`);
        return { value: stack[0], end: pos };
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(take(4).byteOffset - bytes.byteOffset, true));
        break;
      case 0x4b: // BININT1
        stack.push(take(1)[0]!);
        break;
      case 0x4d: // BININT2
        stack.push(view.getUint16(take(2).byteOffset - bytes.byteOffset, true));
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(take(take(1)[0]!)));
        break;
      case 0x8b: {
        // LONG4
        const n = view.getInt32(take(4).byteOffset - bytes.byteOffset, true);
        if (n < 0) fail(`negative length ${n}`);
        stack.push(decodeLong(take(n)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(take(8).byteOffset - bytes.byteOffset, false));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(take(1)[0]!));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x54: // BINSTRING (Python 2 str; decoded as torch.load does, utf-8)
        stack.push(text(view.getInt32(take(4).byteOffset - bytes.byteOffset, true)));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(text(take(1)[0]!));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(take(1)[0]!).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: {
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) fail('APPEND to something that is not a list');
        (list as unknown[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail('APPENDS to something that is not a list');
        (list as unknown[]).push(...items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x64: {
        // DICT
        const d = new PyDict();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(take(1)[0]!, top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(take(1)[0]!));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop() as PyCallable | undefined;
        if (!(args instanceof PyTuple)) fail('REDUCE arguments are not a tuple');
        if (!fn || typeof fn.call !== 'function') fail('REDUCE on something that is not an allowed callable');
        try {
          stack.push(fn!.call((args as PyTuple).items));
        } catch (err) {
          fail(`${fn!.qualname}: ${(err as Error).message}`);
        }
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PyDict) obj.attrs = state;
        else if (obj && typeof (obj as Buildable).setState === 'function') (obj as Buildable).setState(state);
        else fail('BUILD on an object that takes no state');
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        try {
          stack.push(hooks.persistentLoad(pid));
        } catch (err) {
          fail((err as Error).message);
        }
        break;
      }
      default:
        fail('unsupported opcode; a state_dict file should not contain it');
    }
  }
}
