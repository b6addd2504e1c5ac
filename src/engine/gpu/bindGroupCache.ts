/**
 * Bind groups reused across dispatches. device.createBindGroup is the dearest host call of a tfjs
 * dispatch (~11 µs through dawn.node on this machine, against ~2 µs to record the dispatch itself), and a
 * training step binds the same buffers to the same pipelines every step: tfjs' pool hands the buffers
 * out in the same order each time. A bind group is fully determined by its pipeline (the 'auto' layout
 * is the pipeline's own) and the buffer ranges at each binding, so one made for the same key is the same.
 *
 * A bind group that names a destroyed buffer fails validation when used, so every cached group goes when
 * any buffer that was ever bound through this cache is destroyed (pool eviction, which is rare once a
 * training step's pool has settled).
 */

interface Destroyable {
  destroy(): void;
}

export class BindGroupCache<G> {
  private readonly ids = new WeakMap<object, number>();
  private readonly watched = new WeakSet<object>();
  private nextId = 1;
  private readonly groups = new Map<string, G>();
  hits = 0;
  misses = 0;
  clears = 0;

  constructor(private readonly maxEntries = 1 << 15) {}

  /** A number for `o` unique within this cache (pipelines, chunks). */
  idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(o, id);
    }
    return id;
  }

  /** As idOf, for a buffer: its destroy() from now on also empties the cache. */
  bufferId(buf: Destroyable): number {
    const id = this.idOf(buf);
    if (!this.watched.has(buf)) {
      this.watched.add(buf);
      const destroy = buf.destroy;
      const clear = () => this.clear();
      buf.destroy = function (this: Destroyable) {
        clear();
        destroy.call(this);
      };
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
