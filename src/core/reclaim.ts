import { reclaimLease, type LeaseRecord } from "./lease.js";

/**
 * The reclaimer's decision for one lease: a claim not renewed for longer than
 * its term plus a grace period is taken back. The issue goes back to the queue
 * with a backoff (exponential, with jitter so that reclaimed issues do not all
 * return at once), or, after the last attempt, is given up.
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
  backoffBaseMs: 60_000,
  backoffMaxMs: 30 * 60_000,
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

export type ReclaimDecision = { kind: "keep"; reason: string } | { kind: "reclaim"; requeue: boolean; backoffMs: number; record: LeaseRecord };

/** Backoff before attempt `attempt + 1`: half fixed, half random ("equal jitter"). */
export function backoffMs(attempt: number, policy: ReclaimPolicy, random: () => number): number {
  const exponential = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}

export function decideReclaim(head: LeaseRecord, now: Date, policy: ReclaimPolicy, random: () => number): ReclaimDecision {
  if (head.state !== "claimed") return { kind: "keep", reason: `the lease is ${head.state}` };
  const expiredAt = Date.parse(head.leaseUntil) + policy.graceMs;
  if (Number.isNaN(expiredAt)) return { kind: "keep", reason: "the lease has no valid leaseUntil" };
  if (now.getTime() <= expiredAt) return { kind: "keep", reason: `renewed until ${head.leaseUntil}` };
  const requeue = head.attempt < policy.maxAttempts;
  const wait = requeue ? backoffMs(head.attempt, policy, random) : 0;
  const record = reclaimLease(head, now, { backoffMs: wait });
  if (record === null) return { kind: "keep", reason: "not expired" };
  return { kind: "reclaim", requeue, backoffMs: wait, record };
}
