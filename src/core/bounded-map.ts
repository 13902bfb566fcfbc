// A Map that keeps only its `limit` most recently added keys (the oldest goes first): memos of
// long text and of server answers stay small however long a run goes.
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly limit: number) {
    super();
  }

  override set(key: K, value: V): this {
    super.set(key, value);
    if (this.size > this.limit) this.delete(this.keys().next().value as K);
    return this;
  }

  /** The value kept for `key`, else `make()`'s, kept. */
  getOrMake(key: K, make: () => V): V {
    if (this.has(key)) return this.get(key) as V;
    const value = make();
    this.set(key, value);
    return value;
  }
}
