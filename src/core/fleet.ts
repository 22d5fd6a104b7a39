import type { LeaseRecord } from "./lease.js";

/**
 * What the app knows about the issues of every repository it walks, as of its
 * last reconcile pass: the one read model behind `/metrics`, the status page
 * and notifications. Taken by the reconciler from reads it makes anyway (every
 * one conditional, so an unchanged repository costs 304s); a scrape or a page
 * view never calls GitHub, it reads the last snapshot.
 *
 * Live facts of the app's own agents (turns, cost, the last step) come from
 * the lifecycle events (src/core/lifecycle-events.ts), not from here.
 */

/** The harness states an issue shows by its labels; `other` is open with none of them. */
export const fleetStates = ["queued", "claimed", "running", "interrupted", "failed", "needs-review", "done"] as const;
export type FleetState = (typeof fleetStates)[number];

/** The priority classes of `priorityLabels`, and `none` for an issue without one. */
export const fleetPriorities = ["high", "medium", "low", "none"] as const;
export type FleetPriority = (typeof fleetPriorities)[number];

export interface FleetIssue {
  /** `owner/repo` */
  repository: string;
  number: number;
  title: string;
  /** The issue's web page. */
  url: string;
  state: FleetState;
  priority: FleetPriority;
  /** When the issue was opened (ISO). */
  createdAt: string;
  /** When the queued label was added, where known (ISO); the claim wait starts here. */
  queuedAt: string | null;
  /** Queued but not claimable yet: why (a blocker, a backoff), as a person reads it. */
  waiting: string | null;
  /** The lease's head record, where the issue has a lease ref. */
  lease: LeaseRecord | null;
  /** The open pull request of `harness/issue-N`, where known. */
  pullRequest: number | null;
}

export interface FleetRepository {
  /** `owner/repo` */
  repository: string;
  /** When this repository was last read completely (ISO), or null if never. */
  readAt: string | null;
  /** The last pass could not read it: why (the issues are those of the last good read). */
  error: string | null;
}

export interface FleetSnapshot {
  /** When the pass that produced it ended (ISO). */
  takenAt: string;
  repositories: FleetRepository[];
  /** Every open issue with a harness label, in no particular order. */
  issues: FleetIssue[];
}

/** The snapshot before the first pass: nothing known yet. */
export function emptyFleetSnapshot(takenAt: string): FleetSnapshot {
  return { takenAt, repositories: [], issues: [] };
}
