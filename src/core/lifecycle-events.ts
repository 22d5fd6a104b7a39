import type { ModelUsage, SessionOutcome } from "./session-report.js";

/**
 * What happens to an issue on this host, as typed events. The issue runner
 * emits them on the host runtime's event bus; logs, benchmarks, the chaos and
 * soak judges, the metrics exporter, the status page and the trend recorder
 * subscribe. Nothing parses
 * log text. Every event names its issue (`owner/repo#N`), the agent and when
 * it happened (ISO time); `at` comes from the runtime's clock.
 *
 * Adding an event: add it to this union with its fields, emit it from the stage
 * that owns the fact, and document it in docs/ARCHITECTURE.md ("Events").
 */
export type { ModelUsage };

interface Base {
  /** `owner/repo#N` */
  issue: string;
  agent: string;
  at: string;
}

export type LifecycleEvent =
  /** `queuedAt`: when the queued label was last added, where the label events said (null otherwise; absent in older event files). */
  | (Base & { type: "claimed"; epoch: number; attempt: number; sessionId: string; mode: "new" | "resume" | "fresh"; queuedAt?: string | null })
  | (Base & { type: "not_claimed"; reason: string })
  | (Base & { type: "worktree_ready"; path: string; startPoint: string; warm?: boolean; ms?: number })
  | (Base & { type: "session_started"; sessionId: string; resume: boolean })
  | (Base & { type: "progress"; turns: number; costUsd: number; lastToolCall: string | null })
  | (Base & { type: "session_ended"; outcome: SessionOutcome; turns: number; costUsd: number; durationMs: number })
  /** Right after session_ended: the session's usage by model, each message counted once; the costs add up to its costUsd. */
  | (Base & { type: "session_usage"; models: ModelUsage[] })
  /** A lease renewal by the heartbeat: renewed, lost (the head is no longer ours), or error (the request failed; retried on the next beat). */
  | (Base & { type: "lease_renewal"; result: "renewed" | "lost" | "error" })
  /** The reclaimer took back a lease that was not renewed in time (`agent` is the holder's): queued again or failed after the last attempt. */
  | (Base & { type: "reclaimed"; reason: "lease_expired"; action: "requeued" | "failed"; attempt: number })
  | (Base & { type: "published"; outcome: SessionOutcome; label: string; pullRequest: number | null; pushed: boolean })
  | (Base & { type: "interrupted"; pushed: boolean; byShutdown: boolean })
  | (Base & { type: "failed"; code: string; message: string })
  | (Base & { type: "fenced" })
  | (Base & { type: "released"; outcome: string; ok: boolean })
  | (Base & { type: "requeued"; reason: "shutdown" })
  /** The daily budget (src/core/daily-budget.ts) held a claimed issue back: no session started, the issue is queued again until `until` (the next UTC midnight). */
  | (Base & { type: "budget_wait"; scope: "repository" | "installation"; spentUsd: number; reservedUsd?: number; capUsd: number; until: string })
  | (Base & { type: "issue_done"; outcome: SessionOutcome | "error" | "waiting"; label: string; pullRequest: number | null; steps: Record<string, number> })
  /** A worker (or app) on this host is ready to claim: its agents, the repositories it works. */
  | { type: "host_started"; at: string; host: string; agents: string[]; repositories: string[] };

export type LifecycleEventType = LifecycleEvent["type"];

/** One event type's fields. */
export type EventOf<T extends LifecycleEventType> = Extract<LifecycleEvent, { type: T }>;
