import { describe, expect, it } from "vitest";
import { rollupDay, trendRecordOf, trendRollup, type DayRollup } from "../../src/core/trend-rollup.js";
import type { LifecycleEvent } from "../../src/core/lifecycle-events.js";

const ended = (issue: string, at: string, outcome: "success" | "api_error", costUsd: number): LifecycleEvent => ({
  type: "session_ended",
  issue,
  agent: "a",
  at,
  outcome,
  turns: 1,
  costUsd,
  durationMs: 1000,
});

describe("spend per day, repository and outcome", () => {
  it("adds each repository's sessions by outcome, days and total alike", () => {
    const records = [
      ended("o/api#1", "2026-12-01T10:00:00Z", "success", 1.5),
      ended("o/api#2", "2026-12-01T11:00:00Z", "api_error", 0.25),
      ended("o/web#1", "2026-12-01T12:00:00Z", "success", 2),
      ended("o/api#3", "2026-12-01T13:00:00Z", "success", 0.5),
    ].map((e) => trendRecordOf(e));
    expect(records.every((r) => r?.type === "session_ended" && r.repository !== undefined)).toBe(true);
    const day1 = rollupDay(
      "2026-12-01",
      records.filter((r) => r !== null),
    );
    const day2 = rollupDay(
      "2026-12-02",
      [trendRecordOf(ended("o/web#9", "2026-12-02T01:00:00Z", "success", 4))].filter((r) => r !== null),
    );
    const rollup = trendRollup([day2, day1]);
    expect(rollup.days[0]?.spend).toEqual([
      { repository: "o/api", outcome: "api_error", sessions: 1, costUsd: 0.25 },
      { repository: "o/api", outcome: "success", sessions: 2, costUsd: 2 },
      { repository: "o/web", outcome: "success", sessions: 1, costUsd: 2 },
    ]);
    expect(rollup.total.spend).toEqual([
      { repository: "o/api", outcome: "api_error", sessions: 1, costUsd: 0.25 },
      { repository: "o/api", outcome: "success", sessions: 2, costUsd: 2 },
      { repository: "o/web", outcome: "success", sessions: 2, costUsd: 6 },
    ]);
  });

  it("reads day files written before spend was kept, and records without a repository, as unknown", () => {
    const old: DayRollup = { date: "2026-11-01", claims: 0, sessions: 1, outcomes: { success: 1 }, done: 1, failed: 0, costUsd: 3, sessionSeconds: [1] };
    expect(trendRollup([old]).days[0]?.spend).toEqual([]);
    const legacy = rollupDay("2026-11-02", [
      { key: "k", at: "2026-11-02T00:00:00Z", type: "session_ended", outcome: "success", costUsd: 1, durationMs: 1, turns: 1 },
    ]);
    expect(trendRollup([legacy]).days[0]?.spend).toEqual([{ repository: "unknown", outcome: "success", sessions: 1, costUsd: 1 }]);
  });
});
