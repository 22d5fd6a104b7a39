import { BoundedLru } from "./bounded-lru.js";

/**
 * What conditional requests remember: for each request (a key naming the
 * route, its parameters and the page), the ETag of the last 200 and the value
 * made of it. Asked again with `If-None-Match`, GitHub answers 304 and does
 * not count the request against the rate limit; the remembered value stands.
 * A key always maps to values of one type: the `get<T>` of a key is the `T` it
 * was `set` with.
 */
export class EtagCache {
  private readonly entries: BoundedLru<string, { etag: string; value: unknown }>;
  /** Requests answered 304 (free) and 200 (counted), for the logs and the tests. */
  readonly stats = { notModified: 0, fresh: 0 };

  constructor(capacity = 5_000) {
    this.entries = new BoundedLru(capacity);
  }

  get<T>(key: string): { etag: string; value: T } | undefined {
    return this.entries.get(key) as { etag: string; value: T } | undefined;
  }

  set<T>(key: string, etag: string, value: T): void {
    this.entries.set(key, { etag, value });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
