import type { LeaseRecord } from "../../core/lease.js";

/**
 * Lease writes as git: the commit made in a local clone and the ref moved by a
 * push without force (a fast-forward-only compare-and-swap, like the REST
 * PATCH with `force: false`). A push spends none of the installation's REST
 * writes (80 a minute, 500 an hour), which a claim (2) and every renewal (2)
 * otherwise would.
 */
export interface LeaseGitTransport {
  /** Makes the lease commit with `parent` (fetching the lease ref first when the clone lacks it); its sha. */
  commit(record: LeaseRecord, parent: string | null, ref: string): Promise<string>;
  /** Pushes `sha` to `refs/<ref>` without force: landed, rejected (not a fast-forward), or unknown. */
  push(sha: string, ref: string): Promise<"landed" | "rejected" | "unknown">;
}
