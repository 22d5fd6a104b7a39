import type { SessionOutcome } from "./session-report.js";

/**
 * What happens to an issue on this host, as typed events. The issue runner
 * emits them on the host runtime's event bus; logs, benchmarks, the chaos and
 * soak judges, and later metrics and the status page subscribe. Nothing parses
 * log text. Every event names its issue (`owner/repo#N`), the agent and when
 * it happened (ISO time); `at` comes from the runtime's clock.
 *
 * Adding an event: add it to this union with its fields, emit it from the stage
 * that owns the fact, and document it in docs/ARCHITECTURE.md ("Events").
 */
interface Base {
  /** `owner/repo#N` */
  issue: string;
  agent: string;
  at: string;
}

export type LifecycleEvent =
  | (Base & { type: "claimed"; epoch: number; attempt: number; sessionId: string; mode: "new" | "resume" | "fresh" })
  | (Base & { type: "not_claimed"; reason: string })
  | (Base & { type: "worktree_ready"; path: string; startPoint: string })
  | (Base & { type: "session_started"; sessionId: string; resume: boolean })
  | (Base & { type: "progress"; turns: number; costUsd: number; lastToolCall: string | null })
  | (Base & { type: "session_ended"; outcome: SessionOutcome; turns: number; costUsd: number; durationMs: number })
  | (Base & { type: "published"; outcome: SessionOutcome; label: string; pullRequest: number | null; pushed: boolean })
  | (Base & { type: "interrupted"; pushed: boolean; byShutdown: boolean })
  | (Base & { type: "failed"; code: string; message: string })
  | (Base & { type: "fenced" })
  | (Base & { type: "released"; outcome: string; ok: boolean })
  | (Base & { type: "requeued"; reason: "shutdown" })
  | (Base & { type: "issue_done"; outcome: SessionOutcome | "error"; label: string; pullRequest: number | null; steps: Record<string, number> })
  /** A worker (or app) on this host is ready to claim: its agents, the repositories it works. */
  | { type: "host_started"; at: string; host: string; agents: string[]; repositories: string[] };

export type LifecycleEventType = LifecycleEvent["type"];

/** One event type's fields. */
export type EventOf<T extends LifecycleEventType> = Extract<LifecycleEvent, { type: T }>;
