import { describeOutcome, formatCost, formatDuration } from "../core/render-comments.js";
import type { WorkResult } from "../worker/work-issue.js";
import type { SummaryCell } from "./action-core.js";
import { processSecrets } from "../adapters/secrets.js";

/** What one run of the Action did with one issue. */
export type IssueRun = { issue: number; claimed: false; reason: string } | { issue: number; claimed: true; result: WorkResult };

const HEADER = ["Issue", "Outcome", "Pull request", "Turns", "Cost", "Duration", "Tool calls", "Session"] as const;

function outcomeText(result: WorkResult): string {
  if (result.outcome === "error") return `❌ harness error${result.error ? ` (${result.error.code})` : ""}`;
  return describeOutcome(result.outcome);
}

/** Table cells are inline HTML in the summary: no markup from issue or model text gets through. */
function escapeCell(text: string): string {
  return processSecrets
    .redact(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\|/g, "&#124;");
}

/**
 * The session report of each issue as one table row, for the job summary
 * (`GITHUB_STEP_SUMMARY`). Issues that were not claimed get a row saying why.
 */
export function jobSummaryRows(runs: readonly IssueRun[], repository: string): SummaryCell[][] {
  const rows: SummaryCell[][] = [HEADER.map((data) => ({ data, header: true }))];
  for (const run of runs) {
    const issue = `${repository}#${run.issue}`;
    if (!run.claimed) {
      rows.push([issue, escapeCell(`not claimed: ${run.reason}`), "", "", "", "", "", ""]);
      continue;
    }
    const { result } = run;
    const report = result.report;
    rows.push([
      issue,
      escapeCell(outcomeText(result)),
      result.pullRequest === null ? "" : `#${result.pullRequest}`,
      report ? String(report.turns) : "",
      report ? formatCost(report.costUsd) : "",
      report ? formatDuration(report.durationMs) : "",
      report ? String(report.toolCalls) : "",
      report?.sessionId ? escapeCell(report.sessionId) : "",
    ]);
  }
  return rows;
}

/** The errors of the runs, one line each (`#7: EHARNESS_X: message Fix: …`), for under the table. */
export function jobSummaryErrors(runs: readonly IssueRun[]): string[] {
  const lines: string[] = [];
  for (const run of runs) {
    if (run.claimed && run.result.error) {
      const error = run.result.error;
      lines.push(escapeCell(`#${run.issue}: ${error.code}: ${error.message} Fix: ${error.fix}`));
    }
  }
  return lines;
}
