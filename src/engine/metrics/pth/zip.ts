/**
 * Reader for the zip container of torch.save (PyTorch ≥ 1.6): entries are stored, not compressed
 * (the writer aligns each to 64 bytes through the local header's extra field), and large archives
 * use zip64 records. Reads the central directory, checks each entry's CRC-32 when it is read, and
 * refuses compressed or encrypted entries by name.
 */

export interface ZipEntry {
  name: string;
  /** Offset of the entry's data in the archive. */
  offset: number;
  size: number;
  crc32: number;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function u64(v: DataView, at: number, what: string): number {
  const big = v.getBigUint64(at, true);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} is too large (${big})`);
  return Number(big);
}

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly label = 'zip archive',
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readDirectory();
  }

  private fail(msg: string): never {
    throw new Error(`${this.label}: ${msg}`);
  }

  private need(at: number, len: number, what: string): void {
    if (at < 0 || at + len > this.bytes.length)
      this.fail(`${what} at byte ${at} runs past the end of the file (${this.bytes.length} bytes): truncated?`);
  }

  private readDirectory(): void {
    const v = this.view;
    const len = this.bytes.length;
    // End of central directory: 22 bytes + a comment of up to 65535 bytes, searched from the end.
    let eocd = -1;
    for (let i = len - 22; i >= Math.max(0, len - 22 - 65535); i--) {
      if (v.getUint32(i, true) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) this.fail('no end-of-central-directory record (not a zip file, or truncated)');
    let count = v.getUint16(eocd + 10, true);
    let cdSize = v.getUint32(eocd + 12, true);
    let cdOffset = v.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || v.getUint32(loc, true) !== 0x07064b50)
        this.fail('zip64 sizes announced but no zip64 locator before the end record');
      const z = u64(v, loc + 8, 'zip64 end record offset');
      this.need(z, 56, 'zip64 end record');
      if (v.getUint32(z, true) !== 0x06064b50) this.fail(`no zip64 end record at byte ${z}`);
      count = u64(v, z + 32, 'zip64 entry count');
      cdSize = u64(v, z + 40, 'zip64 directory size');
      cdOffset = u64(v, z + 48, 'zip64 directory offset');
    }
    this.need(cdOffset, cdSize, 'central directory');
    let p = cdOffset;
    for (let e = 0; e < count; e++) {
      this.need(p, 46, `central directory entry ${e}`);
      if (v.getUint32(p, true) !== 0x02014b50) this.fail(`bad central directory entry ${e} at byte ${p}`);
      const flags = v.getUint16(p + 8, true);
      const method = v.getUint16(p + 10, true);
      const crc = v.getUint32(p + 16, true);
      let csize = v.getUint32(p + 20, true);
      let usize = v.getUint32(p + 24, true);
      const nameLen = v.getUint16(p + 28, true);
      const extraLen = v.getUint16(p + 30, true);
      const commentLen = v.getUint16(p + 32, true);
      let local = v.getUint32(p + 42, true);
      this.need(p + 46, nameLen + extraLen + commentLen, `central directory entry ${e}`);
      const name = new TextDecoder().decode(this.bytes.subarray(p + 46, p + 46 + nameLen));
      // zip64 extra field (id 1): the 8-byte values of whichever fields were saturated, in this order.
      let x = p + 46 + nameLen;
      const xEnd = x + extraLen;
      while (x + 4 <= xEnd) {
        const id = v.getUint16(x, true);
        const size = v.getUint16(x + 2, true);
        if (id === 0x0001) {
          let q = x + 4;
          if (usize === 0xffffffff) ((usize = u64(v, q, `${name}: size`)), (q += 8));
          if (csize === 0xffffffff) ((csize = u64(v, q, `${name}: compressed size`)), (q += 8));
          if (local === 0xffffffff) local = u64(v, q, `${name}: offset`);
        }
        x += 4 + size;
      }
      if (flags & 1) this.fail(`entry ${name} is encrypted`);
      if (method !== 0)
        this.fail(`entry ${name} is compressed (method ${method}); torch.save writes stored entries only`);
      if (csize !== usize) this.fail(`entry ${name}: stored sizes differ (${csize} vs ${usize})`);
      this.need(local, 30, `local header of ${name}`);
      if (v.getUint32(local, true) !== 0x04034b50) this.fail(`no local header for ${name} at byte ${local}`);
      const offset = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
      this.need(offset, usize, `data of ${name}`);
      this.entries.set(name, { name, offset, size: usize, crc32: crc });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The entry's bytes (a view into the archive), CRC-checked. */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) this.fail(`no entry ${name}`);
    const data = this.bytes.subarray(e.offset, e.offset + e.size);
    const got = crc32(data);
    if (got !== e.crc32)
      this.fail(`entry ${name} is corrupt (CRC-32 ${got.toString(16)}, expected ${e.crc32.toString(16)})`);
    return data;
  }
}
