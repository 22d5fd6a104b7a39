import type { LeaseRecord } from "../../core/lease.js";
import type { LeaseCommit, LeaseRefs, RefRead, SwapOutcome } from "./lease-refs.js";

/**
 * Writes by push (`push`) until the first refusal, then by REST (`rest`) for
 * good, told once to `onFallback`. A refusal is git failing (thrown: no git,
 * no clone, no credentials) or a push without a clear answer after which the
 * ref reads unchanged (a host that refuses the ref namespace, a hook). Reads
 * go to `rest` always.
 *
 * A commit made in the clone exists only there: after falling back, a swap to
 * it is "unknown" (nothing was pushed), the protocol reads the ref back, finds
 * it unchanged and writes again, committing through REST this time.
 */
export class FallbackLeaseRefs implements LeaseRefs {
  private readonly push: LeaseRefs;
  private readonly rest: LeaseRefs;
  private readonly onFallback: (error: unknown) => void;
  private pushing = true;
  /** Commits made by git (in the clone, not on GitHub). */
  private readonly local = new Set<string>();
  /** Per ref: the head before a push whose answer was unclear, until the next read says what happened. */
  private readonly unclear = new Map<string, string | null>();
  /** Per ref: the head last read, to resolve a "not modified". */
  private readonly seen = new Map<string, string | null>();

  constructor(push: LeaseRefs, rest: LeaseRefs, onFallback: (error: unknown) => void = () => undefined) {
    this.push = push;
    this.rest = rest;
    this.onFallback = onFallback;
  }

  get writesByPush(): boolean {
    return this.pushing;
  }

  private fallBack(error: unknown): void {
    if (!this.pushing) return;
    this.pushing = false;
    this.unclear.clear();
    this.onFallback(error);
  }

  async read(ref: string, etag?: string): Promise<RefRead> {
    const answer = await this.rest.read(ref, etag);
    const head = answer === "notModified" ? (this.seen.get(ref) ?? null) : answer === null ? null : answer.sha;
    if (answer !== "notModified") this.seen.set(ref, head);
    if (this.unclear.has(ref)) {
      const before = this.unclear.get(ref);
      this.unclear.delete(ref);
      if (head === before) this.fallBack(new Error(`the push of refs/${ref} was refused and the ref is unchanged`));
    }
    return answer;
  }

  readCommit(sha: string): Promise<LeaseCommit> {
    return this.rest.readCommit(sha);
  }

  async commit(record: LeaseRecord, parent: string | null, ref: string): Promise<string> {
    if (this.pushing) {
      try {
        const sha = await this.push.commit(record, parent, ref);
        this.local.add(sha);
        if (this.local.size > 1024) this.local.delete(this.local.values().next().value as string);
        return sha;
      } catch (error) {
        this.fallBack(error);
      }
    }
    return this.rest.commit(record, parent, ref);
  }

  async compareAndSwap(ref: string, expectedOld: string | null, next: string): Promise<SwapOutcome> {
    if (!this.local.has(next)) return this.rest.compareAndSwap(ref, expectedOld, next);
    if (!this.pushing) return "unknown";
    let outcome: SwapOutcome;
    try {
      outcome = await this.push.compareAndSwap(ref, expectedOld, next);
    } catch (error) {
      this.fallBack(error);
      return "unknown";
    }
    if (outcome === "unknown") this.unclear.set(ref, expectedOld);
    return outcome;
  }
}
