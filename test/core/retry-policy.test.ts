import { describe, expect, it } from "vitest";
import {
  classifyError,
  classifySession,
  decideRetry,
  defaultRetrySchedule as schedule,
  describeRetry,
  LOST_RUNNER,
  retryBackoffMs,
  retryScheduleOf,
  type AttemptFailure,
} from "../../src/core/retry-policy.js";
import { parseConfig } from "../../src/core/config.js";
import type { SessionOutcome } from "../../src/core/session-report.js";
import { seeded } from "../support/seeded-random.js";

const MIN = 60_000;
const session = (
  outcome: SessionOutcome,
  over: { apiErrorStatus?: number | null; errorMessage?: string | null; permissionDenials?: number; events?: number } = {},
) => classifySession({ outcome, apiErrorStatus: null, errorMessage: null, permissionDenials: 0, events: 12, ...over });

describe("retry schedule", () => {
  it("waits 2, 8, 32 minutes by default, the configured keys mapping onto it", () => {
    expect([1, 2, 3].map((k) => retryBackoffMs(k, schedule, () => 0.5))).toEqual([2 * MIN, 8 * MIN, 32 * MIN]);
    expect(retryScheduleOf(parseConfig({}))).toEqual(schedule);
    expect(retryScheduleOf(parseConfig({ reclaim: { backoffMinutes: 1, backoffMaxMinutes: 10, maxAttempts: 5 } }))).toEqual({
      baseMs: MIN,
      maxMs: 10 * MIN,
      maxAttempts: 5,
    });
  });

  it("caps the step at the maximum", () => {
    expect(retryBackoffMs(4, schedule, () => 0.5)).toBe(32 * MIN);
    expect(retryBackoffMs(40, schedule, () => 0.5)).toBe(32 * MIN);
  });

  it("jitters uniformly within ±20 %, over 10,000 seeded draws", () => {
    const random = seeded(18);
    for (const k of [1, 2, 3]) {
      const step = [2, 8, 32][k - 1]! * MIN;
      const draws = Array.from({ length: 10_000 }, () => retryBackoffMs(k, schedule, random));
      expect(Math.min(...draws)).toBeGreaterThanOrEqual(step * 0.8);
      expect(Math.max(...draws)).toBeLessThanOrEqual(step * 1.2);
      // Uniform: each fifth of the range holds about a fifth of the draws, and both ends are reached.
      const fifths = [0, 0, 0, 0, 0];
      for (const d of draws) fifths[Math.min(4, Math.floor(((d - step * 0.8) / (step * 0.4)) * 5))]! += 1;
      for (const count of fifths) expect(count).toBeGreaterThan(1_800);
      expect(Math.min(...draws)).toBeLessThan(step * 0.81);
      expect(Math.max(...draws)).toBeGreaterThan(step * 1.19);
    }
  });

  it("keeps an out-of-range random source inside the bounds", () => {
    expect(retryBackoffMs(1, schedule, () => -3)).toBe(0.8 * 2 * MIN);
    expect(retryBackoffMs(1, schedule, () => 7)).toBe(1.2 * 2 * MIN);
  });
});

describe("classification", () => {
  it("calls model API overload, rate limits and 5xx transient", () => {
    expect(session("api_error", { apiErrorStatus: 529 })).toEqual({ kind: "transient", reason: "the model API was overloaded (HTTP 529)" });
    expect(session("api_error", { apiErrorStatus: 429 })).toEqual({ kind: "transient", reason: "the model API rate-limited the session (HTTP 429)" });
    expect(session("api_error", { apiErrorStatus: 500 })?.kind).toBe("transient");
    expect(session("api_error", { apiErrorStatus: 503 })?.kind).toBe("transient");
    expect(session("api_error", { errorMessage: "API Error: Overloaded" })?.kind).toBe("transient");
    // What the CLI writes when it has given up on 529s itself (its result keeps no status).
    expect(session("api_error", { errorMessage: "API Error: Repeated 529 Overloaded errors. The API is at capacity" })).toEqual({
      kind: "transient",
      reason: "the model API was overloaded (HTTP 529)",
    });
    expect(session("api_error", { errorMessage: "API Error: 503 upstream unavailable" })).toEqual({
      kind: "transient",
      reason: "the model API failed (HTTP 503)",
    });
  });

  it("calls other API errors deterministic", () => {
    for (const status of [400, 401, 403, 404, 413]) expect(session("api_error", { apiErrorStatus: status })?.kind).toBe("deterministic");
    expect(session("api_error")?.kind).toBe("deterministic");
  });

  it("calls a stall, a lost runner and a sandbox that did not start transient", () => {
    expect(session("stalled")?.kind).toBe("transient");
    expect(LOST_RUNNER.kind).toBe("transient");
    expect(classifyError("EHARNESS_SANDBOX")).toEqual({ kind: "transient", reason: "the sandbox failed to start" });
    // A process that printed nothing at all never got as far as the CLI: the sandbox did not start.
    expect(session("crashed", { events: 0 })).toEqual({ kind: "transient", reason: "the session's sandbox failed to start (nothing came out of it)" });
  });

  it("calls max turns, budget, time-out, crashes, incomplete streams, interrupts and refused publishes deterministic", () => {
    for (const outcome of ["max_turns", "max_budget", "timed_out", "crashed", "incomplete", "interrupted"] as const) {
      expect(session(outcome)?.kind).toBe("deterministic");
    }
    expect(classifyError("EHARNESS_PUBLISH_REFUSED").kind).toBe("deterministic");
    expect(classifyError("EHARNESS_WORKFLOW_PERMISSION").kind).toBe("deterministic");
    expect(classifyError("EHARNESS_GITHUB")).toEqual({ kind: "deterministic", reason: "the attempt failed with EHARNESS_GITHUB" });
  });

  it("counts permission denials in a deterministic reason, and never retries for them", () => {
    expect(session("max_turns", { permissionDenials: 2 })).toEqual({ kind: "deterministic", reason: "the session hit max turns (after 2 permission denials)" });
  });

  it("is no failure for a success", () => {
    expect(session("success")).toBeNull();
  });
});

describe("decideRetry", () => {
  const overloaded: AttemptFailure = { kind: "transient", reason: "the model API was overloaded (HTTP 529)" };
  const maxTurns: AttemptFailure = { kind: "deterministic", reason: "the session hit max turns" };

  it("retries a transient failure on schedule until the cap, then stops", () => {
    const random = seeded(7);
    const waits: number[] = [];
    let attempt = 1;
    for (;;) {
      const decision = decideRetry(overloaded, attempt, schedule, random);
      if (decision.kind !== "retry") {
        expect(decision).toMatchObject({ because: "last-attempt", attempt: 3, maxAttempts: 3 });
        break;
      }
      expect(decision.nextAttempt).toBe(attempt + 1);
      waits.push(decision.backoffMs);
      attempt = decision.nextAttempt;
    }
    // Attempts 1 and 2 are followed by retries (2 and 8 minutes, jittered); attempt 3 is the last.
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(1.6 * MIN);
    expect(waits[0]).toBeLessThanOrEqual(2.4 * MIN);
    expect(waits[1]).toBeGreaterThanOrEqual(6.4 * MIN);
    expect(waits[1]).toBeLessThanOrEqual(9.6 * MIN);
    // Never beyond the cap, whatever the attempt.
    for (const beyond of [3, 4, 50]) expect(decideRetry(overloaded, beyond, schedule, random).kind).toBe("hold");
    expect(decideRetry(overloaded, 4, { ...schedule, maxAttempts: 5 }, () => 0.5)).toMatchObject({ kind: "retry", backoffMs: 32 * MIN, nextAttempt: 5 });
  });

  it("never retries a deterministic failure automatically", () => {
    for (const attempt of [1, 2, 3]) expect(decideRetry(maxTurns, attempt, schedule, () => 0.5)).toMatchObject({ kind: "hold", because: "deterministic" });
  });

  it("says which kind it was and why", () => {
    expect(describeRetry(decideRetry(overloaded, 2, schedule, () => 0.5))).toBe(
      "Retrying automatically in ~8 min (attempt 3 of 3): the model API was overloaded (HTTP 529).",
    );
    expect(describeRetry(decideRetry(maxTurns, 1, schedule, () => 0.5))).toBe(
      "Not retried automatically: the session hit max turns; comment `/retry` to try again.",
    );
    expect(describeRetry(decideRetry(overloaded, 3, schedule, () => 0.5))).toBe(
      "Not retried automatically: the model API was overloaded (HTTP 529), and that was attempt 3 of 3; comment `/retry` to try again.",
    );
  });
});
