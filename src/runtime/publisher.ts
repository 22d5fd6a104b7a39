import type { HarnessConfig } from "../core/config.js";
import { HarnessError, isHarnessError } from "../core/errors.js";
import { planPublication } from "../core/publication-plan.js";
import {
  decidePublication,
  readWorkflowRefusal,
  renderGateReasons,
  touchesWorkflows,
  workflowRefusal,
  type ChangedPath,
  type GateDecision,
  type GateReason,
  type WorkflowCredential,
} from "../core/publish-gate.js";
import { secretsFromEnv } from "../core/redact.js";
import { classifyError, classifySession, decideRetry, describeRetry, retryScheduleOf, type AttemptFailure, type RetryDecision } from "../core/retry-policy.js";
import { redactRecord, sessionRecordOf, type RecordMode, type SessionRecord } from "../core/session-record.js";
import {
  INTERRUPTED_NOTE,
  renderFailureSummary,
  type KnowledgeUsed,
  renderPullRequestBody,
  renderPullRequestTitle,
  renderSummaryComment,
} from "../core/render-comments.js";
import type { SessionReport } from "../core/session-report.js";
import type { StepClock } from "../core/step-clock.js";
import { isDraftUnsupported, type GitHubClient, type IssueData } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import { processSecrets } from "../adapters/secrets.js";
import { readWorkflowPermission } from "../adapters/workflow-permission.js";
import { harnessLabels } from "./claim-issue.js";
import { commitWork } from "./commit-work.js";
import type { LeaseHandle } from "./lease-handle.js";
import { decideSessionSaving } from "../core/session-seal.js";
import { saveSession } from "./session-store.js";
import type { TrackingComment } from "./tracking-comment.js";
import type { Workspace } from "./workspace.js";

export interface PublishContext {
  github: GitHubClient;
  config: HarnessConfig;
  lease: LeaseHandle;
  comment: TrackingComment;
  issue: IssueData;
  sessionId: string;
  attempt: number;
  /** `agent@host` */
  agentName: string;
  branch: string;
  clock: StepClock;
  log: Logger;
  now: () => Date;
  /** Scrubs secrets from the saved session; the process's registry by default. */
  redact?: (text: string) => string;
  /** HARNESS_SESSION_KEY: the saved session is sealed with it. */
  sessionKey?: Buffer;
  /** How the worktree was made (warm or cold) and how long it took, once it is ready: for a failure's summary. */
  workspace?: { warm: boolean; ms: number };
  /** What publishing has done so far, for a failure's summary (the pull request it opened). */
  done: { pullRequest: number | null; pushed: boolean };
  /**
   * Whether the App's token may push workflow files (`workflows: write`). Absent: read from the
   * installation token's permissions when the change set touches `.github/workflows/` (App
   * mode), else unknown, and the push tries; GitHub's refusal is then reported as
   * EHARNESS_WORKFLOW_PERMISSION with the same explanation.
   */
  canWriteWorkflows?: boolean;
  /** Exact secret values the gate looks for in the diff; by default the environment's secrets and the git token. */
  knownSecrets?: () => Promise<string[]>;
  /** Where the session's `--max-budget-usd` came from when it is not the configuration's (a `budget:N` label, what was left of a daily cap): a line of the summary. */
  budgetNote?: string;
  /** The automatic retry's jitter (src/core/retry-policy.ts); Math.random by default. */
  random?: () => number;
  /**
   * The knowledge base's side of publishing (src/core/session-record.ts): what the prompt
   * carried (the summary's "Knowledge used"), how the attempt started, and where its record
   * goes (`refs/harness/knowledge`). Absent: no record, no section.
   */
  knowledge?: {
    used: KnowledgeUsed[];
    mode: RecordMode;
    /** `localOnly`: the publish gate refused the attempt, so nothing of it leaves the host; the record is kept in the attempt's directory. */
    append: (record: SessionRecord, options: { localOnly: boolean }) => Promise<void>;
  };
}

/** The attempt's record, from its report and what publishing did; undefined without the knowledge side. */
function recordOf(
  ctx: PublishContext,
  report: SessionReport | null,
  done: { pullRequest: number | null; headCommit: string | null; error?: { code: string; message: string } },
): SessionRecord | undefined {
  if (!ctx.knowledge) return undefined;
  // The record leaves the host (a comment, a ref): the host's secrets are scrubbed from what the session wrote.
  return redactRecord(
    ctx.redact ?? processSecrets.redact,
    sessionRecordOf({
      repository: ctx.github.fullName,
      issue: ctx.issue.number,
      sessionId: ctx.sessionId,
      attempt: ctx.attempt,
      mode: ctx.knowledge.mode,
      branch: ctx.branch,
      report,
      error: done.error ?? null,
      pullRequest: done.pullRequest,
      headCommit: done.headCommit,
      at: ctx.now().toISOString(),
      knowledgeUsed: ctx.knowledge.used.map((u) => u.id),
    }),
  );
}

/** The publish gate (or GitHub's workflow guard) refused the work: nothing of the attempt is pushed. */
function isGateRefusal(code: string): boolean {
  return code === "EHARNESS_PUBLISH_REFUSED" || code === "EHARNESS_WORKFLOW_PERMISSION";
}

/** Appends the record to the knowledge ref; a failure is logged and costs only the history, never the issue. */
async function keepRecord(ctx: PublishContext, record: SessionRecord | undefined, localOnly = false): Promise<void> {
  if (record === undefined || !ctx.knowledge) return;
  try {
    await ctx.knowledge.append(record, { localOnly });
  } catch (error) {
    ctx.log.warn({ issue: ctx.issue.number, err: error }, "the session record was not appended to refs/harness/knowledge (the summary comment holds it)");
  }
}

export interface Published {
  /** The attempt failed: whether it is retried automatically (and when), or waits for a person. */
  retry?: RetryDecision;
  label: string;
  labels: string[];
  pullRequest: number | null;
  pushed: boolean;
  /** The lease was given back (false: it was not ours any more, logged). */
  released: boolean;
}

/**
 * Saves the session where any runner can resume it; a failure costs only the
 * resume. A public repository's session is pushed only sealed (its tool output
 * would be anyone's to fetch): without HARNESS_SESSION_KEY it is not pushed.
 */
async function keepSession(ctx: PublishContext, workspace: Workspace, home: string): Promise<void> {
  const saving = decideSessionSaving({ hasKey: ctx.sessionKey !== undefined, isPrivate: workspace.repository.private });
  if (!saving.save) {
    ctx.log.warn({ issue: ctx.issue.number }, `session ${saving.reason}: /retry starts fresh on another host`);
    return;
  }
  try {
    await saveSession({
      git: workspace.git,
      url: workspace.url,
      credentials: { token: await ctx.github.gitToken() },
      issue: ctx.issue.number,
      home,
      cwd: workspace.worktree.path,
      sessionId: ctx.sessionId,
      redact: ctx.redact ?? processSecrets.redact,
      now: ctx.now(),
      ...(ctx.sessionKey ? { sessionKey: ctx.sessionKey } : {}),
    });
  } catch (error) {
    ctx.log.warn({ issue: ctx.issue.number, err: error }, "session not saved: /retry will not be able to resume it");
  }
}

/** What happens after a failed attempt: the retry policy's decision, and the lease's `notBefore` for a retry. */
function retryAfter(ctx: PublishContext, failure: AttemptFailure): { decision: RetryDecision; notBefore: string | null } {
  const decision = decideRetry(failure, ctx.attempt, retryScheduleOf(ctx.config), ctx.random ?? Math.random);
  const notBefore = decision.kind === "retry" ? new Date(ctx.now().getTime() + decision.backoffMs).toISOString() : null;
  ctx.log.info({ issue: ctx.issue.number, kind: failure.kind, reason: failure.reason, decision: decision.kind, notBefore }, "retry decision");
  return { decision, notBefore };
}

/** Title prefix of a pull request that should have been a draft where the repository has none. */
export const NEEDS_REVIEW_TITLE_PREFIX = "[needs review] ";

/** The summary's line when the repository refused the draft and the pull request was opened ready instead. */
export function draftRefusedNote(pullRequest: number, label: string): string {
  return (
    `This repository does not support draft pull requests, so #${pullRequest} was opened ready for review instead, ` +
    `its title prefixed \`${NEEDS_REVIEW_TITLE_PREFIX.trim()}\` and labeled \`${label}\`: look at it before merging.`
  );
}

/** Paths shown as "Files changed": enough to read, the rest counted. */
const MAX_FILES_SHOWN = 100;

function filesOf(changes: ChangedPath[]): string[] {
  const paths = changes.map((c) => c.path);
  return paths.length <= MAX_FILES_SHOWN ? paths : [...paths.slice(0, MAX_FILES_SHOWN), `… ${paths.length - MAX_FILES_SHOWN} more`];
}

/** Where a refused commit stays on the host: a ref of the shared clone that upkeep does not prune. */
export function keptRef(branch: string, attempt: number): string {
  return `refs/kept/${branch}/attempt-${attempt}`;
}

/**
 * Runs the publish gate (src/core/publish-gate.ts) on the harness's commit:
 * the change set against the default branch, the host's secrets, the App's
 * workflow permission. A refusal keeps the commit under `keptRef` and throws
 * EHARNESS_PUBLISH_REFUSED before anything is pushed.
 */
async function gateCommit(ctx: PublishContext, workspace: Workspace, base: string): Promise<{ changes: ChangedPath[]; decision: GateDecision }> {
  const { git, worktree } = workspace;
  const { publish } = ctx.config;
  const changes = await git.changeSet(worktree, base, { maxBlobBytes: publish.maxFileMb * 1024 * 1024 });
  const secrets = ctx.knownSecrets ? await ctx.knownSecrets() : [...secretsFromEnv(process.env).secrets, await ctx.github.gitToken()];
  const canWriteWorkflows = ctx.canWriteWorkflows ?? (changes.some(touchesWorkflows) ? await workflowPermission(ctx) : null);
  const decision = decidePublication({ changes, publish, secrets, canWriteWorkflows });
  if (decision.kind === "refuse") throw await refuse(ctx, workspace, decision.reasons);
  return { changes, decision };
}

/** The installation's `workflows` permission (App mode), null when unknown: the push will tell. */
async function workflowPermission(ctx: PublishContext): Promise<boolean | null> {
  try {
    return await readWorkflowPermission(ctx.github);
  } catch (error) {
    ctx.log.warn({ issue: ctx.issue.number, err: error }, "could not read the App's workflows permission: the push will tell");
    return null;
  }
}

/**
 * Keeps the refused commit on the host and says where, as the coded error the issue's summary
 * shows: EHARNESS_WORKFLOW_PERMISSION when every reason is a workflow change this credential
 * may not push (the fix is a permission, not a policy), else EHARNESS_PUBLISH_REFUSED.
 */
async function refuse(ctx: PublishContext, workspace: Workspace, reasons: GateReason[], credential: WorkflowCredential = "app"): Promise<HarnessError> {
  const { git, worktree } = workspace;
  const ref = keptRef(ctx.branch, ctx.attempt);
  await git.run(["update-ref", ref, await git.head(worktree)]);
  ctx.log.warn({ issue: ctx.issue.number, ref, clone: git.cloneDir }, "publish refused: nothing pushed, the commit is kept on this host");
  const inspect = `\`git --git-dir ${git.cloneDir} show --stat ${ref}\``;
  if (reasons.length > 0 && reasons.every((r) => r.workflowPermission === true)) {
    const who = credential === "app" ? "this GitHub App (its installation has no `workflows` permission)" : "this token (it has no `workflow` scope)";
    return new HarnessError("EHARNESS_WORKFLOW_PERMISSION", {
      message: `GitHub refuses a push that changes \`.github/workflows/\` from ${who}, so nothing was pushed:\n\n${renderGateReasons(reasons)}\n`,
      fix:
        (credential === "app"
          ? "Grant the App the Workflows permission (app.yml `workflows: write`, then accept the new permission on the installation) and /retry, "
          : "Give the harness's token the `workflow` scope and /retry, ") +
        `or make the change by hand: the commit is kept on host \`${ctx.agentName}\` (${inspect}).`,
    });
  }
  return new HarnessError("EHARNESS_PUBLISH_REFUSED", {
    message: `The publish gate refused this attempt's changes, so nothing was pushed:\n\n${renderGateReasons(reasons)}\n`,
    fix:
      `A person can inspect the work on host \`${ctx.agentName}\` with ${inspect} ` +
      `and publish it by hand if it is right; otherwise change the issue so the agent avoids this, then /retry.`,
  });
}

/**
 * Publishes a finished session, only while the lease is ours: the session
 * saved, the leftovers committed, the branch pushed (never forced), the pull
 * request opened or refreshed, the attempt's comment finished as the summary,
 * the label set, the lease released. The plan comes from core; each write
 * that people see is preceded by a lease check.
 */
export async function publishSession(ctx: PublishContext, workspace: Workspace, home: string, report: SessionReport, labels: string[]): Promise<Published> {
  const { github, config, lease, clock, log } = ctx;
  const issueNumber = ctx.issue.number;
  const base = workspace.repository.defaultBranch;
  // The lease check runs while the work is committed and gated, which stay on the host (a commit in the
  // worktree, a kept ref): nothing leaves it before the check has answered, and a lost lease wins over
  // anything the commit or the gate threw.
  const held = lease.assertHeld();
  held.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
  const { git, worktree } = workspace;
  let commits: number;
  let localHead: string;
  let gate: Awaited<ReturnType<typeof gateCommit>> | null;
  try {
    // Curated knowledge (docs/research/, docs/knowledge/) lands whatever the outcome, with docs/research/INDEX.md rendered in the same commit.
    await commitWork(workspace, `harness: work on #${issueNumber} (${report.outcome})\n\nSession ${ctx.sessionId}, attempt ${ctx.attempt}.`);
    commits = await git.countCommits(`refs/remotes/origin/${base}..refs/heads/${ctx.branch}`);
    localHead = await git.head(worktree);
    clock.mark("publish.commit");
    // The gate decides before anything leaves the host: a refusal saves no session and pushes nothing.
    gate = commits > 0 ? await gateCommit(ctx, workspace, `refs/remotes/origin/${base}`) : null;
    clock.mark("publish.gate");
  } catch (error) {
    await held;
    throw error;
  }
  await held;
  clock.mark("publish.leaseCheck");
  // "Files changed" is what the pull request shows, not what the tools reported writing.
  const published: SessionReport = { ...report, filesChanged: filesOf(gate?.changes ?? []) };
  const review = gate?.decision.kind === "review" ? { label: config.publish.needsReviewLabel, reasons: gate.decision.reasons } : undefined;
  // The session is saved to its own ref while the branch is pushed: neither waits
  // for the other (a failed save only costs the resume), both are done before the pull request.
  const saving = keepSession(ctx, workspace, home);
  // Whether to push needs only the branch's heads; the open pull request decides the PR step alone.
  // So the push never waits on (or is lost to) a failed pull request lookup: both run at once,
  // and a lookup that failed is thrown only once the branch is on the remote.
  const facts = {
    success: report.outcome === "success",
    interrupted: false,
    commitsAhead: commits,
    localHead,
    remoteHead: workspace.heads.get(ctx.branch) ?? null,
    gate: gate?.decision.kind ?? "publish",
  } as const;
  let pushed = false;
  const pushing = (async () => {
    if (!planPublication({ ...facts, existingPull: null }).push) return;
    // A fresh token: an installation token lives an hour, a session may too.
    await pushGated(ctx, workspace, gate?.changes ?? []);
    pushed = true;
    ctx.done.pushed = true;
    clock.mark("publish.push");
  })();
  const finding = commits > 0 ? github.findOpenPull(ctx.branch, base) : Promise.resolve(null);
  // A failure of the branch's steps is thrown once the save has settled too (keepSession never throws).
  await Promise.allSettled([pushing, finding, saving]);
  await pushing;
  const existingPull = await finding;
  const plan = planPublication({ ...facts, existingPull: existingPull && { number: existingPull.number, draft: existingPull.draft } });
  // What saving the session added beyond the branch's steps (usually nothing).
  clock.mark("publish.saveSession");
  let pullRequest: number | null = null;
  /** The repository refused the draft (its plan has none): the pull request is ready, prefixed and labeled instead. */
  let draftRefused = false;
  const step = plan.pullRequest;
  if (step.kind !== "none") {
    await lease.assertHeld();
    clock.mark("publish.leaseCheck");
    const body = renderPullRequestBody({ issue: issueNumber, report: published, branch: ctx.branch, commits, review });
    if (step.kind === "update" && existingPull) {
      await github.updatePull(step.number, { body });
      // Best effort: the work is pushed and the PR there, so a refused draft change fails nothing.
      if (step.draft !== null) {
        const draft = step.draft;
        await github.setPullDraft(existingPull, draft).catch(async (error: unknown) => {
          if (draft && isDraftUnsupported(error)) {
            // Not a draft, then, but plainly marked as one to look at.
            draftRefused = true;
            await github.updatePull(step.number, { title: NEEDS_REVIEW_TITLE_PREFIX + renderPullRequestTitle(issueNumber, ctx.issue.title) });
            return;
          }
          log.warn({ issue: issueNumber, pullRequest: step.number, err: error }, "could not change the pull request's draft state");
        });
      }
      pullRequest = step.number;
    } else if (step.kind === "create") {
      const title = renderPullRequestTitle(issueNumber, ctx.issue.title);
      let created: Awaited<ReturnType<GitHubClient["createPull"]>>;
      try {
        created = await github.openPull({ head: ctx.branch, base, title, body, draft: step.draft });
      } catch (error) {
        // The branch is pushed: a repository without drafts gets a ready pull request that says what it is.
        if (!step.draft || !isDraftUnsupported(error)) throw error;
        log.warn({ issue: issueNumber }, "draft pull requests are not supported in this repository: opening it ready, marked for review");
        draftRefused = true;
        created = await github.openPull({ head: ctx.branch, base, title: NEEDS_REVIEW_TITLE_PREFIX + title, body, draft: false });
      }
      pullRequest = created.number;
    }
    ctx.done.pullRequest = pullRequest;
    if ((plan.needsReview || draftRefused) && pullRequest !== null) await github.addLabels(pullRequest, [config.publish.needsReviewLabel]);
    clock.mark("publish.pullRequest");
  }
  await lease.assertHeld();
  clock.mark("publish.leaseCheck");
  // A failed attempt is retried automatically when its cause is transient (back in the queue, the lease's
  // notBefore holding every host off until the backoff ends); a deterministic one waits for a person's /retry.
  const failure = classifySession(report);
  const retry = failure !== null ? retryAfter(ctx, failure) : null;
  const record = recordOf(ctx, published, { pullRequest, headCommit: commits > 0 || workspace.heads.has(ctx.branch) ? localHead : null });
  // Appended while the summary and the labels are written (keepRecord never throws), and
  // done before the lease is given back (the next claim of the issue reads it), or before a
  // failure of theirs is reported (whose record would race this one).
  const recording = keepRecord(ctx, record);
  const label = plan.label === "done" ? config.labels.done : retry?.decision.kind === "retry" ? config.labels.queued : config.labels.failed;
  let next: string[];
  try {
    await ctx.comment.finish(
      renderSummaryComment({
        issue: issueNumber,
        report: published,
        branch: ctx.branch,
        pullRequest: pullRequest ?? undefined,
        commits,
        attempt: { agent: ctx.agentName, number: ctx.attempt },
        workspace: workspace.ready,
        ...summaryNote([draftRefused && pullRequest !== null ? draftRefusedNote(pullRequest, config.publish.needsReviewLabel) : null, ctx.budgetNote ?? null]),
        ...(retry ? { retry: describeRetry(retry.decision) } : {}),
        ...(ctx.knowledge ? { knowledgeUsed: ctx.knowledge.used, record } : {}),
      }),
    );
    clock.mark("publish.summary");
    next = await github.transitionLabels(issueNumber, labels, harnessLabels(config), label);
    clock.mark("publish.labels");
  } finally {
    await recording;
  }
  clock.mark("publish.record");
  // By git push when the claim was made with the shared clone (no REST write spent).
  const released = await lease.release({ outcome: report.outcome, sessionId: report.sessionId, notBefore: retry?.notBefore ?? null });
  clock.mark("publish.release");
  return { label, labels: next, pullRequest, pushed, released, ...(retry ? { retry: retry.decision } : {}) };
}

/**
 * Pushes the branch; GitHub's refusal of a workflow change (an App without `workflows: write`,
 * a token without the `workflow` scope), read from git's output, becomes
 * EHARNESS_WORKFLOW_PERMISSION naming the files, the commit kept on the host like any refusal.
 */
async function pushGated(ctx: PublishContext, workspace: Workspace, changes: ChangedPath[]): Promise<void> {
  try {
    await workspace.git.push(workspace.url, workspace.worktree, { token: await ctx.github.gitToken() });
  } catch (error) {
    const refusal = isHarnessError(error) ? readWorkflowRefusal(error.message) : null;
    if (refusal === null) throw error;
    const workflows = changes.filter(touchesWorkflows).map((c) => c.path);
    const named = workflows.length > 0 ? workflows : [refusal.path ?? ".github/workflows/"];
    throw await refuse(
      ctx,
      workspace,
      named.map((p) => workflowRefusal(p, refusal.credential)),
      refusal.credential,
    );
  }
}

/**
 * `/interrupt` (or the host's shutdown): keep the work. A WIP commit on the
 * branch, pushed; the session saved for /retry; the attempt's comment says
 * what was kept; the label says interrupted. The lease already records the
 * interrupt and the session id (the request wrote it), so it is not released.
 */
export async function publishInterrupted(ctx: PublishContext, workspace: Workspace, home: string, report: SessionReport, labels: string[]): Promise<Published> {
  const { github, config } = ctx;
  const issueNumber = ctx.issue.number;
  const { git, worktree } = workspace;
  const base = `refs/remotes/origin/${workspace.repository.defaultBranch}`;
  await commitWork(workspace, `harness: work in progress on #${issueNumber} (interrupted)\n\nSession ${ctx.sessionId}, attempt ${ctx.attempt}.`);
  // Work in progress passes the same gate: a refusal keeps it on the host and the comment says why.
  let refusal: HarnessError | null = null;
  let changes: ChangedPath[] = [];
  if ((await git.countCommits(`${base}..refs/heads/${ctx.branch}`)) > 0) {
    try {
      changes = (await gateCommit(ctx, workspace, base)).changes;
    } catch (error) {
      if (!isHarnessError(error) || (error.code !== "EHARNESS_PUBLISH_REFUSED" && error.code !== "EHARNESS_WORKFLOW_PERMISSION")) throw error;
      refusal = error;
    }
  }
  const heads = await git.remoteHeads(workspace.url, [ctx.branch], { token: await github.gitToken() });
  const plan = planPublication({
    success: false,
    interrupted: true,
    commitsAhead: 0,
    localHead: await git.head(worktree),
    remoteHead: heads.get(ctx.branch) ?? null,
    existingPull: null,
    gate: refusal ? "refuse" : "publish",
  });
  let pushed = plan.push;
  if (plan.push) {
    try {
      await pushGated(ctx, workspace, changes);
    } catch (error) {
      // GitHub refused the workflow change (learned only from the push): kept on the host, said on the issue.
      if (!isHarnessError(error) || error.code !== "EHARNESS_WORKFLOW_PERMISSION") throw error;
      refusal = error;
      pushed = false;
    }
  }
  if (!plan.refused) await keepSession(ctx, workspace, home);
  const next = await github.transitionLabels(issueNumber, labels, harnessLabels(config), config.labels.interrupted);
  const record = recordOf(
    ctx,
    { ...report, filesChanged: changes.length > 0 ? filesOf(changes) : report.filesChanged },
    {
      pullRequest: null,
      headCommit: pushed ? await git.head(worktree) : null,
      ...(refusal ? { error: { code: refusal.code, message: refusal.message } } : {}),
    },
  );
  await ctx.comment.finish(
    renderSummaryComment({
      issue: issueNumber,
      report,
      branch: ctx.branch,
      commits: 0,
      note: INTERRUPTED_NOTE,
      error: refusal ? { code: refusal.code, message: refusal.message, fix: refusal.fix } : undefined,
      attempt: { agent: ctx.agentName, number: ctx.attempt },
      workspace: workspace.ready,
      ...(ctx.knowledge ? { knowledgeUsed: ctx.knowledge.used, record } : {}),
    }),
  );
  // A refused change set leaves nothing on the repository, its record included (the comment says what was refused).
  await keepRecord(ctx, record, refusal !== null);
  ctx.log.info({ issue: issueNumber, pushed, refused: refusal !== null }, "interrupted: work kept");
  return { label: config.labels.interrupted, labels: next, pullRequest: null, pushed, released: false };
}

/** Tells people why the attempt failed (its comment ends as a summary with the error and fix), marks it failed, gives the lease back. */
export async function publishFailure(
  ctx: PublishContext,
  input: { labels: string[]; report: SessionReport | null; error: { code: string; message: string; fix: string } },
): Promise<RetryDecision> {
  const { github, config } = ctx;
  const issueNumber = ctx.issue.number;
  await ctx.lease.assertHeld();
  // The error decides the class (a sandbox that did not start is transient; a refused publish is not).
  const { decision, notBefore } = retryAfter(ctx, classifyError(input.error.code));
  const retry = describeRetry(decision);
  const record = recordOf(ctx, input.report, { pullRequest: ctx.done.pullRequest, headCommit: null, error: input.error });
  const knowledge = ctx.knowledge ? { knowledgeUsed: ctx.knowledge.used, record } : {};
  const body = input.report
    ? renderSummaryComment({
        issue: issueNumber,
        report: input.report,
        branch: ctx.branch,
        pullRequest: ctx.done.pullRequest ?? undefined,
        commits: 0,
        error: input.error,
        attempt: { agent: ctx.agentName, number: ctx.attempt },
        retry,
        workspace: ctx.workspace,
        ...knowledge,
      })
    : renderFailureSummary({
        issue: issueNumber,
        sessionId: ctx.sessionId,
        branch: ctx.branch,
        agent: ctx.agentName,
        attempt: ctx.attempt,
        error: input.error,
        retry,
        ...knowledge,
      });
  // The record is appended while the comment and the labels are written, and done before the release.
  const recording = keepRecord(ctx, record, isGateRefusal(input.error.code));
  try {
    await ctx.comment.finish(body);
    await github.transitionLabels(issueNumber, input.labels, harnessLabels(config), decision.kind === "retry" ? config.labels.queued : config.labels.failed);
  } finally {
    await recording;
  }
  await ctx.lease.release({ outcome: "error", sessionId: input.report?.sessionId ?? ctx.sessionId, notBefore });
  return decision;
}

/** The summary's note: its parts that are set, in order (the draft refusal, where the session's budget came from). */
function summaryNote(parts: (string | null)[]): { note?: string } {
  const set = parts.filter((p): p is string => p !== null);
  return set.length === 0 ? {} : { note: set.join(" · ") };
}
