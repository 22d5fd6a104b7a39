import type { SessionOutcome, SessionReport } from "./session-report.js";
import { renderRecordBlock, type SessionRecord } from "./session-record.js";

/**
 * Pure renderers for everything the harness posts. Each comment starts with a
 * hidden marker so the harness finds its own comments again (one tracking
 * comment per issue, one summary per session) instead of posting duplicates.
 */

export const TRACKING_MARKER = "<!-- harness:tracking -->";
export const summaryMarker = (sessionId: string): string => `<!-- harness:summary session=${sessionId} -->`;
export const PR_MARKER = "<!-- harness:pull-request -->";

/** GitHub refuses bodies over 65,536 characters. */
const MAX_BODY = 60_000;
const MAX_FINAL_MESSAGE = 4_000;

const OUTCOME_TEXT: Record<SessionOutcome, string> = {
  success: "✅ success",
  max_turns: "⚠️ stopped at the turn limit",
  max_budget: "⚠️ stopped at the budget limit",
  api_error: "❌ model API error",
  incomplete: "⚠️ ended without a result",
  stalled: "⏸️ stalled (no output) and stopped",
  timed_out: "⏱️ timed out and stopped",
  interrupted: "✋ interrupted",
  crashed: "💥 the CLI crashed",
};

export function describeOutcome(outcome: SessionOutcome): string {
  return OUTCOME_TEXT[outcome];
}

/**
 * Text the model wrote is untrusted: it must not close other issues through a
 * closing keyword, nor notify people through @mentions. A zero-width space
 * keeps it readable and inert.
 */
export function neutralize(text: string): string {
  return text
    .replace(/\b(close[sd]?|fix(e[sd])?|resolve[sd]?)(\s*:?\s+)([\w.-]+\/[\w.-]+)?#(\d+)/gi, "$1$3$4#\u200b$5")
    .replace(/(^|[^\w`])@([A-Za-z0-9])/g, "$1@\u200b$2")
    .replace(/<!--/g, "<!\u200b--");
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n\n… (${text.length - max} more characters)`;
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

export function formatCost(usd: number): string {
  return `$${usd.toFixed(usd < 1 ? 4 : 2)}`;
}

export interface TrackingState {
  issue: number;
  phase: "claimed" | "running" | "publishing" | "done" | "failed" | "interrupted";
  agent: string;
  attempt: number;
  branch: string;
  report?: Pick<SessionReport, "turns" | "costUsd" | "lastToolCall" | "durationMs"> | undefined;
  pullRequest?: number | undefined;
  error?: { code: string; message: string; fix: string } | undefined;
}

const PHASE_TEXT: Record<TrackingState["phase"], string> = {
  claimed: "🔒 claimed, preparing the worktree",
  running: "🏃 working",
  publishing: "📤 publishing the work",
  done: "✅ finished",
  failed: "❌ failed",
  interrupted: "✋ interrupted: the work so far is pushed; /retry continues this session, /retry fresh starts a new one",
};

export function renderTrackingComment(state: TrackingState): string {
  const lines = [
    TRACKING_MARKER,
    `### claude-harness · issue #${state.issue}`,
    "",
    `**${PHASE_TEXT[state.phase]}** · agent \`${state.agent}\` · attempt ${state.attempt} · branch \`${state.branch}\``,
  ];
  if (state.report) {
    const r = state.report;
    lines.push(
      "",
      `Turns ${r.turns} · cost ${formatCost(r.costUsd)} · elapsed ${formatDuration(r.durationMs)}` +
        (r.lastToolCall ? ` · last step \`${neutralize(r.lastToolCall).replace(/`/g, "'")}\`` : ""),
    );
  }
  if (state.pullRequest !== undefined) lines.push("", `Pull request: #${state.pullRequest}`);
  if (state.error) lines.push("", `**${state.error.code}**: ${state.error.message}`, "", `Fix: ${state.error.fix}`);
  return lines.join("\n");
}

export interface SummaryInput {
  issue: number;
  report: SessionReport;
  branch: string;
  pullRequest?: number | undefined;
  commits: number;
  error?: { code: string; message: string; fix: string } | undefined;
  /** Who worked this attempt: the attempt's comment ends as its summary and says so at the bottom. */
  attempt?: { agent: string; number: number } | undefined;
  /** A line under the heading (for example what an interruption kept). */
  note?: string | undefined;
  /** A failed attempt's retry line (src/core/retry-policy.ts describeRetry): retried automatically, or waiting for /retry. */
  retry?: string | undefined;
  /** The publish gate flagged these paths: the pull request is a draft with `label` until a person has looked. */
  review?: { label: string; reasons: { path: string; why: string }[] } | undefined;
  /** How the attempt's worktree was made: warm (a parked worktree of the repository reused) or cold, and how long it took. */
  workspace?: { warm: boolean; ms: number } | undefined;
  /** What the session's prompt carried from the knowledge base (src/core/knowledge-block.ts): the "Knowledge used" section. */
  knowledgeUsed?: KnowledgeUsed[] | undefined;
  /** The attempt's record (src/core/session-record.ts), hidden at the end of the comment as JSON. */
  record?: SessionRecord | undefined;
}

/** The summary's workspace row: warm or cold, and the workspace stage's time. */
export function workspaceRow(workspace: { warm: boolean; ms: number }): string {
  const how = workspace.warm ? "warm (a worktree of this repository reused, reset and cleaned)" : "cold (a new worktree)";
  const took = workspace.ms < 10_000 ? `${(workspace.ms / 1000).toFixed(1)}s` : formatDuration(workspace.ms);
  return `| Workspace | ${how}, ready in ${took} |`;
}

/** One document a prompt carried: its node id and title, and whether it was cut to one line to fit. */
export interface KnowledgeUsed {
  id: string;
  title: string;
  shortened?: boolean;
}

/** The "Knowledge used" section: what the session was given from earlier work (none is said too). */
export function knowledgeUsedBlock(used: KnowledgeUsed[] | undefined): string[] {
  if (used === undefined) return [];
  const items =
    used.length === 0
      ? ["- none (no earlier attempt of this issue, nothing related found)"]
      : used.map((u) => `- ${neutralize(u.title.replace(/[\r\n]/g, " "))} · \`${u.id.replace(/[`\r\n]/g, "?")}\`${u.shortened ? " (one line)" : ""}`);
  return ["", "**Knowledge used**", "", ...items];
}

/** The visible body cut to fit GitHub's limit with the hidden record after it, so the record is never the part cut. */
function withRecord(visible: string, record: SessionRecord | undefined): string {
  if (record === undefined) return truncate(visible, MAX_BODY);
  const hidden = renderRecordBlock(record);
  return `${truncate(visible, MAX_BODY - hidden.length - 200)}\n\n${hidden}`;
}

function reportTable(report: SessionReport): string[] {
  const byName = Object.entries(report.toolCallsByName)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => `${name} ${n}`)
    .join(", ");
  const files = report.filesChanged.length === 0 ? "none" : report.filesChanged.map((f) => `\`${f}\``).join(", ");
  return [
    "| | |",
    "|---|---|",
    `| Outcome | ${describeOutcome(report.outcome)} |`,
    `| Turns | ${report.turns} |`,
    `| Cost | ${formatCost(report.costUsd)} |`,
    `| Duration | ${formatDuration(report.durationMs)} |`,
    `| Tool calls | ${report.toolCalls}${byName ? ` (${byName})` : ""} |`,
    `| Tool errors | ${report.toolErrors} |`,
    `| Permission denials | ${report.permissionDenials} |`,
    `| Files changed | ${neutralize(files)} |`,
    `| Session | \`${report.sessionId ?? "unknown"}\` |`,
  ];
}

function finalMessageBlock(report: SessionReport): string[] {
  const text = report.finalMessage ?? report.errorMessage;
  if (!text) return [];
  const quoted = neutralize(truncate(text.trim(), MAX_FINAL_MESSAGE))
    .split("\n")
    .map((line) => `> ${line}`)
    .join("\n");
  return ["", report.finalMessage ? "**The model's final message**" : "**The error**", "", quoted];
}

export function renderSummaryComment(input: SummaryInput): string {
  const { report } = input;
  const lines = [summaryMarker(report.sessionId ?? "unknown"), `### claude-harness session summary for #${input.issue}`, ""];
  if (input.note) lines.push(`**${input.note}**`, "");
  lines.push(...reportTable(report));
  if (input.workspace) lines.push(workspaceRow(input.workspace));
  lines.push(`| Branch | \`${input.branch}\` (${input.commits} commit${input.commits === 1 ? "" : "s"}) |`);
  if (input.pullRequest !== undefined) lines.push(`| Pull request | #${input.pullRequest} |`);
  if (input.error) lines.push("", `**${input.error.code}**: ${input.error.message}`, "", `Fix: ${input.error.fix}`);
  if (input.retry) lines.push("", retryLine(input.retry));
  lines.push(...finalMessageBlock(report));
  lines.push(...knowledgeUsedBlock(input.knowledgeUsed));
  if (input.attempt) lines.push("", `<sub>agent \`${input.attempt.agent}\` · attempt ${input.attempt.number}</sub>`);
  return withRecord(lines.join("\n"), input.record);
}

/** The attempt's comment when it failed before a session report existed: still a summary, with the error and its fix. */
export function renderFailureSummary(input: {
  issue: number;
  sessionId: string;
  branch: string;
  agent: string;
  attempt: number;
  error: { code: string; message: string; fix: string };
  /** The retry line (src/core/retry-policy.ts describeRetry). */
  retry?: string;
  knowledgeUsed?: KnowledgeUsed[] | undefined;
  record?: SessionRecord | undefined;
}): string {
  const visible = [
    summaryMarker(input.sessionId),
    `### claude-harness session summary for #${input.issue}`,
    "",
    `**${PHASE_TEXT.failed}** · branch \`${input.branch}\``,
    "",
    `**${input.error.code}**: ${input.error.message}`,
    "",
    `Fix: ${input.error.fix}`,
    ...(input.retry ? ["", retryLine(input.retry)] : []),
    ...knowledgeUsedBlock(input.knowledgeUsed),
    "",
    `<sub>agent \`${input.agent}\` · attempt ${input.attempt}</sub>`,
  ].join("\n");
  return withRecord(visible, input.record);
}

/** The retry line as the comment shows it: 🔁 for an automatic retry, ⏸ for one that waits for a person. */
function retryLine(text: string): string {
  return `${text.startsWith("Retrying") ? "🔁" : "⏸"} ${neutralize(text)}`;
}

export const INTERRUPTED_NOTE = PHASE_TEXT.interrupted;

/** The publish gate's list of paths a person must check (CI, ownership, agent config, install scripts), or nothing. */
function reviewBlock(review: SummaryInput["review"]): string[] {
  if (!review || review.reasons.length === 0) return [];
  const items = review.reasons.map((r) => `- \`${r.path.replace(/[`\r\n]/g, "?")}\` ${neutralize(r.why)}`);
  return [
    `**Needs review** (\`${review.label}\`): this pull request changes paths that can run code or change who approves it, so it stays a draft until a person has checked them:`,
    "",
    ...items,
    "",
  ];
}

export function renderPullRequestBody(input: Omit<SummaryInput, "pullRequest">): string {
  const lines = [
    PR_MARKER,
    `Closes #${input.issue}`,
    "",
    `This pull request was written by a Claude Code agent run by claude-harness for issue #${input.issue}.`,
    input.report.outcome === "success"
      ? "The session ended cleanly; review it like any other contribution."
      : "The session did **not** end cleanly, so this pull request is a draft: read the summary before you rely on it.",
    "",
    ...reviewBlock(input.review),
    ...reportTable(input.report),
    ...finalMessageBlock(input.report),
  ];
  return truncate(lines.join("\n"), MAX_BODY);
}

export function renderPullRequestTitle(issue: number, issueTitle: string): string {
  const title = issueTitle.replace(/\s+/g, " ").trim();
  return truncate(`${title} (#${issue})`, 250);
}

export function renderConfigErrorComment(error: { code: string; message: string; fix: string }): string {
  return [
    "<!-- harness:config-error -->",
    `**${error.code}**: ${error.message}`,
    "",
    `Fix: ${error.fix}`,
    "",
    "No session was started; the issue keeps its label.",
  ].join("\n");
}

export const RECLAIM_MARKER = "<!-- harness:reclaimed -->";

export interface AttemptLine {
  attempt: number;
  agent: string;
  outcome: string;
}

/** The comment of the reclaimer when it takes back a lease that was not renewed. */
export function renderReclaimComment(input: {
  agent: string;
  leaseUntil: string;
  attempt: number;
  maxAttempts: number;
  notBefore: string | null;
  requeued: boolean;
  attempts: AttemptLine[];
  /** The retry line (src/core/retry-policy.ts describeRetry): a lost runner is a transient failure. */
  retry?: string;
}): string {
  const lines = [
    RECLAIM_MARKER,
    `**♻️ Reclaimed**: agent \`${input.agent}\` stopped renewing its lease (valid until ${input.leaseUntil}), so attempt ${input.attempt} of ${input.maxAttempts} ended as stalled.`,
    "",
    input.requeued
      ? `The issue is back in the queue; an agent may claim it from ${input.notBefore ?? "now"} on.`
      : `That was the last attempt: the issue is marked failed. Fix what stopped the agents, then label it again or comment \`/retry\`.`,
  ];
  if (input.retry) lines.push("", retryLine(input.retry));
  if (!input.requeued && input.attempts.length > 0) {
    lines.push("", "| Attempt | Agent | Outcome |", "|---|---|---|", ...input.attempts.map((a) => `| ${a.attempt} | \`${a.agent}\` | ${a.outcome} |`));
  }
  return lines.join("\n");
}

/** The one reply when a queue label is refused (src/core/actor-gate.ts): why, and what a writer does instead. */
export function renderLabelRefusedComment(reason: string): string {
  return [
    "<!-- harness:label-refused -->",
    `**EHARNESS_NOT_ALLOWED**: ${reason}.`,
    "",
    "Fix: someone with write, maintain or admin permission on this repository adds the label again.",
    "",
    "No session was started; the label was taken off.",
  ].join("\n");
}
