/**
 * The harness's own fix sessions on its pull request (docs/pull-request-follow-ups.md): when
 * checks fail on the head, or the base moved and the pull request conflicts, the issue is
 * queued again with a follow-up (src/core/follow-up.ts), at most `pr.ciFixAttempts` /
 * `pr.conflictFixAttempts` times per issue; past that, once per kind, the harness gives up and
 * says so (the count then stands one above the limit).
 * Pure: the decision over the lease head and what was read of the pull request.
 */
import type { FollowUp } from "./follow-up.js";
import { renderJobLog, type JobLog } from "./job-log.js";
import type { LeaseRecord } from "./lease.js";

export type PrFixKind = "ci" | "conflict";

/** One failing check of the head: a check run or a commit status, and the tail of its output. */
export interface FailingCheck {
  name: string;
  /** The check run's conclusion, or the status's state. */
  conclusion: string;
  /** The tail of its output (check run: `output.text`, else `output.summary`; status: `description`). */
  output: string;
  url: string | null;
  /** A check run GitHub Actions made is a job, with the same id: its log can be read (`GET …/actions/jobs/{id}/logs`). */
  jobId?: number | null;
  /** The job's log tail, or why there is none (src/core/job-log.ts); absent for checks that are not Actions jobs. */
  log?: JobLog;
}

export type PrFixDecision =
  | { kind: "skip"; reason: string }
  | { kind: "fix"; attempt: number; limit: number; record: LeaseRecord }
  | { kind: "give-up"; attempts: number; record: LeaseRecord };

/** The identity of a situation acted on once: the failing head, or the (base, head) pair that conflicts. */
export const prFixKey = (kind: PrFixKind, head: string, base?: string): string => (kind === "ci" ? `ci:${head}` : `conflict:${base ?? ""}..${head}`);

/**
 * What to do about a failing or conflicting pull request, given the lease head: nothing while
 * an agent works the issue or a follow-up already waits, nothing for a situation already
 * decided (`lastKey`); else a fix session (a retry carrying the follow-up, the backoff lifted),
 * or past the limit a give-up recorded once.
 */
export function decidePrFix(head: LeaseRecord, input: { kind: PrFixKind; key: string; limit: number; followUp: FollowUp; now: Date }): PrFixDecision {
  if (head.state === "claimed") return { kind: "skip", reason: "an agent works the issue" };
  if (head.retry) return { kind: "skip", reason: "a retry already waits" };
  const fixes = head.prFixes ?? { ci: 0, conflict: 0, lastKey: null };
  if (fixes.lastKey === input.key) return { kind: "skip", reason: "already decided for this head" };
  const done = fixes[input.kind];
  // Past the limit the count is bumped once more, so the harness says it gives up once, not at every later failure.
  if (done > input.limit) return { kind: "skip", reason: "the harness gave up" };
  if (done === input.limit) return { kind: "give-up", attempts: done, record: { ...head, prFixes: { ...fixes, [input.kind]: done + 1, lastKey: input.key } } };
  const mode = head.sessionId === null ? "fresh" : "resume";
  return {
    kind: "fix",
    attempt: done + 1,
    limit: input.limit,
    record: {
      ...head,
      notBefore: input.now.toISOString(),
      retry: { mode, by: input.followUp.by, followUp: input.followUp },
      prFixes: { ...fixes, [input.kind]: done + 1, lastKey: input.key },
    },
  };
}

/** At most this much of each check's output reaches the prompt: its end, where the failure usually is. */
export const CHECK_OUTPUT_TAIL_CHARS = 4000;

export function tail(text: string, chars = CHECK_OUTPUT_TAIL_CHARS): string {
  if (text.length <= chars) return text;
  const cut = text.slice(text.length - chars);
  const line = cut.indexOf("\n");
  return `[… ${text.length - chars + (line >= 0 ? line + 1 : 0)} characters before this were cut]\n${line >= 0 ? cut.slice(line + 1) : cut}`;
}

/**
 * The follow-up text of failing checks: each check's name and conclusion, then the tail of its
 * output, and for an Actions job the tail of its log (fenced) or a line saying why there is none.
 */
export function renderFailingChecks(sha: string, checks: readonly FailingCheck[]): string {
  const parts = [`Failing on ${sha}:`];
  for (const c of checks) {
    parts.push("", `### ${c.name} (${c.conclusion})${c.url ? ` ${c.url}` : ""}`, "");
    // An Actions job's check run usually has no output of its own: then its log says it all.
    if (c.output.trim() !== "" || c.log === undefined) parts.push(tail(c.output.trim() === "" ? "(no output)" : c.output));
    if (c.log !== undefined) parts.push(...(c.output.trim() !== "" ? [""] : []), renderJobLog(c.log));
  }
  return parts.join("\n");
}

/** The follow-up text for a base that moved: the harness merged it into the branch before the session. */
export function renderConflictRequest(base: string, files: readonly string[]): string {
  return [
    `The base branch \`${base}\` moved and conflicts with this branch. Before this session the harness ran \`git merge origin/${base}\` in the worktree; the merge is not committed yet and these files hold conflict markers:`,
    "",
    ...files.map((f) => `- ${f}`),
    "",
    "Resolve each conflict so that both sides' intent is kept (the base's changes and this issue's), remove every conflict marker, and make sure the result still works. Leave the merge uncommitted or commit it; the harness commits what is left and pushes the merge without force.",
  ].join("\n");
}

/**
 * The failing checks a fix session is for, under `pr.ciFixChecks`: with `required` and a base
 * branch that requires checks, only the failing ones it requires (by check run name or status
 * context, as GitHub matches them); otherwise all of them. `ignored` are the failing checks left
 * out (optional ones), for the log.
 */
export function checksToFix(
  failing: readonly FailingCheck[],
  mode: "required" | "all",
  required: readonly string[],
): { fix: FailingCheck[]; ignored: FailingCheck[] } {
  if (mode === "all" || required.length === 0) return { fix: [...failing], ignored: [] };
  const wanted = new Set(required);
  return { fix: failing.filter((c) => wanted.has(c.name)), ignored: failing.filter((c) => !wanted.has(c.name)) };
}
