import { describe, expect, it } from "vitest";
import { decideBudget, labelBudget, nextUtcDay, spentOn, utcDay, type BudgetInput } from "../../src/core/daily-budget.js";

const now = new Date("2026-12-03T15:00:00Z");
const base: BudgetInput = {
  now,
  repository: "o/a",
  spend: [],
  repositoryDailyUsd: null,
  installationDailyUsd: null,
  maxBudgetUsd: 10,
  maxIssueUsd: 50,
  labels: [],
};

describe("the daily budget", () => {
  it("starts with the configured session limit when there is no cap and no label", () => {
    expect(decideBudget(base)).toEqual({ kind: "start", sessionUsd: 10, source: "config", labelCapped: false });
  });

  it("counts only the repository's attempts of the same UTC day against its cap, every outcome alike", () => {
    const spend = [
      { repository: "o/a", at: "2026-12-03T00:00:00Z", costUsd: 4 },
      { repository: "o/a", at: "2026-12-03T14:59:59Z", costUsd: 3 },
      { repository: "o/a", at: "2026-12-02T23:59:59Z", costUsd: 100 },
      { repository: "o/b", at: "2026-12-03T10:00:00Z", costUsd: 100 },
    ];
    expect(spentOn(spend, "2026-12-03", "o/a")).toBe(7);
    expect(spentOn(spend, "2026-12-03")).toBe(107);
    const decision = decideBudget({ ...base, spend, repositoryDailyUsd: 12 });
    // 5 dollars are left of the cap: the session may not spend its configured 10.
    expect(decision).toEqual({ kind: "start", sessionUsd: 5, source: "repository cap", labelCapped: false });
  });

  it("waits until the next UTC midnight at a cap, and names the repository cap before the installation's", () => {
    const spend = [{ repository: "o/a", at: "2026-12-03T01:00:00Z", costUsd: 20 }];
    expect(decideBudget({ ...base, spend, repositoryDailyUsd: 20, installationDailyUsd: 20 })).toEqual({
      kind: "wait",
      scope: "repository",
      capUsd: 20,
      spentUsd: 20,
      until: "2026-12-04T00:00:00.000Z",
    });
    // Another repository's spend reaches the installation's cap, not this repository's.
    const other = [{ repository: "o/b", at: "2026-12-03T01:00:00Z", costUsd: 30 }];
    expect(decideBudget({ ...base, spend: other, repositoryDailyUsd: 20, installationDailyUsd: 25 })).toMatchObject({
      kind: "wait",
      scope: "installation",
      spentUsd: 30,
    });
  });

  it("starts again the next day (the same spend, a later clock)", () => {
    const spend = [{ repository: "o/a", at: "2026-12-03T01:00:00Z", costUsd: 20 }];
    const input = { ...base, spend, repositoryDailyUsd: 20 };
    expect(decideBudget(input).kind).toBe("wait");
    expect(decideBudget({ ...input, now: new Date("2026-12-04T00:00:00Z") })).toMatchObject({ kind: "start", sessionUsd: 10 });
  });

  it("waits rather than start a session with less than a cent", () => {
    const spend = [{ repository: "o/a", at: "2026-12-03T01:00:00Z", costUsd: 19.996 }];
    expect(decideBudget({ ...base, spend, repositoryDailyUsd: 20 })).toMatchObject({ kind: "wait", scope: "repository" });
  });

  it("takes a budget:N label as the session limit, bounded by maxIssueUsd", () => {
    expect(decideBudget({ ...base, labels: ["bug", "budget:25"] })).toEqual({ kind: "start", sessionUsd: 25, source: "label", labelCapped: false });
    expect(decideBudget({ ...base, labels: ["budget:500"] })).toEqual({ kind: "start", sessionUsd: 50, source: "label", labelCapped: true });
    // A label may also lower the limit.
    expect(decideBudget({ ...base, labels: ["budget:2.5"] })).toMatchObject({ sessionUsd: 2.5 });
  });

  it("reads only well-formed positive budget labels, the highest of several", () => {
    expect(labelBudget(["budget:3", "budget:7"])).toBe(7);
    expect(labelBudget(["budget:", "budget:-1", "budget:0", "budget:1e9", "Budget:5", "budget:5x", "xbudget:5"])).toBeNull();
  });

  it("ignores spend it cannot date or count", () => {
    const spend = [
      { repository: "o/a", at: "not a time", costUsd: 50 },
      { repository: "o/a", at: "2026-12-03T01:00:00Z", costUsd: Number.NaN },
      { repository: "o/a", at: "2026-12-03T01:00:00Z", costUsd: -5 },
    ];
    expect(spentOn(spend, "2026-12-03")).toBe(0);
    expect(utcDay("nope")).toBeNull();
    expect(nextUtcDay(new Date("2026-12-31T23:59:59Z"))).toBe("2027-01-01T00:00:00.000Z");
  });
});
