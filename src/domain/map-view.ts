/**
 * A read-only map whose values are derived from another map's on every
 * read: when the source map changes (a configuration reload replaces its
 * flows), every holder of the view sees the change without being told.
 */
export class MapView<K, V, W> implements ReadonlyMap<K, W> {
  constructor(
    private readonly source: ReadonlyMap<K, V>,
    private readonly derive: (value: V) => W,
  ) {}

  get size(): number {
    return this.source.size
  }

  get(key: K): W | undefined {
    const value = this.source.get(key)
    return value === undefined ? undefined : this.derive(value)
  }

  has(key: K): boolean {
    return this.source.has(key)
  }

  keys(): MapIterator<K> {
    return this.source.keys()
  }

  *values(): MapIterator<W> {
    for (const value of this.source.values()) yield this.derive(value)
  }

  *entries(): MapIterator<[K, W]> {
    for (const [key, value] of this.source) yield [key, this.derive(value)]
  }

  [Symbol.iterator](): MapIterator<[K, W]> {
    return this.entries()
  }

  forEach(callback: (value: W, key: K, map: ReadonlyMap<K, W>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this)
  }
}
