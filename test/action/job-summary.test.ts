import { describe, expect, it } from "vitest";
import { actionOutputs } from "../../src/action/main.js";
import { jobSummaryErrors, jobSummaryRows, type IssueRun } from "../../src/action/job-summary.js";
import { HarnessError } from "../../src/core/errors.js";
import type { SessionReport } from "../../src/core/session-report.js";
import type { WorkResult } from "../../src/worker/work-issue.js";

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
    expect(actionOutputs([worked(7, { pullRequest: 9 })], "issue")).toEqual({ outcome: "success", "pr-number": "9", "cost-usd": "0.0123", "session-id": "s-1" });
    expect(actionOutputs([{ issue: 7, claimed: false, reason: "closed" }], "issue")).toEqual({ outcome: "not_claimed", "pr-number": "", "cost-usd": "", "session-id": "" });
    expect(actionOutputs([], "worker").outcome).toBe("none");
    const two = [worked(1, { pullRequest: 2 }), worked(3, { outcome: "max_turns", pullRequest: 4, report: report({ outcome: "max_turns", sessionId: "s-2", costUsd: 0.5 }) })];
    expect(actionOutputs(two, "worker")).toEqual({ outcome: "max_turns", "pr-number": "2 4", "cost-usd": "0.5123", "session-id": "s-1 s-2" });
  });
});
