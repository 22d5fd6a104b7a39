import { createHash } from "node:crypto";
import { serializeLease, type LeaseRecord } from "../../core/lease.js";
import type { LeaseCommit, LeaseRefs, RefRead, SwapOutcome } from "./lease-refs.js";

/**
 * What the next compare-and-swap does, for tests: behave (`normal`), apply the
 * swap but answer "unknown" (a lost response), or not apply it and answer
 * "unknown" (a 5xx before it applied, a reset).
 */
export type MemorySwapFault = "normal" | "landed-unknown" | "lost-unknown";

/**
 * Lease refs in memory, with the semantics of the real ones: a swap lands only
 * from the expected head (create only when absent), commits are immutable and
 * content-addressed, reads carry an ETag and answer "notModified" to it. The
 * test seam of the lease protocol (and of the offline kit): faults are
 * scripted per swap (`faults`), and `advance` writes somebody else's commit.
 */
export class MemoryLeaseRefs implements LeaseRefs {
  readonly writesByPush = false;
  readonly refs = new Map<string, string>();
  readonly commits = new Map<string, LeaseCommit>();
  /** Faults of the next swaps, first first; an empty list behaves. */
  readonly faults: MemorySwapFault[] = [];
  /** Every call, in order, for the tests. */
  readonly calls: Array<{ op: "read" | "readCommit" | "commit" | "swap"; ref?: string; sha?: string; outcome?: SwapOutcome | "notModified" }> = [];
  private made = 0;

  async read(ref: string, etag?: string): Promise<RefRead> {
    const sha = this.refs.get(ref);
    if (sha === undefined) {
      this.calls.push({ op: "read", ref });
      return null;
    }
    if (etag === `"${sha}"`) {
      this.calls.push({ op: "read", ref, sha, outcome: "notModified" });
      return "notModified";
    }
    this.calls.push({ op: "read", ref, sha });
    return { sha, etag: `"${sha}"` };
  }

  async readCommit(sha: string): Promise<LeaseCommit> {
    this.calls.push({ op: "readCommit", sha });
    const commit = this.commits.get(sha);
    if (!commit) throw Object.assign(new Error(`no commit ${sha}`), { status: 404 });
    return commit;
  }

  async commit(record: LeaseRecord, parent: string | null, ref: string): Promise<string> {
    this.made += 1;
    const message = serializeLease(record);
    const sha = createHash("sha1")
      .update(`${parent ?? ""}\n${message}\n${this.made}`)
      .digest("hex");
    this.commits.set(sha, { message, parents: parent === null ? [] : [parent] });
    this.calls.push({ op: "commit", ref, sha });
    return sha;
  }

  async compareAndSwap(ref: string, expectedOld: string | null, next: string): Promise<SwapOutcome> {
    const fault = this.faults.shift() ?? "normal";
    const current = this.refs.get(ref) ?? null;
    let outcome: SwapOutcome;
    if (fault === "lost-unknown") outcome = "unknown";
    else {
      const applies = current === expectedOld && this.commits.has(next);
      if (applies) this.refs.set(ref, next);
      outcome = fault === "landed-unknown" ? "unknown" : applies ? "landed" : "rejected";
    }
    this.calls.push({ op: "swap", ref, sha: next, outcome });
    return outcome;
  }

  /** Somebody else's write: a commit of `record` on top of the current head (or a new ref), moved there unconditionally. */
  async advance(ref: string, record: LeaseRecord): Promise<string> {
    const sha = await this.commit(record, this.refs.get(ref) ?? null, ref);
    this.refs.set(ref, sha);
    return sha;
  }
}
