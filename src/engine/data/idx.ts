/**
 * IDX files (MNIST, Fashion-MNIST, KMNIST...): a 4-byte magic (0, 0, dtype, ndims), ndims uint32 BE
 * dimensions, then the data. Only unsigned-byte data is meaningful for images and labels.
 */
import { basename } from 'node:path';
import type { RawDataset } from './raw';
import { gunzipDeclared, isGzip, readFileChecked } from './raw';
import { checkPixelLimit } from './imageDecode';

const UBYTE = 0x08;
const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;

const FASHION_NAMES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
const DIGIT_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

/** Magic and dimensions from the first bytes; throws for a wrong magic or an image over the pixel limit. */
interface IdxHeader {
  dims: number[];
  headerLen: number;
}

function parseIdxHeader(path: string, buf: Buffer, expectMagic: number, what: string): IdxHeader {
  if (buf.length < 4) throw new Error(`${path}: truncated: expected at least 4 bytes of IDX magic, got ${buf.length}`);
  const magic = buf.readUInt32BE(0);
  if (magic !== expectMagic) {
    if (buf[0] === 0 && buf[1] === 0 && buf[2] !== UBYTE && (magic & 0xff) === (expectMagic & 0xff)) {
      throw new Error(
        `${path}: IDX data type 0x${buf[2]!.toString(16).padStart(2, '0')} is not supported, expected unsigned byte (0x08)`,
      );
    }
    const hint =
      magic === LABELS_MAGIC && expectMagic === IMAGES_MAGIC
        ? ' (this is an IDX labels file; pass the images file, e.g. train-images-idx3-ubyte)'
        : magic === IMAGES_MAGIC && expectMagic === LABELS_MAGIC
          ? ' (this is an IDX images file, not labels)'
          : '';
    throw new Error(`${path}: not an IDX ${what} file: expected magic ${hex(expectMagic)}, got ${hex(magic)}${hint}`);
  }
  const ndims = expectMagic & 0xff;
  const headerLen = 4 + 4 * ndims;
  if (buf.length < headerLen)
    throw new Error(`${path}: truncated: expected ${headerLen} header bytes, got ${buf.length}`);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  if (ndims === 3) {
    try {
      checkPixelLimit(dims[2]!, dims[1]!, 'each image');
    } catch (err) {
      throw new Error(`${path}: ${(err as Error).message}`);
    }
  }
  return { dims, headerLen };
}

const dataLength = (h: IdxHeader): number => h.headerLen + h.dims.reduce((a, b) => a * b, 1);

function parseIdx(path: string, buf: Buffer, expectMagic: number, what: string): IdxArray {
  const { dims, headerLen } = parseIdxHeader(path, buf, expectMagic, what);
  const expected = dataLength({ dims, headerLen });
  if (buf.length < expected)
    throw new Error(`${path}: truncated: dimensions ${dims.join('x')} need ${expected} bytes, got ${buf.length}`);
  if (buf.length > expected)
    throw new Error(
      `${path}: ${buf.length - expected} unexpected trailing bytes after ${dims.join('x')} data (expected ${expected} bytes, got ${buf.length})`,
    );
  return { dims, data: new Uint8Array(buf.subarray(headerLen, expected)) };
}

/** Reads an IDX file, gunzipping it when gzip without ever inflating more than its header declares. */
function readIdxArray(path: string, expectMagic: number, kind: 'images' | 'labels'): IdxArray {
  let buf = readFileChecked(path, `IDX ${kind} file`);
  if (isGzip(buf)) {
    const headerLen = 4 + 4 * (expectMagic & 0xff);
    buf = gunzipDeclared(path, buf, headerLen, (head) => dataLength(parseIdxHeader(path, head, expectMagic, kind)));
  }
  return parseIdx(path, buf, expectMagic, kind);
}

/**
 * The labels file that the standard MNIST names pair with an images file, e.g.
 * train-images-idx3-ubyte.gz → train-labels-idx1-ubyte.gz, t10k-images.idx3-ubyte → t10k-labels.idx1-ubyte.
 * Returns candidate names (with and without .gz); undefined when the name does not follow the pattern.
 */
export function pairedLabelNames(imagesPath: string): string[] | undefined {
  const name = basename(imagesPath);
  const m = /^(.*)images([-.])idx3([-.]ubyte)(\.gz)?$/i.exec(name);
  if (!m) return undefined;
  const base = `${m[1]}labels${m[2]}idx1${m[3]}`;
  return m[4] ? [base + m[4], base] : [base, base + '.gz'];
}

export interface IdxOptions {
  labelsPath?: string;
}

export function readIdx(imagesPath: string, opts: IdxOptions = {}): RawDataset {
  const images = readIdxArray(imagesPath, IMAGES_MAGIC, 'images');
  const [count, height, width] = images.dims as [number, number, number];
  if (count < 1 || height < 1 || width < 1)
    throw new Error(`${imagesPath}: IDX images file has empty dimensions ${images.dims.join('x')}`);
  const raw: RawDataset = { pixels: images.data, count, height, width, channels: 1, skipped: [] };
  if (opts.labelsPath === undefined) return raw;

  const labelsArr = readIdxArray(opts.labelsPath, LABELS_MAGIC, 'labels');
  const n = labelsArr.dims[0]!;
  if (n !== count) {
    throw new Error(`${opts.labelsPath}: label count mismatch: ${n} labels for ${count} images in ${imagesPath}`);
  }
  const labels = Int32Array.from(labelsArr.data);
  let max = 0;
  for (const l of labels) if (l > max) max = l;
  const isFashion = /fashion/i.test(imagesPath);
  const classNames = max < 10 ? (isFashion ? FASHION_NAMES : DIGIT_NAMES).slice() : undefined;
  return { ...raw, labels, classNames };
}
