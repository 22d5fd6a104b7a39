import { serializeLease, type LeaseRecord } from "../../core/lease.js";
import { httpStatus, type GitHubClient } from "../github-client.js";
import { CALLER_RETRIES } from "../github-requests/caller-retries.js";
import { EMPTY_TREE } from "./empty-tree.js";
import type { LeaseCommit, LeaseRefs, RefRead, SwapOutcome } from "./lease-refs.js";
import type { RetryPolicy } from "./retry-policy.js";

/**
 * The lease refs through the REST API: `GET /git/ref/...` (conditional, with
 * the ETag the caller names), `POST /git/commits` on the empty tree, and the
 * compare-and-swap as `POST /git/refs` (create; 422 = it exists) or
 * `PATCH /git/refs/...` with `force: false` (422 = not a fast-forward: moved).
 * Every request goes through `github.api`, so the write budget and the
 * accounting of its Octokit hook see it; retries are the policy's alone.
 */
export class RestLeaseRefs implements LeaseRefs {
  readonly writesByPush = false;
  private readonly github: GitHubClient;
  private readonly policy: RetryPolicy;

  constructor(github: GitHubClient, policy: RetryPolicy) {
    this.github = github;
    this.policy = policy;
  }

  async read(ref: string, etag?: string): Promise<RefRead> {
    const { api, owner, repo } = this.github;
    try {
      const response = await this.policy.idempotent("reading the lease ref", () =>
        api.rest.git.getRef({ owner, repo, ref, request: CALLER_RETRIES, ...(etag !== undefined ? { headers: { "if-none-match": etag } } : {}) }),
      );
      const tag = response.headers.etag;
      return { sha: response.data.object.sha, etag: typeof tag === "string" ? tag : null };
    } catch (error) {
      const status = httpStatus(error);
      if (status === 304 && etag !== undefined) return "notModified";
      if (status === 404) return null;
      throw error;
    }
  }

  async readCommit(sha: string): Promise<LeaseCommit> {
    const { api, owner, repo } = this.github;
    const { data } = await this.policy.idempotent("reading a lease commit", () =>
      api.rest.git.getCommit({ owner, repo, commit_sha: sha, request: CALLER_RETRIES }),
    );
    return { message: data.message, parents: data.parents.map((p) => p.sha) };
  }

  async commit(record: LeaseRecord, parent: string | null, _ref?: string): Promise<string> {
    const { api, owner, repo } = this.github;
    const { data } = await this.policy.idempotent("writing a lease commit", () =>
      api.rest.git.createCommit({ owner, repo, message: serializeLease(record), tree: EMPTY_TREE, parents: parent ? [parent] : [], request: CALLER_RETRIES }),
    );
    return data.sha;
  }

  compareAndSwap(ref: string, expectedOld: string | null, next: string): Promise<SwapOutcome> {
    const { api, owner, repo } = this.github;
    return this.policy.swap("moving the lease ref", () =>
      expectedOld === null
        ? api.rest.git.createRef({ owner, repo, ref: `refs/${ref}`, sha: next, request: CALLER_RETRIES })
        : api.rest.git.updateRef({ owner, repo, ref, sha: next, force: false, request: CALLER_RETRIES }),
    );
  }
}
