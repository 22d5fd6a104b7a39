import type { SessionReport } from "./session-report.js";

/**
 * Smart retries: whether an attempt that did not succeed is worked again by
 * itself, and when. Pure: the caller passes the attempt's facts and a random
 * source, and executes the decision (the publisher at the end of a session,
 * the reclaimer for a lost runner) through the lease's `notBefore`, which
 * every host's claim respects.
 *
 * Transient failures are ones another try, a little later, is likely to get
 * past; they are requeued automatically with a backoff. Deterministic ones
 * would fail the same way again (and cost the same again), so they wait for a
 * person's `/retry`. The classes, per outcome of the session taxonomy
 * (src/core/session-report.ts) and per harness error:
 *
 * | what ended the attempt | class | why |
 * |---|---|---|
 * | `api_error` with HTTP 429, 5xx or 529, or a message saying overloaded / rate limited | transient | the model API was busy or failing; it recovers |
 * | `api_error` with another status (400, 401, 403, 404, 413 …) or none | deterministic | the API refused this request; the same request is refused again |
 * | `stalled` (no output for the stall limit; the harness stopped it) | transient | a hung call or a stuck tool; a new session usually gets past it |
 * | the lease not renewed: a lost runner (reclaimed) | transient | the host died or was cut off, not the work |
 * | EHARNESS_SANDBOX (the sandbox failed to start) | transient | a host resource (namespaces, proxy port) that another try or host may have; the code also covers a configuration the sandbox refuses (Bedrock or Vertex with an isolated network), which is retried up to the cap all the same, its comment naming the fix |
 * | `max_turns` | deterministic | the task needs more turns than allowed: a person raises the limit or splits it |
 * | `max_budget` | deterministic | the budget is spent; trying again spends it again |
 * | `timed_out` | deterministic | the session ran out of wall-clock time while working; it would again |
 * | `crashed` with no event at all on the CLI's output: the sandbox (or the CLI in it) did not start | transient | a host resource that another try or host may have |
 * | `crashed` after the CLI started (it exited without a result, or with one it does not define) | deterministic | a broken install, argument or environment repeats |
 * | `incomplete` (the stream ended without a result, exit code 0) | deterministic | the CLI's own behaviour, not a passing condition |
 * | `interrupted` | deterministic | a person stopped it; a person restarts it |
 * | EHARNESS_PUBLISH_REFUSED, EHARNESS_WORKFLOW_PERMISSION (a refused publish) | deterministic | the same changes are refused again |
 * | any other harness error (GitHub, git, configuration …) | deterministic | not known to pass by itself; the comment names the fix |
 *
 * Permission denials never make an outcome transient: a deterministic
 * outcome's reason counts them, since a denied tool is the usual cause of a
 * session that cannot finish.
 *
 * The schedule: the wait before automatic retry k (k = 1, 2, …) is
 * `min(max, base × 4^(k−1))`, then ±20 % uniform jitter: 2, 8, 32 minutes by
 * default (`reclaim.backoffMinutes: 2`, `reclaim.backoffMaxMinutes: 32`). An
 * issue gets at most `reclaim.maxAttempts` attempts (claims, as the lease
 * counts them: a person's `/retry` is an attempt too), so with 3 there are at
 * most two automatic retries.
 */

export type FailureKind = "transient" | "deterministic";

export interface AttemptFailure {
  kind: FailureKind;
  /** Why, for a person: "the model API was overloaded (HTTP 529)". */
  reason: string;
}

export interface RetrySchedule {
  /** The first automatic retry's wait, before jitter. */
  baseMs: number;
  /** No wait longer than this, before jitter. */
  maxMs: number;
  /** Attempts (claims) an issue gets in all. */
  maxAttempts: number;
}

/** Each automatic retry waits this many times longer than the one before (2, 8, 32 minutes). */
export const RETRY_GROWTH = 4;
/** The wait is the schedule's ± this fraction, uniformly. */
export const RETRY_JITTER = 0.2;

export const defaultRetrySchedule: RetrySchedule = { baseMs: 2 * 60_000, maxMs: 32 * 60_000, maxAttempts: 3 };

/** The wait before automatic retry `retry` (1 for the first), jittered by `random()` in [0, 1). */
export function retryBackoffMs(retry: number, schedule: Pick<RetrySchedule, "baseMs" | "maxMs">, random: () => number): number {
  const step = Math.min(schedule.maxMs, schedule.baseMs * RETRY_GROWTH ** Math.max(0, retry - 1));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(step * (1 - RETRY_JITTER + 2 * RETRY_JITTER * r));
}

const OVERLOADED = /overloaded/i;
/** A 429 or 5xx status named in an API error message, as a word of its own. */
const STATUS_IN_MESSAGE = /\b(429|5\d\d)\b/;

function statusIn(message: string): number | null {
  const m = STATUS_IN_MESSAGE.exec(message);
  return m?.[1] !== undefined ? Number(m[1]) : null;
}
const RATE_LIMITED = /rate.?limit|too many requests/i;

/** A session's outcome as transient or deterministic, with why; null for a success. */
export function classifySession(
  report: Pick<SessionReport, "outcome" | "apiErrorStatus" | "errorMessage" | "permissionDenials"> & Partial<Pick<SessionReport, "events">>,
): AttemptFailure | null {
  const denials = report.permissionDenials > 0 ? ` (after ${report.permissionDenials} permission denial${report.permissionDenials === 1 ? "" : "s"})` : "";
  const deterministic = (reason: string): AttemptFailure => ({ kind: "deterministic", reason: `${reason}${denials}` });
  switch (report.outcome) {
    case "success":
      return null;
    case "api_error": {
      const message = report.errorMessage ?? "";
      // The CLI does not always keep the status on the result; its message names it ("Repeated 529 Overloaded errors").
      const status = report.apiErrorStatus ?? statusIn(message);
      if (status === 529 || OVERLOADED.test(message))
        return { kind: "transient", reason: `the model API was overloaded${status !== null ? ` (HTTP ${status})` : ""}` };
      if (status === 429 || RATE_LIMITED.test(message))
        return { kind: "transient", reason: `the model API rate-limited the session${status !== null ? ` (HTTP ${status})` : ""}` };
      if (status !== null && status >= 500 && status <= 599) return { kind: "transient", reason: `the model API failed (HTTP ${status})` };
      return deterministic(`the model API refused the request${status !== null ? ` (HTTP ${status})` : ""}, and would refuse it again`);
    }
    case "stalled":
      return { kind: "transient", reason: "the session stalled (no output for too long)" };
    case "max_turns":
      return deterministic("the session hit max turns");
    case "max_budget":
      return deterministic("the session reached its budget");
    case "timed_out":
      return deterministic("the session ran out of time");
    case "crashed":
      // Not one event: the process died before the CLI printed its first line, which is where a
      // sandbox that cannot start (bwrap refused, a namespace or mount missing) ends.
      if (report.events === 0) return { kind: "transient", reason: "the session's sandbox failed to start (nothing came out of it)" };
      return deterministic("the Claude Code CLI crashed (it ended without a result)");
    case "incomplete":
      return deterministic("the Claude Code CLI ended without a result");
    case "interrupted":
      return deterministic("the session was interrupted");
  }
}

/** A harness error that ended the attempt (the failure summary's code). */
export function classifyError(code: string): AttemptFailure {
  switch (code) {
    case "EHARNESS_SANDBOX":
      return { kind: "transient", reason: "the sandbox failed to start" };
    case "EHARNESS_PUBLISH_REFUSED":
      return { kind: "deterministic", reason: "the publish gate refused the changes" };
    case "EHARNESS_WORKFLOW_PERMISSION":
      return { kind: "deterministic", reason: "GitHub refused to publish the workflow changes" };
    default:
      return { kind: "deterministic", reason: `the attempt failed with ${code}` };
  }
}

/** The reclaimer's case: the holder stopped renewing its lease. */
export const LOST_RUNNER: AttemptFailure = { kind: "transient", reason: "the agent's runner was lost (it stopped renewing its lease)" };

export type RetryDecision =
  | { kind: "retry"; failure: AttemptFailure; backoffMs: number; nextAttempt: number; maxAttempts: number }
  | { kind: "hold"; failure: AttemptFailure; because: "deterministic" | "last-attempt"; attempt: number; maxAttempts: number };

/** After attempt `attempt` (the lease's count) ended with `failure`: retry it after a backoff, or wait for a person. */
export function decideRetry(failure: AttemptFailure, attempt: number, schedule: RetrySchedule, random: () => number): RetryDecision {
  if (failure.kind === "deterministic") return { kind: "hold", failure, because: "deterministic", attempt, maxAttempts: schedule.maxAttempts };
  if (attempt >= schedule.maxAttempts) return { kind: "hold", failure, because: "last-attempt", attempt, maxAttempts: schedule.maxAttempts };
  // Retry k follows attempt k: the first retry (after attempt 1) waits the base.
  return {
    kind: "retry",
    failure,
    backoffMs: retryBackoffMs(Math.max(1, attempt), schedule, random),
    nextAttempt: attempt + 1,
    maxAttempts: schedule.maxAttempts,
  };
}

/** Minutes for a person: "~8 min", "~45 s" under a minute. */
function roughly(ms: number): string {
  if (ms < 60_000) return `~${Math.max(1, Math.round(ms / 1000))} s`;
  return `~${Math.round(ms / 60_000)} min`;
}

/** The line the attempt's summary or failure comment carries. */
export function describeRetry(decision: RetryDecision): string {
  if (decision.kind === "retry") {
    return `Retrying automatically in ${roughly(decision.backoffMs)} (attempt ${decision.nextAttempt} of ${decision.maxAttempts}): ${decision.failure.reason}.`;
  }
  if (decision.because === "last-attempt") {
    return `Not retried automatically: ${decision.failure.reason}, and that was attempt ${decision.attempt} of ${decision.maxAttempts}; comment \`/retry\` to try again.`;
  }
  return `Not retried automatically: ${decision.failure.reason}; comment \`/retry\` to try again.`;
}

/** The schedule a repository's `reclaim` configuration sets (shared with the reclaimer: one schedule). */
export function retryScheduleOf(config: { reclaim: { maxAttempts: number; backoffMinutes: number; backoffMaxMinutes: number } }): RetrySchedule {
  return { baseMs: config.reclaim.backoffMinutes * 60_000, maxMs: config.reclaim.backoffMaxMinutes * 60_000, maxAttempts: config.reclaim.maxAttempts };
}
