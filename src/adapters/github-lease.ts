import type { GitHubClient } from "./github-client.js";
import { FallbackLeaseRefs } from "./lease-refs/fallback-lease-refs.js";
import type { LeaseGitTransport } from "./lease-refs/lease-git-transport.js";
import { LeaseProtocol, type LeaseProtocolOptions } from "./lease-refs/lease-protocol.js";
import { PushLeaseRefs } from "./lease-refs/push-lease-refs.js";
import { RestLeaseRefs } from "./lease-refs/rest-lease-refs.js";
import { RetryPolicy, type RetryPolicyOptions } from "./lease-refs/retry-policy.js";

// The surface callers import from here (the protocol and its ports live in ./lease-refs/).
export { EMPTY_TREE } from "./lease-refs/empty-tree.js";
export { classifyFailure } from "./lease-refs/classify-failure.js";
export { rateLimitWaitMs } from "./lease-refs/rate-limit-wait-ms.js";
export type { ClaimResult, LeaseHead, UpdateResult } from "./lease-refs/lease-protocol.js";
export type { LeaseGitTransport } from "./lease-refs/lease-git-transport.js";

export interface LeaseStoreOptions extends RetryPolicyOptions, Pick<LeaseProtocolOptions, "claimRounds" | "etags"> {
  /**
   * Move the lease ref by git push instead of REST writes. Reads stay on the
   * API; a push the host refuses (the ref namespace, permissions) or a git
   * failure falls back to the REST path for the rest of this store's life.
   */
  git?: LeaseGitTransport;
  /** Told when the git path failed and the store went back to REST writes. */
  onGitFallback?: (error: unknown) => void;
}

/**
 * The lease of each issue of one repository on GitHub: the lease protocol
 * (LeaseProtocol) over the REST lease refs, or, with `git`, over pushes from
 * the host's clone that fall back to REST at the first refusal. The retry
 * policy (RetryPolicy) is the only layer retrying the lease's requests; the
 * write budget and the accounting are the Octokit hook's (GitHubClient.api).
 */
export class LeaseStore extends LeaseProtocol {
  constructor(github: GitHubClient, refPrefix: string, options: LeaseStoreOptions = {}) {
    const policy = new RetryPolicy(options);
    const rest = new RestLeaseRefs(github, policy);
    const refs = options.git ? new FallbackLeaseRefs(new PushLeaseRefs(options.git, rest), rest, options.onGitFallback) : rest;
    super(refs, refPrefix, {
      attempts: policy.attempts,
      backoffMs: policy.backoffMs,
      sleep: policy.sleep,
      ...(options.now ? { now: options.now } : {}),
      ...(options.claimRounds !== undefined ? { claimRounds: options.claimRounds } : {}),
      ...(options.etags ? { etags: options.etags } : {}),
    });
  }
}
