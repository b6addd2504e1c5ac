/**
 * The training noise of the next step, drawn on a worker thread while this step is recorded.
 *
 * A step's noise is `chunks` calls of Rng.keyed(...keys).fillNormal(chunk) (one per SA term): about
 * 12 ms of host time per 393,216 values on the H200's host, an eighth of the small model's step, which
 * is bound by host time. The worker runs the same function (normalsFromState) on the same keyed
 * state, so the values are identical whether they were prefetched or drawn here: a resumed run, or a
 * step whose prefetch was missed, draws exactly what an uninterrupted run drew.
 */
import { Worker } from 'node:worker_threads';
import { Rng, normalsFromState, type NormalSource } from './rng';

/** `chunks` draws of `chunk` normals from Rng.keyed(...keys), one after another. */
export interface NoiseRequest {
  keys: number[];
  chunk: number;
  chunks: number;
}

const sameNoiseRequest = (a: NoiseRequest, b: NoiseRequest) =>
  a.chunk === b.chunk &&
  a.chunks === b.chunks &&
  a.keys.length === b.keys.length &&
  a.keys.every((k, i) => k === b.keys[i]);

/** A worker that never answers within this is given up (its draws are made here from then on). */
const WAIT_MS = 30_000;

function workerSource(): string {
  return `
    const { parentPort } = require('node:worker_threads');
    const normals = ${normalsFromState.toString()};
    parentPort.on('message', ({ state, chunk, chunks, buffer, flag }) => {
      const s = Uint32Array.from(state);
      const out = new Float32Array(buffer);
      for (let c = 0; c < chunks; c++) normals(s, out, c * chunk, chunk);
      const f = new Int32Array(flag);
      Atomics.store(f, 0, 1);
      Atomics.notify(f, 0);
    });`;
}

/** Serves the chunks of one drawn noise buffer, in order, to fillNormal calls of the planned size. */
class ChunkSource implements NormalSource {
  private next = 0;

  constructor(
    private readonly data: Float32Array,
    private readonly req: NoiseRequest,
  ) {}

  fillNormal(out: Float32Array, offset = 0, count = out.length - offset): Float32Array {
    const { chunk, chunks } = this.req;
    if (count !== chunk || this.next >= chunks) {
      throw new Error(
        `noise: asked for ${count} values as draw ${this.next + 1}; the step's noise holds ${chunks} draws of ${chunk}`,
      );
    }
    out.set(this.data.subarray(this.next * chunk, (this.next + 1) * chunk), offset);
    this.next++;
    return out;
  }
}

export class NoisePrefetch {
  private worker: Worker | null = null;
  private broken = false;
  /** Two buffers: one serves this step while the worker fills the other for the next. */
  private buffers: SharedArrayBuffer[] = [];
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private inFlight: { req: NoiseRequest; buffer: number } | null = null;
  private turn = 0;
  /** How many draws came from the worker and how many were made on this thread (tests, benchmarks). */
  readonly stats = { prefetched: 0, drawnHere: 0 };

  /**
   * The noise of `req` (waiting for the worker if it is drawing exactly that), then starts drawing
   * `next` on the worker. The source is valid until the call after next.
   */
  draw(req: NoiseRequest, next: NoiseRequest | null): NormalSource {
    const done = this.finishInFlight();
    let buffer: number;
    if (done && sameNoiseRequest(done.req, req)) {
      buffer = done.buffer;
      this.stats.prefetched++;
    } else {
      buffer = this.turn;
      const data = new Float32Array(this.bufferFor(buffer, req), 0, req.chunk * req.chunks);
      const s = Uint32Array.from(Rng.keyed(...req.keys).state());
      for (let c = 0; c < req.chunks; c++) normalsFromState(s, data, c * req.chunk, req.chunk);
      this.stats.drawnHere++;
    }
    this.turn = 1 - buffer;
    if (next) this.start(next, this.turn);
    return new ChunkSource(new Float32Array(this.buffers[buffer]!, 0, req.chunk * req.chunks), req);
  }

  dispose(): void {
    this.finishInFlight();
    void this.worker?.terminate();
    this.worker = null;
  }

  private bufferFor(i: number, req: NoiseRequest): SharedArrayBuffer {
    const bytes = req.chunk * req.chunks * 4;
    if (!this.buffers[i] || this.buffers[i]!.byteLength < bytes) this.buffers[i] = new SharedArrayBuffer(bytes);
    return this.buffers[i]!;
  }

  private start(req: NoiseRequest, buffer: number): void {
    if (this.broken) return;
    if (!this.worker) {
      try {
        this.worker = new Worker(workerSource(), { eval: true });
      } catch {
        this.broken = true;
        return;
      }
      // Training does not wait on it: the process may end while it idles.
      this.worker.unref();
      this.worker.on('error', () => {
        this.broken = true;
      });
    }
    Atomics.store(this.flag, 0, 0);
    const state = Rng.keyed(...req.keys).state();
    const sab = this.bufferFor(buffer, req);
    this.worker.postMessage({ state, chunk: req.chunk, chunks: req.chunks, buffer: sab, flag: this.flag.buffer });
    this.inFlight = { req, buffer };
  }

  /** Waits for the draw in flight; null when there was none or the worker failed to finish it. */
  private finishInFlight(): { req: NoiseRequest; buffer: number } | null {
    const f = this.inFlight;
    if (!f) return null;
    this.inFlight = null;
    if (this.broken || Atomics.wait(this.flag, 0, 0, WAIT_MS) === 'timed-out') {
      this.broken = true;
      void this.worker?.terminate();
      this.worker = null;
      // A worker stopped mid-draw could still write into the old buffers.
      this.buffers = [];
      return null;
    }
    return f;
  }
}
