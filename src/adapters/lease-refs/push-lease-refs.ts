import type { LeaseRecord } from "../../core/lease.js";
import type { LeaseGitTransport } from "./lease-git-transport.js";
import type { LeaseCommit, LeaseRefs, RefRead, SwapOutcome } from "./lease-refs.js";

/**
 * The lease refs with writes as git pushes without force from the host's
 * shared clone (src/adapters/git-lease-transport.ts): the push of a commit
 * whose parent is `expectedOld` is the compare-and-swap (git refuses a
 * non-fast-forward). Reads stay on the API (`reads`). Git's own failures
 * (no git, no clone) are thrown; FallbackLeaseRefs decides what they mean.
 */
export class PushLeaseRefs implements LeaseRefs {
  readonly writesByPush = true;
  private readonly git: LeaseGitTransport;
  private readonly reads: Pick<LeaseRefs, "read" | "readCommit">;

  constructor(git: LeaseGitTransport, reads: Pick<LeaseRefs, "read" | "readCommit">) {
    this.git = git;
    this.reads = reads;
  }

  read(ref: string, etag?: string): Promise<RefRead> {
    return this.reads.read(ref, etag);
  }

  readCommit(sha: string): Promise<LeaseCommit> {
    return this.reads.readCommit(sha);
  }

  commit(record: LeaseRecord, parent: string | null, ref: string): Promise<string> {
    return this.git.commit(record, parent, ref);
  }

  compareAndSwap(ref: string, _expectedOld: string | null, next: string): Promise<SwapOutcome> {
    return this.git.push(next, ref);
  }
}
