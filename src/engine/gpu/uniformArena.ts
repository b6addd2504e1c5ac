/**
 * Uniform blocks of the dispatches recorded between two submits, packed into a few large buffers
 * instead of one pooled buffer and one queue.writeBuffer each (tfjs-webgpu's makeUniforms): the blocks
 * are staged on the CPU and each chunk is written once, just before the submit that reads it.
 *
 * Reusing the same chunks every submit is ordered by the queue: a chunk's writeBuffer for submit N+1 is
 * issued after submit N, so it lands after every command of submit N has read the old contents.
 * Within one submit, blocks never overlap (each starts at an aligned offset past the previous one's
 * end), which is what gives every dispatch its own uniform values.
 */

export interface ArenaChunk<B> {
  buffer: B;
  size: number;
  bytes: Uint8Array;
  i32: Int32Array;
  u32: Uint32Array;
  f32: Float32Array;
  /** Bytes handed out since the last flush. */
  used: number;
}

export interface ArenaSlot<B> {
  chunk: ArenaChunk<B>;
  offset: number;
}

export class UniformArena<B> {
  readonly chunks: ArenaChunk<B>[] = [];
  private current = 0;

  constructor(
    /** The device's minUniformBufferOffsetAlignment (a power of two, at least 4). */
    readonly alignment: number,
    readonly chunkBytes: number,
    private readonly makeBuffer: (size: number) => B,
  ) {
    if (!(alignment >= 4 && (alignment & (alignment - 1)) === 0)) {
      throw new Error(`uniform alignment: expected a power of two >= 4, got ${alignment}`);
    }
  }

  /** A zeroed block of `size` bytes (a multiple of 4) for a dispatch recorded before the next flush. */
  alloc(size: number): ArenaSlot<B> {
    for (let i = this.current; ; i++) {
      let chunk = this.chunks[i];
      if (!chunk) {
        const bytes = Math.max(this.chunkBytes, Math.ceil(size / this.alignment) * this.alignment);
        chunk = this.makeChunk(bytes);
        this.chunks.push(chunk);
      }
      const offset = Math.ceil(chunk.used / this.alignment) * this.alignment;
      if (offset + size <= chunk.size) {
        this.current = i;
        chunk.used = offset + size;
        chunk.bytes.fill(0, offset, offset + size);
        return { chunk, offset };
      }
    }
  }

  /** Hands each chunk used since the last flush to `write` (its used prefix), then starts over. */
  flush(write: (chunk: ArenaChunk<B>, used: number) => void): void {
    for (let i = 0; i <= this.current && i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      if (c.used > 0) write(c, c.used);
      c.used = 0;
    }
    this.current = 0;
  }

  /** Bytes handed out since the last flush (blocks plus alignment gaps). */
  pendingBytes(): number {
    return this.chunks.reduce((a, c) => a + c.used, 0);
  }

  private makeChunk(size: number): ArenaChunk<B> {
    const raw = new ArrayBuffer(size);
    return {
      buffer: this.makeBuffer(size),
      size,
      bytes: new Uint8Array(raw),
      i32: new Int32Array(raw),
      u32: new Uint32Array(raw),
      f32: new Float32Array(raw),
      used: 0,
    };
  }
}
