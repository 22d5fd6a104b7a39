import { serializeLease } from "../core/lease.js";
import type { GitCredentials, GitRepository } from "./git.js";
import { EMPTY_TREE } from "./lease-refs/empty-tree.js";
import type { LeaseGitTransport } from "./lease-refs/lease-git-transport.js";

const REMOTE_ATTEMPTS = 4;

export interface GitLeaseTransportOptions {
  /** The host's shared clone of the repository (created on first use). */
  git: GitRepository;
  /** The repository's git URL and fresh credentials, asked for at each use (installation tokens expire). */
  remote: () => Promise<{ url: string; credentials: GitCredentials }>;
}

/**
 * Lease commits made in the shared clone and pushed without force: see
 * LeaseGitTransport (PushLeaseRefs makes the lease refs of it). A commit's parent is usually our own previous lease
 * commit, already in the clone; otherwise (a claim on top of a released or
 * reclaimed lease) the lease ref is fetched first.
 */
export function gitLeaseTransport(options: GitLeaseTransportOptions): LeaseGitTransport {
  const { git } = options;
  // The remote is looked up through the API: a transient failure there (a reset, a 5xx) is no
  // reason to give up pushing (a throw here sends the store back to REST for good), so ask again.
  const remote = async (): Promise<{ url: string; credentials: GitCredentials }> => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await options.remote();
      } catch (error) {
        if (attempt >= REMOTE_ATTEMPTS) throw error;
      }
    }
  };
  let cloned: Promise<void> | null = null;
  // Each lease commit's parent: the head its push expects (the read-back of an unclear push compares to it).
  const parents = new Map<string, string | null>();
  return {
    async commit(record, parent, ref) {
      cloned ??= git.ensureClone().catch((error: unknown) => {
        cloned = null;
        throw error;
      });
      await cloned;
      if (parent !== null && !(await git.hasCommit(parent))) {
        const { url, credentials } = await remote();
        await git.run(["fetch", "--quiet", "--no-tags", url, `+refs/${ref}:refs/${ref}`], { credentials });
      }
      const sha = await git.commitTree(EMPTY_TREE, parent === null ? [] : [parent], serializeLease(record));
      parents.set(sha, parent);
      if (parents.size > 1024) parents.delete(parents.keys().next().value as string);
      return sha;
    },
    async push(sha, ref) {
      const { url, credentials } = await remote();
      // A push cut off before it applied (5xx, reset mid-pack) is sent again; one applied but unanswered is "landed".
      return git.pushRef(url, sha, `refs/${ref}`, credentials, parents.get(sha));
    },
  };
}
