import { promises as fs } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  neutralize,
  renderPullRequestBody,
  renderSummaryComment,
  renderTrackingComment,
  summaryMarker,
  TRACKING_MARKER,
} from "../../src/core/render-comments.js";
import type { SessionReport } from "../../src/core/session-report.js";

const report: SessionReport = {
  outcome: "success",
  sessionId: "0b6c6a43-1f5e-4a8e-9f3e-2d7c1a4b5c6d",
  model: "claude-sonnet-4-5",
  turns: 4,
  costUsd: 0.0123,
  inputTokens: 1200,
  outputTokens: 340,
  toolCalls: 3,
  toolCallsByName: { Write: 2, Bash: 1 },
  toolErrors: 0,
  permissionDenials: 0,
  filesChanged: ["src/greet-es.js", "test/greet-es.test.js"],
  durationMs: 12_400,
  finalMessage: "Added greetEs. Fixes #12, see @octocat.\nTests pass.",
  errorMessage: null,
  apiErrorStatus: null,
  lastToolCall: "Bash: node --test test/",
  resultSeen: true,
  nonJsonLines: 0,
  events: 17,
};

/** Golden files: set UPDATE_GOLDEN=1 to rewrite them after an intended change. */
async function golden(name: string, actual: string): Promise<void> {
  const file = path.resolve("test/fixtures/golden", name);
  if (process.env.UPDATE_GOLDEN === "1") await fs.writeFile(file, actual);
  expect(actual).toBe(await fs.readFile(file, "utf8"));
}

describe("comment renderers", () => {
  it("renders the summary comment", async () => {
    const body = renderSummaryComment({ issue: 7, report, branch: "harness/issue-7", pullRequest: 8, commits: 2 });
    expect(body.startsWith(summaryMarker(report.sessionId!))).toBe(true);
    await golden("summary-success.md", body);
  });

  it("renders the pull request body, a draft note when the session failed", async () => {
    await golden("pull-request-success.md", renderPullRequestBody({ issue: 7, report, branch: "harness/issue-7", commits: 2 }));
    const failed = renderPullRequestBody({ issue: 7, report: { ...report, outcome: "max_turns" }, branch: "harness/issue-7", commits: 1 });
    expect(failed).toContain("did **not** end cleanly");
    expect(failed).toContain("Closes #7");
  });

  it("renders the tracking comment with progress and errors", async () => {
    const body = renderTrackingComment({
      issue: 7,
      phase: "failed",
      agent: "agent-1@host",
      attempt: 2,
      branch: "harness/issue-7",
      report,
      error: { code: "EHARNESS_PUSH_REJECTED", message: "The branch moved.", fix: "Merge it." },
    });
    expect(body.startsWith(TRACKING_MARKER)).toBe(true);
    await golden("tracking-failed.md", body);
  });
});

describe("neutralize", () => {
  it("makes closing keywords and mentions in model text inert but readable", () => {
    const out = neutralize("Closes #12, fixes: #3, Resolved octo/app#4, mail a@b.c, hi @octocat <!-- x -->");
    expect(out).not.toMatch(/closes #12/i);
    expect(out).not.toMatch(/fixes: #3/i);
    expect(out).not.toMatch(/octo\/app#4/);
    expect(out).toContain("a@b.c");
    expect(out).not.toContain("@octocat");
    expect(out).not.toContain("<!--");
    expect(out.replace(/\u200b/g, "")).toBe("Closes #12, fixes: #3, Resolved octo/app#4, mail a@b.c, hi @octocat <!-- x -->");
  });
});
