import { describe, expect, it } from "vitest";
import { actionOutputs } from "../../src/action/main.js";
import { jobSummaryErrors, jobSummaryRows, reclaimSummaryRows, type IssueRun } from "../../src/action/job-summary.js";
import { reclaimOutputs } from "../../src/action/reclaim-mode.js";
import type { ReclaimResult } from "../../src/runtime/reclaimer.js";
import { HarnessError } from "../../src/core/errors.js";
import type { SessionReport } from "../../src/core/session-report.js";
import type { WorkResult } from "../../src/runtime/work-issue.js";

function report(overrides: Partial<SessionReport> = {}): SessionReport {
  return {
    outcome: "success",
    sessionId: "s-1",
    model: null,
    turns: 4,
    costUsd: 0.0123,
    inputTokens: 0,
    outputTokens: 0,
    toolCalls: 3,
    toolCallsByName: {},
    toolErrors: 0,
    permissionDenials: 0,
    filesChanged: [],
    durationMs: 65_000,
    finalMessage: null,
    errorMessage: null,
    apiErrorStatus: null,
    lastToolCall: null,
    resultSeen: true,
    nonJsonLines: 0,
    events: 0,
    ...overrides,
  };
}

function worked(issue: number, result: Partial<WorkResult>): IssueRun {
  return {
    issue,
    claimed: true,
    result: { repository: "o/r", issue, outcome: "success", label: "harness:done", pullRequest: null, report: report(), error: null, pushed: true, ...result },
  };
}

describe("job summary and outputs", () => {
  it("one row per issue with the session report; unclaimed issues say why", () => {
    const runs: IssueRun[] = [
      worked(7, { pullRequest: 9 }),
      { issue: 8, claimed: false, reason: "held by <agent>@host" },
      worked(10, { outcome: "error", report: null, error: new HarnessError("EHARNESS_GIT", { message: "push | rejected", fix: "retry" }) }),
    ];
    expect(jobSummaryRows(runs, "o/r")).toEqual([
      ["Issue", "Outcome", "Pull request", "Turns", "Cost", "Duration", "Tool calls", "Session"].map((data) => ({ data, header: true })),
      ["o/r#7", "✅ success", "#9", "4", "$0.0123", "1m 5s", "3", "s-1"],
      ["o/r#8", "not claimed: held by &lt;agent&gt;@host", "", "", "", "", "", ""],
      ["o/r#10", "❌ harness error (EHARNESS_GIT)", "", "", "", "", "", ""],
    ]);
    expect(jobSummaryErrors(runs)).toEqual(["#10: EHARNESS_GIT: push &#124; rejected Fix: retry"]);
  });

  it("outputs: one issue, or the aggregate of a worker run", () => {
    expect(actionOutputs([worked(7, { pullRequest: 9 })], "issue")).toEqual({
      outcome: "success",
      "pr-number": "9",
      "cost-usd": "0.0123",
      "session-id": "s-1",
      reclaimed: "",
    });
    expect(actionOutputs([{ issue: 7, claimed: false, reason: "closed" }], "issue")).toEqual({
      outcome: "not_claimed",
      "pr-number": "",
      "cost-usd": "",
      "session-id": "",
      reclaimed: "",
    });
    expect(actionOutputs([], "worker").outcome).toBe("none");
    const two = [
      worked(1, { pullRequest: 2 }),
      worked(3, { outcome: "max_turns", pullRequest: 4, report: report({ outcome: "max_turns", sessionId: "s-2", costUsd: 0.5 }) }),
    ];
    expect(actionOutputs(two, "worker")).toEqual({ outcome: "max_turns", "pr-number": "2 4", "cost-usd": "0.5123", "session-id": "s-1 s-2", reclaimed: "" });
  });
});

describe("mode reclaim: job summary and outputs", () => {
  const owner = { agent: "agent-<b>", host: "host-x", runId: "run|1" };
  const results: ReclaimResult[] = [
    { issue: 3, action: "kept", reason: "renewed until 2026-11-26T10:05:00.000Z" },
    { issue: 4, action: "requeued", reason: "…", holder: owner, leaseUntil: "2026-11-26T09:00:00.000Z", attempt: 1, notBefore: "2026-11-26T10:01:30.000Z" },
    { issue: 5, action: "lost-race", reason: "the lease moved (renewed or reclaimed elsewhere) before the reclaim landed" },
    { issue: 6, action: "failed", reason: "…", holder: owner, leaseUntil: "2026-11-26T08:00:00.000Z", attempt: 3, notBefore: null },
  ];

  it("one row per lease taken back or contested, none for the live ones; cells escaped", () => {
    expect(reclaimSummaryRows(results, "o/r", 3)).toEqual([
      ["Issue", "Previous holder", "Renewed until", "What happened"].map((data) => ({ data, header: true })),
      [
        "o/r#4",
        "agent-&lt;b&gt;@host-x (run run&#124;1)",
        "2026-11-26T09:00:00.000Z",
        "requeued after attempt 1 of 3, claimable again from 2026-11-26T10:01:30.000Z",
      ],
      ["o/r#5", "", "", "left alone: the lease moved (renewed or reclaimed elsewhere) before the reclaim landed"],
      ["o/r#6", "agent-&lt;b&gt;@host-x (run run&#124;1)", "2026-11-26T08:00:00.000Z", "failed after attempt 3 of 3 (the last)"],
    ]);
    expect(reclaimSummaryRows([results[0]!], "o/r", 3)).toBeNull();
    expect(reclaimSummaryRows([], "o/r", 3)).toBeNull();
  });

  it("outputs: outcome reclaimed with the issues taken back, or none", () => {
    expect(reclaimOutputs(results)).toEqual({ outcome: "reclaimed", reclaimed: "4 6", "pr-number": "", "cost-usd": "", "session-id": "" });
    expect(reclaimOutputs([results[0]!, results[2]!])).toEqual({ outcome: "none", reclaimed: "", "pr-number": "", "cost-usd": "", "session-id": "" });
    expect(reclaimOutputs([]).outcome).toBe("none");
  });
});
