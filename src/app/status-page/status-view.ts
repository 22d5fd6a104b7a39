import type { FleetState } from "../../core/fleet.js";

/**
 * What the status page shows, as data: the rows of its table, the agent pool,
 * the 24 h counters and the recent events. Built by `StatusModel` from the
 * fleet snapshot and the host runtime's lifecycle events; rendered by
 * `renderStatusPage` (the whole page) and `renderStatusRow` (one row, for the
 * deltas of `/status/events`).
 */
export interface StatusRow {
  /** `owner/repo#N` */
  key: string;
  repository: string;
  number: number;
  /** The issue's title, where the snapshot knows it (text, escaped when rendered). */
  title: string | null;
  state: FleetState;
  /** Queued but not claimable yet: why. */
  waiting: string | null;
  agent: string | null;
  host: string | null;
  attempt: number | null;
  /** When this process saw the claim (ISO); null when claimed elsewhere. */
  startedAt: string | null;
  turns: number | null;
  costUsd: number | null;
  lastToolCall: string | null;
  /** The last sign of life of this process's agent on the issue (ISO): claim, session start, progress. */
  heartbeatAt: string | null;
  /** The lease's `leaseUntil` (ISO), where the issue has a claimed lease. */
  leaseUntil: string | null;
  issueUrl: string;
  pullRequest: number | null;
  pullRequestUrl: string | null;
  /** The Actions run holding the lease, when the lease's run id is one. */
  runUrl: string | null;
  /** True when this process's own agents produced the live columns. */
  live: boolean;
}

export interface PoolStatus {
  busy: number;
  idle: number;
  max: number;
  /** Jobs handed to the pool that wait for a free agent. */
  waiting: number;
}

export interface StatusCounters {
  /** Issues finished with a successful session in the window. */
  done: number;
  /** Issues finished with any other outcome but an interrupt. */
  failed: number;
  interrupted: number;
  /** done / (done + failed), or null when both are 0. */
  successRate: number | null;
  /** Sum of the sessions' cost in USD. */
  spendUsd: number;
  /** Where the window starts: 24 h ago, or when this process started if that is later (ISO). */
  since: string;
}

export interface RecentEvent {
  at: string;
  type: string;
  /** `owner/repo#N`, or the host for host events. */
  issue: string;
  agent: string | null;
  /** A one-line description (text). */
  text: string;
}

export interface StatusView {
  /** When the view was computed (ISO). */
  at: string;
  /** When the fleet snapshot was taken (ISO). */
  snapshotAt: string;
  rows: StatusRow[];
  pool: PoolStatus | null;
  counters: StatusCounters;
  /** Newest first, at most 50. */
  events: RecentEvent[];
  /** Repositories the last reconcile pass could not read: `owner/repo` and why. */
  errors: { repository: string; error: string }[];
}
