import { describe, expect, it } from "vitest";
import {
  budgetNotification,
  budgetWaitLine,
  decideBudget,
  labelBudget,
  ledgerMessage,
  nextUtcDay,
  parseLedger,
  parseDailyUsdSetting,
  renderBudgetWaitComment,
  sessionBudgetNote,
  spentOn,
  utcDay,
  type BudgetInput,
} from "../../src/core/daily-budget.js";
import { parseConfig } from "../../src/core/config.js";
import { HarnessError } from "../../src/core/errors.js";

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
      reservedUsd: 0,
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

  it("counts reservations of sessions in flight: a cap they fill waits ten minutes, not until midnight", () => {
    const spend = [{ repository: "o/a", at: "2026-12-03T01:00:00Z", costUsd: 1 }];
    // $1 spent + $3 reserved of a $4 cap: nothing left, but the reservation ends with its session.
    expect(decideBudget({ ...base, spend, repositoryDailyUsd: 4, reserved: [{ repository: "o/a", usd: 3 }] })).toEqual({
      kind: "wait",
      scope: "repository",
      capUsd: 4,
      spentUsd: 1,
      reservedUsd: 3,
      until: "2026-12-03T15:10:00.000Z",
    });
    // A reservation lowers what is left for the next session; another repository's counts only for the installation.
    expect(
      decideBudget({
        ...base,
        repositoryDailyUsd: 10,
        reserved: [
          { repository: "o/a", usd: 6 },
          { repository: "o/b", usd: 9 },
        ],
      }),
    ).toMatchObject({
      kind: "start",
      sessionUsd: 4,
    });
    expect(decideBudget({ ...base, installationDailyUsd: 10, reserved: [{ repository: "o/b", usd: 9.999 }] })).toMatchObject({
      kind: "wait",
      scope: "installation",
      reservedUsd: 9.999,
    });
    // Finished spend at the cap still waits for midnight, even with reservations too.
    expect(decideBudget({ ...base, spend, repositoryDailyUsd: 1, reserved: [{ repository: "o/a", usd: 3 }] })).toMatchObject({
      until: "2026-12-04T00:00:00.000Z",
    });
    // Close to midnight the wait ends at midnight.
    expect(decideBudget({ ...base, now: new Date("2026-12-03T23:55:00Z"), repositoryDailyUsd: 4, reserved: [{ repository: "o/a", usd: 4 }] })).toMatchObject({
      until: "2026-12-04T00:00:00.000Z",
    });
    expect(budgetWaitLine({ scope: "repository", capUsd: 4, spentUsd: 1, reservedUsd: 3, until: "x" })).toBe(
      "daily budget reached ($4.00 ($3.00 reserved by sessions in flight) of $4.00, repository), waits until x",
    );
  });

  it("writes and reads the ledger's reservations, dropping entries that reserve nothing", () => {
    const r = { issue: 7, agent: "agent-1", host: "h", epoch: 2, usd: 3, at: "2026-12-03T10:00:00Z" };
    expect(parseLedger(ledgerMessage([r]))).toEqual([r]);
    expect(parseLedger(JSON.stringify({ reservations: [r, { ...r, usd: -1 }, { ...r, issue: "x" }, null] }))).toEqual([r]);
    expect(parseLedger("not json")).toEqual([]);
    expect(parseLedger("{}")).toEqual([]);
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

describe("the daily budget's words and settings", () => {
  const wait = { kind: "wait", scope: "repository", capUsd: 5, spentUsd: 5.004, reservedUsd: 0, until: "2026-12-04T00:00:00.000Z" } as const;

  it("says which cap, how much of it, and until when, in the tracking comment", () => {
    expect(budgetWaitLine(wait)).toBe("daily budget reached ($5.00 of $5.00, repository), waits until 2026-12-04T00:00:00.000Z");
    const comment = renderBudgetWaitComment({ issue: 7, agent: "agent-1@h", wait: { ...wait, scope: "installation" }, labelQueued: "harness:queued" });
    expect(comment.startsWith("<!-- harness:tracking -->")).toBe(true);
    expect(comment).toContain("daily budget reached ($5.00 of $5.00, installation)");
    expect(comment).toContain("HARNESS_DAILY_USD");
    expect(comment).toContain("`harness:queued`");
  });

  it("notes where a session's limit came from unless it is the configuration's", () => {
    expect(sessionBudgetNote({ kind: "start", sessionUsd: 10, source: "config", labelCapped: false }, 25)).toBeNull();
    expect(sessionBudgetNote({ kind: "start", sessionUsd: 20, source: "label", labelCapped: false }, 25)).toBe(
      "Session budget $20.00: from the issue's budget:N label.",
    );
    expect(sessionBudgetNote({ kind: "start", sessionUsd: 25, source: "label", labelCapped: true }, 25)).toContain("lowered to budget.maxIssueUsd ($25.00)");
    expect(sessionBudgetNote({ kind: "start", sessionUsd: 1.5, source: "repository cap", labelCapped: false }, 25)).toContain("budget.dailyUsd");
    expect(sessionBudgetNote({ kind: "start", sessionUsd: 1.5, source: "installation cap", labelCapped: false }, 25)).toContain("HARNESS_DAILY_USD");
  });

  it("keys the budget notification by repository and UTC day, so it goes out once a day", () => {
    const a = budgetNotification("o/a", wait, new Date("2026-12-03T10:00:00Z"));
    const b = budgetNotification("o/a", { ...wait, spentUsd: 9 }, new Date("2026-12-03T23:00:00Z"));
    const c = budgetNotification("o/a", wait, new Date("2026-12-04T00:00:01Z"));
    const d = budgetNotification("o/b", wait, new Date("2026-12-03T10:00:00Z"));
    expect(a).toMatchObject({ repository: "o/a", event: "budget", issue: 0 });
    expect(a.sha).toBe(b.sha);
    expect(new Set([a.sha, c.sha, d.sha]).size).toBe(3);
  });

  it("reads HARNESS_DAILY_USD: unset is no cap, a positive number is the cap, anything else EHARNESS_BUDGET_SETTING", () => {
    expect(parseDailyUsdSetting(undefined)).toBeNull();
    expect(parseDailyUsdSetting(" ")).toBeNull();
    expect(parseDailyUsdSetting("50")).toBe(50);
    expect(parseDailyUsdSetting("12.5")).toBe(12.5);
    for (const bad of ["0", "-3", "abc", "1e3", "Infinity", "$50", "5000000"]) {
      const thrown = (() => {
        try {
          parseDailyUsdSetting(bad);
          return null;
        } catch (error) {
          return error;
        }
      })();
      expect(thrown, bad).toBeInstanceOf(HarnessError);
      expect((thrown as HarnessError).code).toBe("EHARNESS_BUDGET_SETTING");
      expect((thrown as HarnessError).fix).toContain("HARNESS_DAILY_USD");
    }
  });

  it("takes budget.dailyUsd and budget.maxIssueUsd from .github/harness.yml (no cap, $25 by default)", () => {
    expect(parseConfig({}).budget).toEqual({ maxIssueUsd: 25 });
    expect(parseConfig({ budget: { dailyUsd: 40, maxIssueUsd: 5 } }).budget).toEqual({ dailyUsd: 40, maxIssueUsd: 5 });
    expect(() => parseConfig({ budget: { dailyUsd: 0 } })).toThrow(/`budget.dailyUsd`/);
    expect(() => parseConfig({ budget: { daily: 5 } })).toThrow(/EHARNESS_CONFIG|budget/);
  });
});
