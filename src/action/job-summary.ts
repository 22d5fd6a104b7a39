import { describeOutcome, formatCost, formatDuration } from "../core/render-comments.js";
import { describeOwner } from "../core/lease.js";
import { budgetWaitLine } from "../core/daily-budget.js";
import type { ReclaimResult } from "../runtime/reclaimer.js";
import type { WorkResult } from "../runtime/work-issue.js";
import type { SummaryCell } from "./action-core.js";
import { processSecrets } from "../adapters/secrets.js";

/** What one run of the Action did with one issue. */
export type IssueRun = { issue: number; claimed: false; reason: string } | { issue: number; claimed: true; result: WorkResult };

const HEADER = ["Issue", "Outcome", "Pull request", "Turns", "Cost", "Duration", "Tool calls", "Session"] as const;

function outcomeText(result: WorkResult): string {
  if (result.outcome === "error") return `❌ harness error${result.error ? ` (${result.error.code})` : ""}`;
  if (result.outcome === "waiting") return `⏸️ ${result.budgetWait ? budgetWaitLine(result.budgetWait) : "daily budget reached"}`;
  return describeOutcome(result.outcome);
}

/** Table cells and lines are inline HTML in the summary: no markup from issue or model text gets through. */
export function escapeCell(text: string): string {
  return processSecrets.redact(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\|/g, "&#124;");
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

const RECLAIM_HEADER = ["Issue", "Previous holder", "Renewed until", "What happened"] as const;

/**
 * Mode reclaim: one row per lease the reclaimer took back (requeued with its
 * not-before time, or failed after its last attempt) or tried to and lost to a
 * renewal; null when it left every lease alone (all live or already free).
 */
export function reclaimSummaryRows(results: readonly ReclaimResult[], repository: string, maxAttempts: number): SummaryCell[][] | null {
  const rows: SummaryCell[][] = [RECLAIM_HEADER.map((data) => ({ data, header: true }))];
  for (const result of results) {
    const issue = `${repository}#${result.issue}`;
    if (result.action === "requeued" || result.action === "failed") {
      const happened =
        result.action === "requeued"
          ? `requeued after attempt ${result.attempt} of ${maxAttempts}, claimable again from ${result.notBefore ?? "now"}`
          : `failed after attempt ${result.attempt} of ${maxAttempts} (the last)`;
      rows.push([issue, escapeCell(describeOwner(result.holder)), escapeCell(result.leaseUntil), escapeCell(happened)]);
    } else if (result.action === "lost-race") {
      rows.push([issue, "", "", escapeCell(`left alone: ${result.reason}`)]);
    }
  }
  return rows.length > 1 ? rows : null;
}
