import { reclaimLease, type LeaseRecord } from "./lease.js";
import { decideRetry, LOST_RUNNER, retryBackoffMs, type RetryDecision } from "./retry-policy.js";

/**
 * The reclaimer's decision for one lease: a claim not renewed for longer than
 * its term plus a grace period is taken back. A lost runner is a transient
 * failure (src/core/retry-policy.ts): the issue goes back to the queue with the
 * retry schedule's backoff (2, 8, 32 minutes by default, ±20 % jitter so that
 * reclaimed issues do not all return at once), or, after the last attempt, is
 * given up. One schedule for every automatic retry, this one included.
 */
export interface ReclaimPolicy {
  /** Time after `leaseUntil` before a lease counts as abandoned. */
  graceMs: number;
  /** Attempts (claims) an issue gets before it is marked failed. */
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const defaultReclaimPolicy: ReclaimPolicy = {
  graceMs: 2 * 60_000,
  maxAttempts: 3,
  backoffBaseMs: 2 * 60_000,
  backoffMaxMs: 32 * 60_000,
};

/** The policy a repository's `reclaim` configuration sets. */
export function reclaimPolicyOf(config: {
  reclaim: { graceMinutes: number; maxAttempts: number; backoffMinutes: number; backoffMaxMinutes: number };
}): ReclaimPolicy {
  const minute = 60_000;
  return {
    graceMs: config.reclaim.graceMinutes * minute,
    maxAttempts: config.reclaim.maxAttempts,
    backoffBaseMs: config.reclaim.backoffMinutes * minute,
    backoffMaxMs: config.reclaim.backoffMaxMinutes * minute,
  };
}

export type ReclaimDecision =
  { kind: "keep"; reason: string } | { kind: "reclaim"; requeue: boolean; backoffMs: number; record: LeaseRecord; retry: RetryDecision };

/** Backoff before attempt `attempt + 1`: the retry schedule's (base × 4^(attempt−1), capped, ±20 %). */
export function backoffMs(attempt: number, policy: ReclaimPolicy, random: () => number): number {
  return retryBackoffMs(Math.max(1, attempt), { baseMs: policy.backoffBaseMs, maxMs: policy.backoffMaxMs }, random);
}

export function decideReclaim(head: LeaseRecord, now: Date, policy: ReclaimPolicy, random: () => number): ReclaimDecision {
  if (head.state !== "claimed") return { kind: "keep", reason: `the lease is ${head.state}` };
  const expiredAt = Date.parse(head.leaseUntil) + policy.graceMs;
  if (Number.isNaN(expiredAt)) return { kind: "keep", reason: "the lease has no valid leaseUntil" };
  if (now.getTime() <= expiredAt) return { kind: "keep", reason: `renewed until ${head.leaseUntil}` };
  const retry = decideRetry(LOST_RUNNER, head.attempt, { baseMs: policy.backoffBaseMs, maxMs: policy.backoffMaxMs, maxAttempts: policy.maxAttempts }, random);
  const requeue = retry.kind === "retry";
  const wait = retry.kind === "retry" ? retry.backoffMs : 0;
  const record = reclaimLease(head, now, { backoffMs: wait });
  if (record === null) return { kind: "keep", reason: "not expired" };
  return { kind: "reclaim", requeue, backoffMs: wait, record, retry };
}
