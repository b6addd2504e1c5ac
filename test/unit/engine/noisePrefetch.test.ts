import { afterEach, describe, expect, it } from 'vitest';
import { NoisePrefetch, type NoiseRequest } from '../../../src/engine/noisePrefetch';
import { Rng } from '../../../src/engine/rng';

/** What prepareLossBatch draws without prefetching: `chunks` fillNormal calls on one keyed stream. */
function direct(req: NoiseRequest): Float32Array[] {
  const rng = Rng.keyed(...req.keys);
  return Array.from({ length: req.chunks }, () => rng.fillNormal(new Float32Array(req.chunk)));
}

function take(source: { fillNormal(out: Float32Array): Float32Array }, req: NoiseRequest): Float32Array[] {
  return Array.from({ length: req.chunks }, () => source.fillNormal(new Float32Array(req.chunk)));
}

describe('NoisePrefetch', () => {
  let pf: NoisePrefetch | null = null;
  afterEach(() => {
    pf?.dispose();
    pf = null;
  });

  it('serves exactly the keyed stream whether drawn ahead on the worker or here (odd chunks drop a value)', () => {
    pf = new NoisePrefetch();
    for (const chunk of [7, 3072]) {
      const req = (step: number): NoiseRequest => ({ keys: [11, 4, step], chunk, chunks: 2 });
      // Steps 1-4 in order (prefetched after the first), then a jump back (a resume): drawn here.
      for (const step of [1, 2, 3, 4, 2, 3]) {
        const got = take(pf.draw(req(step), req(step + 1)), req(step));
        expect(got.map((a) => Array.from(a))).toEqual(direct(req(step)).map((a) => Array.from(a)));
      }
    }
    expect(pf.stats.prefetched).toBeGreaterThanOrEqual(6);
    expect(pf.stats.drawnHere).toBeGreaterThanOrEqual(3);
  });

  it('a served source refuses draws other than the planned ones', () => {
    pf = new NoisePrefetch();
    const req: NoiseRequest = { keys: [1, 4, 1], chunk: 8, chunks: 1 };
    const src = pf.draw(req, null);
    expect(() => src.fillNormal(new Float32Array(6))).toThrow(/asked for 6 values as draw 1; .* 1 draws of 8/);
    src.fillNormal(new Float32Array(8));
    expect(() => src.fillNormal(new Float32Array(8))).toThrow(/as draw 2/);
  });
});
