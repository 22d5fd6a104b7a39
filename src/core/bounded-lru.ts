/**
 * A map that keeps at most `capacity` entries and forgets the least recently
 * used one first. Used for webhook delivery ids (a delivery seen twice has no
 * second effect) and for the ETags of conditional requests. Pure: no clock.
 */
export class BoundedLru<K, V> {
  private readonly entries = new Map<K, V>();
  readonly capacity: number;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, not ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** The value, marking the entry as recently used. */
  get(key: K): V | undefined {
    if (!this.entries.has(key)) return undefined;
    const value = this.entries.get(key) as V;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: K, value: V): this {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  /** Adds `key` and returns true, or returns false when it was already there. */
  addIfAbsent(key: K, value: V): boolean {
    if (this.entries.has(key)) return false;
    this.set(key, value);
    return true;
  }
}
