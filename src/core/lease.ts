import { z } from "zod";
import { HarnessError } from "./errors.js";
import { followUpSchema, type FollowUp } from "./follow-up.js";

/**
 * The lease record: the JSON message of each commit on `refs/harness/leases/issue-N`.
 * The ref's history is the lease's history; its head is the truth. These are the
 * pure transitions; the GitHub adapter executes them as compare-and-swap writes.
 */

export const leaseStates = ["claimed", "released", "reclaimed", "interrupted"] as const;
export type LeaseState = (typeof leaseStates)[number];

const ownerSchema = z.object({
  agent: z.string().min(1),
  host: z.string().min(1),
  runId: z.string().min(1),
});
export type LeaseOwner = z.infer<typeof ownerSchema>;

const recordSchema = z.object({
  issue: z.number().int().positive(),
  state: z.enum(leaseStates),
  owner: ownerSchema,
  /** Grows by one with every claim: the fencing token of the holder. */
  epoch: z.number().int().nonnegative(),
  /** How many times the issue has been claimed. */
  attempt: z.number().int().nonnegative(),
  /** ISO time until which a claim is valid without renewal. */
  leaseUntil: z.string(),
  /** ISO time before which nobody may claim (backoff); null when none. */
  notBefore: z.string().nullable(),
  sessionId: z.string().nullable(),
  /** The outcome of the session, once released. */
  outcome: z.string().nullable().optional(),
  /**
   * A person's `/retry` on a free lease: the next claim continues the same
   * session (`resume`) or starts a new one that carries the last summary
   * (`fresh`). Copied into that claim so its worker knows; cleared when it ends.
   * `followUp`: the instructions of a follow-up on the pull request (src/core/follow-up.ts).
   */
  retry: z
    .object({ mode: z.enum(["resume", "fresh"]), by: z.string(), followUp: followUpSchema.optional() })
    .nullable()
    .optional(),
  /**
   * Fix sessions the harness started itself on the issue's pull request (src/core/pr-fixes.ts):
   * for failing checks (`ci`) and for a base that conflicts (`conflict`), and the situation the
   * last decision was made for (`lastKey`), so one failure is acted on once. Kept by every transition.
   */
  prFixes: z.object({ ci: z.number().int().nonnegative(), conflict: z.number().int().nonnegative(), lastKey: z.string().nullable() }).optional(),
});
export type LeaseRecord = z.infer<typeof recordSchema>;

/** The message of a lease commit: one JSON object, keys in a fixed order. */
export function serializeLease(record: LeaseRecord): string {
  const ordered: LeaseRecord = {
    issue: record.issue,
    state: record.state,
    owner: { agent: record.owner.agent, host: record.owner.host, runId: record.owner.runId },
    epoch: record.epoch,
    attempt: record.attempt,
    leaseUntil: record.leaseUntil,
    notBefore: record.notBefore,
    sessionId: record.sessionId,
    outcome: record.outcome ?? null,
    retry: record.retry
      ? {
          mode: record.retry.mode,
          by: record.retry.by,
          ...(record.retry.followUp
            ? { followUp: { source: record.retry.followUp.source, by: record.retry.followUp.by, text: record.retry.followUp.text } }
            : {}),
        }
      : null,
    ...(record.prFixes ? { prFixes: { ci: record.prFixes.ci, conflict: record.prFixes.conflict, lastKey: record.prFixes.lastKey } } : {}),
  };
  return JSON.stringify(ordered);
}

export function parseLease(message: string): LeaseRecord {
  let json: unknown;
  try {
    json = JSON.parse(message.trim());
  } catch (cause) {
    throw new HarnessError("EHARNESS_LEASE_CORRUPT", {
      message: "The lease ref points at a commit whose message is not a lease record.",
      fix: "Somebody wrote to the lease ref by hand: delete the ref (git push origin :refs/harness/leases/issue-N) once no agent works the issue.",
      cause,
    });
  }
  const parsed = recordSchema.safeParse(json);
  if (!parsed.success) {
    throw new HarnessError("EHARNESS_LEASE_CORRUPT", {
      message: `The lease record is malformed: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}.`,
      fix: "Delete the lease ref once no agent works the issue; the next claim recreates it.",
    });
  }
  return parsed.data;
}

export function sameOwner(a: LeaseOwner, b: LeaseOwner): boolean {
  return a.agent === b.agent && a.host === b.host && a.runId === b.runId;
}

/** A lease that nobody holds and whose backoff has passed. */
export function isFree(record: LeaseRecord, now: Date): boolean {
  if (record.state === "claimed") return false;
  return record.notBefore === null || Date.parse(record.notBefore) <= now.getTime();
}

export type ClaimDecision = { kind: "claim"; record: LeaseRecord } | { kind: "held"; holder: LeaseRecord; reason: string };

export interface ClaimInput {
  issue: number;
  owner: LeaseOwner;
  now: Date;
  termMs: number;
  sessionId: string | null;
}

/** What a claimer may write on top of the current head (null: no ref yet). */
export function decideClaim(head: LeaseRecord | null, input: ClaimInput): ClaimDecision {
  const record = (previous: LeaseRecord | null): LeaseRecord => ({
    issue: input.issue,
    state: "claimed",
    owner: input.owner,
    epoch: (previous?.epoch ?? 0) + 1,
    attempt: (previous?.attempt ?? 0) + 1,
    leaseUntil: new Date(input.now.getTime() + input.termMs).toISOString(),
    notBefore: null,
    sessionId: input.sessionId,
    outcome: null,
    retry: previous?.retry ?? null,
    ...(previous?.prFixes ? { prFixes: previous.prFixes } : {}),
  });
  if (head === null) return { kind: "claim", record: record(null) };
  if (head.state === "claimed" || !isFree(head, input.now)) {
    return { kind: "held", holder: head, reason: describeLease(head, input.now) };
  }
  return { kind: "claim", record: record(head) };
}

/** Extends our claim. Null when the head is not ours any more (we are fenced). */
export function renewLease(head: LeaseRecord, owner: LeaseOwner, now: Date, termMs: number): LeaseRecord | null {
  if (head.state !== "claimed" || !sameOwner(head.owner, owner)) return null;
  return { ...head, leaseUntil: new Date(now.getTime() + termMs).toISOString() };
}

/**
 * Gives the lease back after a session. `notBefore`: an automatic retry's
 * backoff (src/core/retry-policy.ts), so no host claims it earlier. Null when
 * the head is not ours.
 *
 * `defer`: the claim is handed back before any session started (a daily budget
 * reached, src/core/daily-budget.ts): the attempt is not consumed (the count goes
 * back to the one before this claim) and a person's /retry request is kept for the
 * claim that comes after `notBefore`. The epoch still grows: fencing is unchanged.
 */
export function releaseLease(
  head: LeaseRecord,
  owner: LeaseOwner,
  now: Date,
  details: { outcome: string; sessionId: string | null; notBefore?: string | null; defer?: boolean },
): LeaseRecord | null {
  if (head.state !== "claimed" || !sameOwner(head.owner, owner)) return null;
  return {
    ...head,
    state: "released",
    leaseUntil: now.toISOString(),
    notBefore: details.notBefore ?? head.notBefore,
    sessionId: details.sessionId ?? head.sessionId,
    outcome: details.outcome,
    ...(details.defer ? { attempt: Math.max(0, head.attempt - 1), retry: head.retry ?? null } : { retry: null }),
  };
}

/** A claim whose term ran out without renewal: the reclaimer may take it back. */
export function isExpired(record: LeaseRecord, now: Date): boolean {
  return record.state === "claimed" && Date.parse(record.leaseUntil) <= now.getTime();
}

/**
 * Takes back a claim that was not renewed in time (a stalled or vanished holder).
 * The owner stays the fenced holder, for the history; nobody may claim before
 * `now + backoffMs`. Null when the head is not an expired claim.
 */
export function reclaimLease(head: LeaseRecord, now: Date, details: { backoffMs: number }): LeaseRecord | null {
  if (!isExpired(head, now)) return null;
  return {
    ...head,
    state: "reclaimed",
    leaseUntil: now.toISOString(),
    notBefore: new Date(now.getTime() + Math.max(0, details.backoffMs)).toISOString(),
    outcome: "stalled",
    retry: null,
  };
}

/**
 * An interrupt request (`/interrupt`): a commit on top of the holder's claim, so the
 * holder's next renewal finds a head that is not its own and stops. Null unless claimed.
 */
export function interruptLease(head: LeaseRecord, now: Date): LeaseRecord | null {
  if (head.state !== "claimed") return null;
  return { ...head, state: "interrupted", leaseUntil: now.toISOString(), outcome: "interrupted", retry: null };
}

/** True when `head` is a person's interrupt request on top of the claim `held` (same holder, same epoch). */
export function isInterruptOf(head: LeaseRecord, held: LeaseRecord): boolean {
  return head.state === "interrupted" && sameOwner(head.owner, held.owner) && head.epoch === held.epoch;
}

/**
 * `/retry` (`resume`) or `/retry fresh` on a lease nobody holds: marks what the
 * next claim should do, and lifts any backoff so it may come at once. Null while
 * the lease is claimed (interrupt it first) or when a resume has no session.
 */
export function requestRetry(head: LeaseRecord, mode: "resume" | "fresh", by: string, now: Date, followUp?: FollowUp): LeaseRecord | null {
  if (head.state === "claimed") return null;
  if (mode === "resume" && head.sessionId === null) return null;
  return { ...head, notBefore: now.toISOString(), retry: { mode, by, ...(followUp ? { followUp } : {}) } };
}

/** One line for a person: who holds the lease, or why nobody may claim it yet. */
export function describeLease(record: LeaseRecord, now: Date): string {
  if (record.state === "claimed") return `held by ${describeOwner(record.owner)} until ${record.leaseUntil}`;
  if (!isFree(record, now)) return `${record.state}, backing off until ${record.notBefore ?? "?"}`;
  return `${record.state} by ${describeOwner(record.owner)}, free to claim`;
}

export function describeOwner(owner: LeaseOwner): string {
  return `${owner.agent}@${owner.host} (run ${owner.runId})`;
}

/** `harness/leases/issue-7` – the ref as the REST API names it after `refs/`. */
export function leaseRefName(refPrefix: string, issue: number): string {
  return `${refPrefix}${issue}`;
}
