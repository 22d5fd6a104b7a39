import type { LeaseRecord } from "./lease.js";

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

export type ReclaimDecision =
  | { kind: "keep"; reason: string }
  | { kind: "reclaim"; record: LeaseRecord; requeue: true; notBefore: string }
  | { kind: "reclaim"; record: LeaseRecord; requeue: false };

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
  if (head.attempt >= policy.maxAttempts) {
    return { kind: "reclaim", requeue: false, record: { ...head, state: "reclaimed", leaseUntil: now.toISOString(), notBefore: null, outcome: "abandoned" } };
  }
  const notBefore = new Date(now.getTime() + backoffMs(head.attempt, policy, random)).toISOString();
  return { kind: "reclaim", requeue: true, notBefore, record: { ...head, state: "reclaimed", leaseUntil: now.toISOString(), notBefore, outcome: "abandoned" } };
}
