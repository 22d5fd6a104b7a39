/** The summary's workspace row: warm or cold, and how long the workspace stage took. */
import { describe, expect, it } from "vitest";
import { renderSummaryComment, workspaceRow } from "../../src/core/render-comments.js";
import type { SessionReport } from "../../src/core/session-report.js";

describe("workspaceRow", () => {
  it("says warm or cold, in tenths of a second under ten seconds", () => {
    expect(workspaceRow({ warm: true, ms: 340 })).toBe("| Workspace | warm (a worktree of this repository reused, reset and cleaned), ready in 0.3s |");
    expect(workspaceRow({ warm: false, ms: 4_260 })).toBe("| Workspace | cold (a new worktree), ready in 4.3s |");
    expect(workspaceRow({ warm: false, ms: 75_000 })).toBe("| Workspace | cold (a new worktree), ready in 1m 15s |");
  });

  it("is in the summary when the workspace is known, and only then", () => {
    const report = {
      sessionId: "s",
      outcome: "success",
      turns: 1,
      costUsd: 0,
      durationMs: 1000,
      toolCalls: 0,
      toolCallsByName: {},
      toolErrors: 0,
      permissionDenials: 0,
      filesChanged: [],
      finalMessage: null,
      errorMessage: null,
      lastToolCall: null,
    } as unknown as SessionReport;
    const withRow = renderSummaryComment({ issue: 1, report, branch: "b", commits: 0, workspace: { warm: true, ms: 100 } });
    expect(withRow).toContain("| Workspace | warm");
    expect(renderSummaryComment({ issue: 1, report, branch: "b", commits: 0 })).not.toContain("| Workspace |");
  });
});
