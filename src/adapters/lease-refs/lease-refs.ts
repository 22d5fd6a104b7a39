import type { LeaseRecord } from "../../core/lease.js";

/** The answer of a compare-and-swap of a lease ref: it moved, it did not (somebody else's write is there), or nobody knows. */
export type SwapOutcome = "landed" | "rejected" | "unknown";

/** A read of a lease ref: its head and the ETag to ask with next time; unchanged since that ETag; or no ref. */
export type RefRead = { sha: string; etag: string | null } | "notModified" | null;

/** A lease commit as stored: its message (the record as JSON) and its parents. */
export interface LeaseCommit {
  message: string;
  parents: string[];
}

/**
 * The small port the lease protocol (LeaseProtocol) runs over: one git ref per
 * issue, each state a commit on the empty tree. `ref` is named as the REST API
 * names it after `refs/` (`harness/leases/issue-7`).
 *
 * Implementations: RestLeaseRefs (the API), PushLeaseRefs (git push from the
 * host's clone; reads stay on the API), FallbackLeaseRefs (push, then REST for
 * good from the first refusal), MemoryLeaseRefs (the test seam).
 */
export interface LeaseRefs {
  /** The ref's head; `"notModified"` when `etag` still names it (a free request on GitHub); null when there is no ref. */
  read(ref: string, etag?: string): Promise<RefRead>;
  /** A commit by sha: the one way lease commits are read (they are immutable; the protocol keeps what it read). */
  readCommit(sha: string): Promise<LeaseCommit>;
  /** Makes a commit on the empty tree whose message is the record, with `parent` (none: the first); its sha. Moves no ref. */
  commit(record: LeaseRecord, parent: string | null, ref: string): Promise<string>;
  /**
   * Moves `ref` from `expectedOld` (null: create it) to `next`, a commit whose parent is `expectedOld`.
   * "unknown" when the answer is unclear (timeout, 5xx, lost response): the caller reads the ref back.
   */
  compareAndSwap(ref: string, expectedOld: string | null, next: string): Promise<SwapOutcome>;
  /** Whether writes travel as git pushes now (no REST writes spent). */
  readonly writesByPush: boolean;
}
