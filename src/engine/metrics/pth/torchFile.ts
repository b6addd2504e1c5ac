/**
 * Reads the tensors of a state_dict saved by torch.save, without PyTorch:
 *  - the zip format (PyTorch ≥ 1.6): `<archive>/data.pkl` (pickle, protocol 2) whose persistent ids
 *    ('storage', StorageType, key, location, numel) name raw little-endian storages `<archive>/data/<key>`;
 *  - the legacy format (older files, and `_use_new_zipfile_serialization=False`): pickles back to back —
 *    magic number, protocol version 1001, system info, the object, the list of storage keys — then each
 *    storage as an int64 element count followed by its bytes.
 * Only an (Ordered)dict of plain tensors is accepted; tensors are rebuilt from storage, offset, size
 * and stride (torch._utils._rebuild_tensor_v2) into contiguous typed arrays.
 */
import { ZipArchive } from './zip';
import { PyDict, PyTuple, unpickle, type PyCallable, type UnpickleHooks } from './pickle';

export type TorchDtype =
  'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export interface TorchTensor {
  dtype: TorchDtype;
  shape: number[];
  /** Contiguous (row-major) values; float16/bfloat16 widened to float32, int64 to float64 (exact to 2^53). */
  data: Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
}

const STORAGE_TYPES: Record<string, [TorchDtype, number]> = {
  FloatStorage: ['float32', 4],
  DoubleStorage: ['float64', 8],
  HalfStorage: ['float16', 2],
  BFloat16Storage: ['bfloat16', 2],
  LongStorage: ['int64', 8],
  IntStorage: ['int32', 4],
  ShortStorage: ['int16', 2],
  CharStorage: ['int8', 1],
  ByteStorage: ['uint8', 1],
  BoolStorage: ['bool', 1],
};

class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: TorchDtype,
    readonly itemSize: number,
  ) {}
}

/** A storage referenced by the pickle; its bytes are attached once the container has been read. */
class StorageRef {
  bytes: Uint8Array | null = null;
  constructor(
    readonly key: string,
    readonly type: StorageType,
    readonly numel: number,
  ) {}
}

/** A storage view (legacy format): `numel` elements of a root storage from element `offset`. */
interface StorageView {
  root: StorageRef;
  offset: number;
  numel: number;
}

class PendingTensor {
  constructor(
    readonly storage: StorageView,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

const bf16Bits = new Uint32Array(1);
const bf16Value = new Float32Array(bf16Bits.buffer);

function bfloat16ToFloat(h: number): number {
  bf16Bits[0] = h << 16;
  return bf16Value[0]!;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function intList(v: unknown, what: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items || !items.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) {
    throw new Error(`${what} is not a tuple of non-negative integers`);
  }
  return items as number[];
}

function materialize(t: PendingTensor, name: string, label: string): TorchTensor {
  const { root } = t.storage;
  const type = root.type;
  if (!root.bytes) throw new Error(`${label}: tensor ${name}: storage ${root.key} has no data`);
  const count = t.shape.reduce((a, b) => a * b, 1);
  // Stride-0 (expanded) tensors may name more elements than their storage holds; cap what we allocate.
  if (count > 2 ** 28)
    throw new Error(
      `${label}: tensor ${name} has ${count} elements (shape ${t.shape.join('x')}), more than this reader takes`,
    );
  const base = t.storage.offset + t.offset;
  let last = base;
  for (let i = 0; i < t.shape.length; i++) if (t.shape[i]! > 0) last += (t.shape[i]! - 1) * t.stride[i]!;
  if (count > 0 && (last >= t.storage.offset + t.storage.numel || last >= root.numel)) {
    throw new Error(
      `${label}: tensor ${name} (shape ${t.shape.join('x')}) reaches past its storage ${root.key} of ${root.numel} elements`,
    );
  }
  const dv = new DataView(root.bytes.buffer, root.bytes.byteOffset, root.bytes.byteLength);
  const read: (i: number) => number = {
    float32: (i: number) => dv.getFloat32(i * 4, true),
    float64: (i: number) => dv.getFloat64(i * 8, true),
    float16: (i: number) => halfToFloat(dv.getUint16(i * 2, true)),
    bfloat16: (i: number) => bfloat16ToFloat(dv.getUint16(i * 2, true)),
    int64: (i: number) => Number(dv.getBigInt64(i * 8, true)),
    int32: (i: number) => dv.getInt32(i * 4, true),
    int16: (i: number) => dv.getInt16(i * 2, true),
    int8: (i: number) => dv.getInt8(i),
    uint8: (i: number) => dv.getUint8(i),
    bool: (i: number) => dv.getUint8(i),
  }[type.dtype];
  const out = {
    float32: () => new Float32Array(count),
    float64: () => new Float64Array(count),
    float16: () => new Float32Array(count),
    bfloat16: () => new Float32Array(count),
    int64: () => new Float64Array(count),
    int32: () => new Int32Array(count),
    int16: () => new Int16Array(count),
    int8: () => new Int8Array(count),
    uint8: () => new Uint8Array(count),
    bool: () => new Uint8Array(count),
  }[type.dtype]();
  // Odometer over the index space, in row-major order.
  const idx = new Array<number>(t.shape.length).fill(0);
  let src = base;
  for (let k = 0; k < count; k++) {
    out[k] = read(src);
    for (let d = t.shape.length - 1; d >= 0; d--) {
      idx[d]!++;
      src += t.stride[d]!;
      if (idx[d]! < t.shape[d]!) break;
      src -= t.stride[d]! * t.shape[d]!;
      idx[d] = 0;
    }
  }
  return { dtype: type.dtype, shape: t.shape, data: out };
}

function hooksFor(label: string, storages: Map<string, StorageRef>, legacy: boolean): UnpickleHooks {
  const callables: Record<string, PyCallable> = {
    'collections.OrderedDict': {
      qualname: 'collections.OrderedDict',
      call: (args) => {
        if (args.length) throw new Error('expected no arguments');
        return new PyDict();
      },
    },
    'torch._utils._rebuild_tensor_v2': {
      qualname: 'torch._utils._rebuild_tensor_v2',
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      call: (args) => {
        if (args.length < 4) throw new Error(`expected at least 4 arguments, got ${args.length}`);
        const [storage, offset, size, stride] = args;
        if (!storage || !('root' in (storage as object))) throw new Error('first argument is not a storage');
        if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0)
          throw new Error(`bad storage offset ${String(offset)}`);
        const shape = intList(size, 'size');
        const strides = intList(stride, 'stride');
        if (shape.length !== strides.length)
          throw new Error(`size has ${shape.length} dimensions, stride ${strides.length}`);
        return new PendingTensor(storage as StorageView, offset, shape, strides);
      },
    },
  };
  return {
    findClass(module, name) {
      const key = `${module}.${name}`;
      if (callables[key]) return callables[key];
      if (module === 'torch' && STORAGE_TYPES[name]) return new StorageType(name, ...STORAGE_TYPES[name]!);
      throw new Error(
        `global ${key} is not allowed in a state_dict file (only collections.OrderedDict, ` +
          'torch._utils._rebuild_tensor_v2 and torch.*Storage types)',
      );
    },
    persistentLoad(pid) {
      const items = pid instanceof PyTuple ? pid.items : null;
      if (!items || items[0] !== 'storage') throw new Error(`persistent id is not a ('storage', ...) tuple`);
      const [, type, key, , numel, view] = items;
      if (!(type instanceof StorageType)) throw new Error('persistent id names no torch storage type');
      if (typeof key !== 'string' && typeof key !== 'number') throw new Error('persistent id has no storage key');
      if (typeof numel !== 'number' || !Number.isInteger(numel) || numel < 0)
        throw new Error(`bad storage size ${String(numel)}`);
      const k = String(key);
      let root = storages.get(k);
      if (!root) {
        root = new StorageRef(k, type, numel);
        storages.set(k, root);
      } else if (root.type.dtype !== type.dtype) {
        throw new Error(`storage ${k} is used as both ${root.type.dtype} and ${type.dtype}`);
      }
      if (legacy && view != null) {
        const v = view instanceof PyTuple ? view.items : [];
        const [, viewOffset, viewSize] = v;
        if (typeof viewOffset !== 'number' || typeof viewSize !== 'number')
          throw new Error('bad storage view metadata');
        return { root, offset: viewOffset, numel: viewSize } satisfies StorageView;
      }
      return { root, offset: 0, numel: root.numel } satisfies StorageView;
    },
  };
}

function collectTensors(obj: unknown, label: string): Map<string, PendingTensor> {
  if (!(obj instanceof PyDict)) throw new Error(`${label}: the saved object is not a dict of tensors (a state_dict)`);
  const out = new Map<string, PendingTensor>();
  for (const [k, v] of obj.map) {
    if (typeof k !== 'string') throw new Error(`${label}: a state_dict key is not a string (${String(k)})`);
    if (!(v instanceof PendingTensor)) throw new Error(`${label}: entry ${k} is not a tensor`);
    out.set(k, v);
  }
  return out;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function readLegacy(bytes: Uint8Array, label: string): Map<string, TorchTensor> {
  const storages = new Map<string, StorageRef>();
  const plain: UnpickleHooks = {
    findClass: (m, n) => {
      throw new Error(`global ${m}.${n} is not allowed in a torch file header`);
    },
    persistentLoad: () => {
      throw new Error('persistent id in a torch file header');
    },
  };
  const magic = unpickle(bytes, plain, 0, `${label} (magic number)`);
  if (magic.value !== LEGACY_MAGIC)
    throw new Error(`${label}: not a PyTorch file (neither a zip archive nor the legacy magic number)`);
  const version = unpickle(bytes, plain, magic.end, `${label} (protocol version)`);
  if (version.value !== 1001)
    throw new Error(`${label}: legacy protocol version ${String(version.value)}, expected 1001`);
  const sys = unpickle(bytes, plain, version.end, `${label} (system info)`);
  if (sys.value instanceof PyDict && sys.value.map.get('little_endian') === false)
    throw new Error(`${label}: big-endian files are not supported`);
  const main = unpickle(bytes, hooksFor(label, storages, true), sys.end, label);
  const keys = unpickle(bytes, plain, main.end, `${label} (storage keys)`);
  if (!Array.isArray(keys.value)) throw new Error(`${label}: the storage key list is missing`);
  let pos = keys.end;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys.value) {
    const s = storages.get(String(key));
    if (!s) throw new Error(`${label}: storage ${String(key)} is listed but never used`);
    if (pos + 8 > bytes.length) throw new Error(`${label}: storage ${s.key} is cut off at byte ${pos}`);
    const n = Number(dv.getBigInt64(pos, true));
    if (n !== s.numel) throw new Error(`${label}: storage ${s.key} holds ${n} elements, the pickle says ${s.numel}`);
    const len = n * s.type.itemSize;
    if (pos + 8 + len > bytes.length)
      throw new Error(`${label}: storage ${s.key} (${len} bytes) is cut off at byte ${bytes.length}`);
    s.bytes = bytes.subarray(pos + 8, pos + 8 + len);
    pos += 8 + len;
  }
  const out = new Map<string, TorchTensor>();
  for (const [name, t] of collectTensors(main.value, label)) out.set(name, materialize(t, name, label));
  return out;
}

function readZip(bytes: Uint8Array, label: string): Map<string, TorchTensor> {
  const zip = new ZipArchive(bytes, label);
  const pkl = [...zip.entries.keys()].filter((n) => n.endsWith('/data.pkl') && n.split('/').length === 2);
  if (pkl.length !== 1) throw new Error(`${label}: expected one <archive>/data.pkl entry, found ${pkl.length}`);
  const prefix = pkl[0]!.slice(0, -'data.pkl'.length);
  if (zip.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${prefix}byteorder`));
    if (order !== 'little') throw new Error(`${label}: byte order '${order}' is not supported (little-endian only)`);
  }
  const storages = new Map<string, StorageRef>();
  const { value } = unpickle(zip.read(pkl[0]!), hooksFor(label, storages, false), 0, `${label} (${pkl[0]})`);
  const tensors = collectTensors(value, label);
  for (const s of storages.values()) {
    const name = `${prefix}data/${s.key}`;
    if (!zip.has(name)) throw new Error(`${label}: storage entry ${name} is missing`);
    const data = zip.read(name);
    if (data.length !== s.numel * s.type.itemSize) {
      throw new Error(`${label}: ${name} holds ${data.length} bytes, expected ${s.numel} × ${s.type.itemSize}`);
    }
    s.bytes = data;
  }
  const out = new Map<string, TorchTensor>();
  for (const [name, t] of tensors) out.set(name, materialize(t, name, label));
  return out;
}

/** The tensors of a state_dict file's bytes, in file order. `label` (e.g. the path) prefixes every error. */
export function readStateDict(bytes: Uint8Array, label = 'torch file'): Map<string, TorchTensor> {
  try {
    if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04)
      return readZip(bytes, label);
    if (bytes.length >= 2 && bytes[0] === 0x80) return readLegacy(bytes, label);
  } catch (err) {
    // Every failure names the file, including those raised below the file's own parsers (zip64 fields, typed arrays).
    const message = err instanceof Error ? err.message : String(err);
    if (message.startsWith(`${label}:`)) throw err;
    throw new Error(`${label}: ${message}`, { cause: err });
  }
  throw new Error(`${label}: not a PyTorch file (no zip header, no pickle)`);
}
