/** Feature matrices passed between the extractors, the statistics and the metrics. */

/** `rows` feature vectors of length `dim`, row-major. */
export interface FeatureMatrix {
  rows: number;
  dim: number;
  data: Float32Array | Float64Array;
}

export function featureMatrix(
  data: Float32Array | Float64Array,
  rows: number,
  dim: number,
  what = 'features',
): FeatureMatrix {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(dim) || dim <= 0) {
    throw new Error(`${what}: bad shape ${rows}x${dim}`);
  }
  if (data.length !== rows * dim)
    throw new Error(`${what}: expected ${rows}x${dim} = ${rows * dim} values, got ${data.length}`);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!))
      throw new Error(`${what}: value ${i % dim} of row ${Math.floor(i / dim)} is ${data[i]}`);
  }
  return { rows, dim, data };
}

/** The rows at `index`, copied into a new matrix. */
export function gatherRows(m: FeatureMatrix, index: ArrayLike<number>): FeatureMatrix {
  const out = new Float32Array(index.length * m.dim);
  for (let i = 0; i < index.length; i++) {
    const r = index[i]!;
    out.set(m.data.subarray(r * m.dim, (r + 1) * m.dim), i * m.dim);
  }
  return { rows: index.length, dim: m.dim, data: out };
}
