/**
 * Bind groups reused across dispatches. device.createBindGroup is the dearest host call of a tfjs
 * dispatch (~11 µs through dawn.node on this machine, against ~2 µs to record the dispatch itself), and a
 * training step binds the same buffers to the same pipelines every step: tfjs' pool hands the buffers
 * out in the same order each time. A bind group is fully determined by its pipeline (the 'auto' layout
 * is the pipeline's own) and the buffer ranges at each binding, so one made for the same key is the same.
 *
 * Objects are numbered through a WeakMap and numbers are never reused, so a key names the very buffers
 * bound: a buffer the pool destroys is never handed out again, and the groups that name it are merely
 * never hit again (the cache starts over when full, which bounds what they hold on to).
 */

export class BindGroupCache<G> {
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  private readonly groups = new Map<string, G>();
  hits = 0;
  misses = 0;
  clears = 0;

  constructor(private readonly maxEntries = 1 << 15) {}

  /** A number for `o` (pipeline, buffer, uniform chunk), never given to another object by this cache. */
  idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(o, id);
    }
    return id;
  }

  /** The cached group for `key`, or `make()`'s, cached. */
  get(key: string, make: () => G): G {
    const g = this.groups.get(key);
    if (g !== undefined) {
      this.hits++;
      return g;
    }
    this.misses++;
    const made = make();
    if (this.groups.size >= this.maxEntries) this.clear();
    this.groups.set(key, made);
    return made;
  }

  get size(): number {
    return this.groups.size;
  }

  clear(): void {
    if (this.groups.size > 0) this.clears++;
    this.groups.clear();
  }
}
