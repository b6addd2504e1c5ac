import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readStateDict } from '../../../src/engine/metrics/pth/torchFile';
import { unpickle, PyDict, PyTuple } from '../../../src/engine/metrics/pth/pickle';
import { PickleWriter, legacyFile, stateDictPickle, storedZip, type TensorSpec } from './pthWriter';

const f32 = (v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
const f64 = (v: number[]) => new Uint8Array(Float64Array.from(v).buffer);
const i64 = (v: number[]) => new Uint8Array(BigInt64Array.from(v.map(BigInt)).buffer);
const f16 = (bits: number[]) => new Uint8Array(Uint16Array.from(bits).buffer);

/** Tensors as torch.save lays out a small state_dict: shared storages, an offset view, a transposed view, a scalar. */
const SPECS: TensorSpec[] = [
  {
    name: 'conv.weight',
    storage: '0',
    storageType: 'FloatStorage',
    numel: 10,
    offset: 0,
    size: [2, 1, 2, 2],
    stride: [4, 4, 2, 1],
  },
  { name: 'bn.running_var', storage: '0', storageType: 'FloatStorage', numel: 10, offset: 8, size: [2], stride: [1] },
  {
    name: 'bn.num_batches_tracked',
    storage: '1',
    storageType: 'LongStorage',
    numel: 1,
    offset: 0,
    size: [],
    stride: [],
  },
  { name: 'fc.weight', storage: '2', storageType: 'DoubleStorage', numel: 6, offset: 0, size: [2, 3], stride: [1, 2] },
  { name: 'half', storage: '3', storageType: 'HalfStorage', numel: 3, offset: 0, size: [3], stride: [1] },
];
const STORAGES = [
  { key: '0', numel: 10, data: f32([0, 1, 2, 3, 4, 5, 6, 7, 8.5, -9]) },
  { key: '1', numel: 1, data: i64([123456789012]) },
  { key: '2', numel: 6, data: f64([1, 2, 3, 4, 5, 6]) },
  { key: '3', numel: 3, data: f16([0x3c00, 0xc000, 0x3555]) }, // 1, -2, ~0.33325
];

function zipPth(zip64 = false, pickle = stateDictPickle(SPECS)): Uint8Array {
  return storedZip(
    [
      { name: 'tiny/data.pkl', data: pickle },
      { name: 'tiny/byteorder', data: Buffer.from('little') },
      ...STORAGES.map((s) => ({ name: `tiny/data/${s.key}`, data: s.data })),
      { name: 'tiny/version', data: Buffer.from('3\n') },
    ],
    zip64,
  );
}

function expectTinyTensors(sd: ReturnType<typeof readStateDict>): void {
  expect([...sd.keys()]).toEqual(SPECS.map((s) => s.name));
  expect(sd.get('conv.weight')).toMatchObject({ dtype: 'float32', shape: [2, 1, 2, 2] });
  expect(Array.from(sd.get('conv.weight')!.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  expect(Array.from(sd.get('bn.running_var')!.data)).toEqual([8.5, -9]);
  expect(sd.get('bn.num_batches_tracked')).toMatchObject({ dtype: 'int64', shape: [] });
  expect(Array.from(sd.get('bn.num_batches_tracked')!.data)).toEqual([123456789012]);
  // stride (1, 2): the transpose of a 3×2 row-major storage
  expect(Array.from(sd.get('fc.weight')!.data)).toEqual([1, 3, 5, 2, 4, 6]);
  const half = Array.from(sd.get('half')!.data);
  expect(half.slice(0, 2)).toEqual([1, -2]);
  expect(half[2]).toBeCloseTo(1 / 3, 3);
}

describe('metrics/pth reader', () => {
  it('reads a zip-format state_dict built byte by byte (OrderedDict + _metadata, shared storages, views)', () => {
    expectTinyTensors(readStateDict(zipPth(), 'tiny.pth'));
  });

  it('reads the same through zip64 records', () => {
    expectTinyTensors(readStateDict(zipPth(true), 'tiny.pth'));
  });

  it('reads the legacy (pre-1.6) format', () => {
    expectTinyTensors(readStateDict(legacyFile(stateDictPickle(SPECS, true), STORAGES), 'tiny.pth'));
  });

  it('refuses what a state_dict does not contain, naming the opcode or global', () => {
    const evil = new PickleWriter().proto().global('os', 'system').str('echo hi').tuple1().reduce().stop().bytes();
    expect(() => readStateDict(zipPth(false, evil), 'tiny.pth')).toThrow(
      /tiny\.pth.*global os\.system is not allowed.*GLOBAL 0x63 at byte 2/,
    );
    const inst = new PickleWriter().proto().op(0x69).stop().bytes();
    expect(() => readStateDict(zipPth(false, inst), 'tiny.pth')).toThrow(/unsupported opcode.*INST 0x69 at byte 2/);
    const list = new PickleWriter().proto().emptyList().stop().bytes();
    expect(() => readStateDict(zipPth(false, list), 'tiny.pth')).toThrow(
      /tiny\.pth: the saved object is not a dict of tensors/,
    );
  });

  it('detects corruption, truncation, compression and inconsistent sizes', () => {
    const good = zipPth();
    const bad = good.slice();
    const at = Buffer.from(good).indexOf(Buffer.from(f64([1, 2, 3, 4, 5, 6])));
    bad[at + 3]! ^= 0xff;
    expect(() => readStateDict(bad, 'tiny.pth')).toThrow(/tiny\.pth: entry tiny\/data\/2 is corrupt \(CRC-32/);
    expect(() => readStateDict(good.subarray(0, good.length - 30), 'tiny.pth')).toThrow(
      /tiny\.pth: no end-of-central-directory/,
    );
    const deflated = good.slice();
    const cd = Buffer.from(good).indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    deflated[cd + 10] = 8;
    expect(() => readStateDict(deflated, 'tiny.pth')).toThrow(/entry tiny\/data\.pkl is compressed \(method 8\)/);
    const tooFar = SPECS.map((s) => (s.name === 'bn.running_var' ? { ...s, offset: 9 } : s));
    expect(() => readStateDict(zipPth(false, stateDictPickle(tooFar)), 'tiny.pth')).toThrow(
      /tensor bn\.running_var .* reaches past its storage 0/,
    );
    const wrongNumel = SPECS.map((s) => (s.storage === '2' ? { ...s, numel: 7 } : s));
    expect(() => readStateDict(zipPth(false, stateDictPickle(wrongNumel)), 'tiny.pth')).toThrow(
      /tiny\/data\/2 holds 48 bytes, expected 7 × 8/,
    );
    expect(() => readStateDict(Buffer.from('hello'), 'x.pth')).toThrow(/x\.pth: not a PyTorch file/);
  });

  it('property: any truncation or byte flip either still reads or fails with an Error naming the file', () => {
    const files = [zipPth(), zipPth(true), legacyFile(stateDictPickle(SPECS, true), STORAGES)];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        (which, pos, xor, cut) => {
          const src = files[which]!;
          const p = pos % src.length;
          const bytes = cut ? src.subarray(0, p) : src.slice();
          if (!cut) bytes[p]! ^= xor;
          try {
            readStateDict(bytes, 'prop.pth');
          } catch (err) {
            expect(err).toBeInstanceOf(Error);
            expect((err as Error).message).toMatch(/prop\.pth/);
          }
        },
      ),
      // The example: a flipped byte in a zip64 size field, whose error did not name the file (found by this property).
      { numRuns: 3000, examples: [[1, 1909796545, 69, false]] },
    );
  });

  it('property: plain values written as pickle opcodes read back equal', () => {
    type V = number | string | boolean | null | V[] | { t: V[] } | { d: [string, V][] };
    const leaf = fc.oneof(
      fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
      fc.double({ noNaN: true }),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
    );
    const value: fc.Arbitrary<V> = fc.letrec<{ v: V }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('v'), { maxLength: 4 }),
        fc.record({ t: fc.array(tie('v'), { maxLength: 5 }) }),
        fc.record({ d: fc.uniqueArray(fc.tuple(fc.string(), tie('v')), { maxLength: 4, selector: (e) => e[0] }) }),
      ),
    })).v;
    const write = (w: PickleWriter, v: V): void => {
      if (v === null) w.none();
      else if (typeof v === 'boolean') w.bool(v);
      else if (typeof v === 'string') w.str(v);
      else if (typeof v === 'number') Number.isSafeInteger(v) && !Object.is(v, -0) ? w.int(v) : w.float(v);
      else if (Array.isArray(v)) {
        w.emptyList().put();
        if (v.length) {
          w.mark();
          v.forEach((x) => write(w, x));
          w.appends();
        }
      } else if ('t' in v) {
        w.mark();
        v.t.forEach((x) => write(w, x));
        w.tuple();
      } else {
        w.emptyDict();
        if (v.d.length) {
          w.mark();
          for (const [k, x] of v.d) write(w.str(k), x);
          w.setitems();
        }
      }
    };
    const plain = (x: unknown): unknown =>
      x instanceof PyTuple
        ? { t: x.items.map(plain) }
        : x instanceof PyDict
          ? { d: [...x.map].map(([k, y]) => [k, plain(y)]) }
          : Array.isArray(x)
            ? x.map(plain)
            : x;
    const hooks = { findClass: () => null, persistentLoad: () => null };
    fc.assert(
      fc.property(value, (v) => {
        const w = new PickleWriter().proto();
        write(w, v);
        expect(plain(unpickle(w.stop().bytes(), hooks).value)).toEqual(v);
      }),
      { numRuns: 300 },
    );
  });
});
