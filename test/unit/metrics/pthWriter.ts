/**
 * Builds torch-format files byte by byte from the documented formats (pickle opcodes, zip records,
 * the legacy layout), independently of the reader, for the reader's tests.
 */
import { crc32 } from '../../../src/engine/metrics/pth/zip';

/** Emits pickle opcodes (protocol 2, as torch.save writes them). */
export class PickleWriter {
  private out: number[] = [];
  private memo = 0;

  op(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }
  private u32(n: number): number[] {
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  }
  proto(): this {
    return this.op(0x80, 2);
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1'));
  }
  /** BINPUT with the next memo index, as the pickler does after most objects. */
  put(): this {
    const i = this.memo++;
    return i < 256 ? this.op(0x71, i) : this.op(0x72, ...this.u32(i));
  }
  /** The memo index the next put() will use. */
  get nextMemo(): number {
    return this.memo;
  }
  get(i: number): this {
    return i < 256 ? this.op(0x68, i) : this.op(0x6a, ...this.u32(i));
  }
  mark(): this {
    return this.op(0x28);
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.op(0x58, ...this.u32(b.length), ...b);
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b, n);
    if (n >= 0 && n < 65536) return this.op(0x4d, n & 0xff, n >> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.op(0x4a, ...this.u32(n >>> 0));
    let v = BigInt(n);
    const bytes: number[] = [];
    while (v !== 0n && v !== -1n) {
      bytes.push(Number(v & 0xffn));
      v >>= 8n;
    }
    // two's complement: one more byte when the top byte's sign bit disagrees with the sign
    if (n > 0 && bytes[bytes.length - 1]! & 0x80) bytes.push(0);
    if (n < 0 && !(bytes[bytes.length - 1]! & 0x80)) bytes.push(0xff);
    return this.op(0x8a, bytes.length, ...bytes);
  }
  long1(bytes: number[]): this {
    return this.op(0x8a, bytes.length, ...bytes);
  }
  float(x: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(x);
    return this.op(0x47, ...b);
  }
  none(): this {
    return this.op(0x4e);
  }
  bool(v: boolean): this {
    return this.op(v ? 0x88 : 0x89);
  }
  emptyTuple(): this {
    return this.op(0x29);
  }
  tuple(): this {
    return this.op(0x74);
  }
  tuple1(): this {
    return this.op(0x85);
  }
  tuple2(): this {
    return this.op(0x86);
  }
  tuple3(): this {
    return this.op(0x87);
  }
  emptyList(): this {
    return this.op(0x5d);
  }
  appends(): this {
    return this.op(0x65);
  }
  emptyDict(): this {
    return this.op(0x7d);
  }
  setitems(): this {
    return this.op(0x75);
  }
  reduce(): this {
    return this.op(0x52);
  }
  build(): this {
    return this.op(0x62);
  }
  persid(): this {
    return this.op(0x51);
  }
  stop(): this {
    return this.op(0x2e);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

export interface TensorSpec {
  name: string;
  storage: string;
  storageType: string; // FloatStorage, LongStorage, ...
  numel: number; // of the storage
  offset: number;
  size: number[];
  stride: number[];
}

function intTuple(w: PickleWriter, v: number[]): void {
  if (v.length === 0) w.emptyTuple();
  else if (v.length === 1) w.int(v[0]!).tuple1();
  else if (v.length === 2) w.int(v[0]!).int(v[1]!).tuple2();
  else if (v.length === 3) w.int(v[0]!).int(v[1]!).int(v[2]!).tuple3();
  else {
    w.mark();
    for (const x of v) w.int(x);
    w.tuple();
  }
}

/**
 * The pickle torch.save writes for an OrderedDict of tensors (with the `_metadata` attribute set by
 * BUILD), persistent ids in the zip layout or, with `legacy`, the legacy one (root key, location,
 * numel, view metadata None).
 */
export function stateDictPickle(tensors: TensorSpec[], legacy = false): Uint8Array {
  const w = new PickleWriter().proto();
  const odict = w.nextMemo;
  w.global('collections', 'OrderedDict').put();
  w.emptyTuple().reduce().put();
  w.mark();
  const seenTypes = new Map<string, number>();
  for (const t of tensors) {
    w.str(t.name).put();
    w.global('torch._utils', '_rebuild_tensor_v2').put();
    w.mark();
    w.mark().str('storage').put();
    if (seenTypes.has(t.storageType)) w.get(seenTypes.get(t.storageType)!);
    else {
      seenTypes.set(t.storageType, w.nextMemo);
      w.global('torch', t.storageType).put();
    }
    w.str(t.storage).str('cpu').int(t.numel);
    if (legacy) w.none();
    w.tuple().persid();
    w.int(t.offset);
    intTuple(w, t.size);
    intTuple(w, t.stride);
    w.bool(false);
    w.get(odict).emptyTuple().reduce(); // backward_hooks = OrderedDict()
    w.tuple().reduce();
  }
  w.setitems();
  // state {'_metadata': OrderedDict({'': {'version': 1}})}
  w.emptyDict().str('_metadata').get(odict).emptyTuple().reduce();
  w.mark().str('').emptyDict().str('version').int(1).op(0x73).setitems();
  w.op(0x73); // SETITEM '_metadata' -> OrderedDict
  w.build().stop();
  return w.bytes();
}

interface ZipFile {
  name: string;
  data: Uint8Array;
}

/** A stored (uncompressed) zip, entries aligned to 64 bytes like torch's writer; `zip64` forces zip64 records. */
export function storedZip(files: ZipFile[], zip64 = false): Uint8Array {
  const parts: Uint8Array[] = [];
  let pos = 0;
  const central: Uint8Array[] = [];
  const push = (b: Uint8Array) => {
    parts.push(b);
    pos += b.length;
  };
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf8');
    const headerLen = 30 + name.length;
    const pad = (64 - ((pos + headerLen + 4) % 64)) % 64;
    const extra = Buffer.alloc(4 + pad);
    extra.writeUInt16LE(0x4246, 0); // 'FB' padding field, as PyTorch's writer
    extra.writeUInt16LE(pad, 2);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(zip64 ? 45 : 20, 4);
    h.writeUInt32LE(crc32(f.data), 14);
    h.writeUInt32LE(zip64 ? 0xffffffff : f.data.length, 18);
    h.writeUInt32LE(zip64 ? 0xffffffff : f.data.length, 22);
    h.writeUInt16LE(name.length, 26);
    h.writeUInt16LE(extra.length, 28);
    const local = pos;
    push(h);
    push(name);
    push(extra);
    push(f.data);
    const x64 = Buffer.alloc(zip64 ? 28 : 0);
    if (zip64) {
      x64.writeUInt16LE(1, 0);
      x64.writeUInt16LE(24, 2);
      x64.writeBigUInt64LE(BigInt(f.data.length), 4);
      x64.writeBigUInt64LE(BigInt(f.data.length), 12);
      x64.writeBigUInt64LE(BigInt(local), 20);
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(zip64 ? 45 : 20, 4);
    c.writeUInt16LE(zip64 ? 45 : 20, 6);
    c.writeUInt32LE(crc32(f.data), 16);
    c.writeUInt32LE(zip64 ? 0xffffffff : f.data.length, 20);
    c.writeUInt32LE(zip64 ? 0xffffffff : f.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(x64.length, 30);
    c.writeUInt32LE(zip64 ? 0xffffffff : local, 42);
    central.push(Buffer.concat([c, name, x64]));
  }
  const cdOffset = pos;
  for (const c of central) push(c);
  const cdSize = pos - cdOffset;
  if (zip64) {
    const z = Buffer.alloc(56);
    const zAt = pos;
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4);
    z.writeUInt16LE(45, 12);
    z.writeUInt16LE(45, 14);
    z.writeBigUInt64LE(BigInt(files.length), 24);
    z.writeBigUInt64LE(BigInt(files.length), 32);
    z.writeBigUInt64LE(BigInt(cdSize), 40);
    z.writeBigUInt64LE(BigInt(cdOffset), 48);
    push(z);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(zAt), 8);
    loc.writeUInt32LE(1, 16);
    push(loc);
  }
  const e = Buffer.alloc(22);
  e.writeUInt32LE(0x06054b50, 0);
  e.writeUInt16LE(zip64 ? 0xffff : files.length, 8);
  e.writeUInt16LE(zip64 ? 0xffff : files.length, 10);
  e.writeUInt32LE(zip64 ? 0xffffffff : cdSize, 12);
  e.writeUInt32LE(zip64 ? 0xffffffff : cdOffset, 16);
  push(e);
  return Buffer.concat(parts);
}

/** Legacy torch.save layout: magic, version, sys info, the object, the key list, then each storage. */
export function legacyFile(
  objectPickle: Uint8Array,
  storages: { key: string; numel: number; data: Uint8Array }[],
): Uint8Array {
  const magic = new PickleWriter()
    .proto()
    .long1([0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19])
    .stop()
    .bytes();
  const version = new PickleWriter().proto().int(1001).stop().bytes();
  const sys = new PickleWriter()
    .proto()
    .emptyDict()
    .mark()
    .str('protocol_version')
    .int(1001)
    .str('little_endian')
    .bool(true)
    .str('type_sizes')
    .emptyDict()
    .mark()
    .str('short')
    .int(2)
    .str('int')
    .int(4)
    .str('long')
    .int(4)
    .setitems()
    .setitems()
    .stop()
    .bytes();
  const keys = new PickleWriter().proto().emptyList().mark();
  for (const s of storages) keys.str(s.key);
  const body: Uint8Array[] = [magic, version, sys, objectPickle, keys.appends().stop().bytes()];
  for (const s of storages) {
    const n = Buffer.alloc(8);
    n.writeBigInt64LE(BigInt(s.numel));
    body.push(n, s.data);
  }
  return Buffer.concat(body);
}
