import type { HarnessConfig } from "../core/config.js";
import { planPublication, type PublicationPlan } from "../core/publication-plan.js";
import { INTERRUPTED_NOTE, renderFailureSummary, renderPullRequestBody, renderPullRequestTitle, renderSummaryComment } from "../core/render-comments.js";
import type { SessionReport } from "../core/session-report.js";
import type { StepClock } from "../core/step-clock.js";
import type { GitHubClient, IssueData } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import { processSecrets } from "../adapters/secrets.js";
import { harnessLabels } from "./claim-issue.js";
import type { LeaseHandle } from "./lease-handle.js";
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
  /** What publishing has done so far, for a failure's summary (the pull request it opened). */
  done: { pullRequest: number | null; pushed: boolean };
}

export interface Published {
  label: string;
  labels: string[];
  pullRequest: number | null;
  pushed: boolean;
  /** The lease was given back (false: it was not ours any more, logged). */
  released: boolean;
}

/** Saves the session where any runner can resume it; a failure costs only the resume. */
async function keepSession(ctx: PublishContext, workspace: Workspace, home: string): Promise<void> {
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
    });
  } catch (error) {
    ctx.log.warn({ issue: ctx.issue.number, err: error }, "session not saved: /retry will not be able to resume it");
  }
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
  await lease.assertHeld();
  clock.mark("publish.leaseCheck");
  // The session is saved to its own ref while the branch is committed and pushed: neither
  // waits for the other (a failed save only costs the resume), both are done before the pull request.
  const saving = keepSession(ctx, workspace, home);
  const { git, worktree } = workspace;
  let pushed = false;
  const publishBranch = async (): Promise<{
    commits: number;
    existingPull: Awaited<ReturnType<GitHubClient["findOpenPull"]>> | null;
    plan: PublicationPlan;
  }> => {
    await git.commitAll(worktree, `harness: work on #${issueNumber} (${report.outcome})\n\nSession ${ctx.sessionId}, attempt ${ctx.attempt}.`);
    const commits = await git.countCommits(`refs/remotes/origin/${base}..refs/heads/${ctx.branch}`);
    const localHead = await git.head(worktree);
    clock.mark("publish.commit");
    const existingPull = commits > 0 ? await github.findOpenPull(ctx.branch, base) : null;
    const plan = planPublication({
      success: report.outcome === "success",
      interrupted: false,
      commitsAhead: commits,
      localHead,
      remoteHead: workspace.heads.get(ctx.branch) ?? null,
      existingPull: existingPull && { number: existingPull.number, draft: existingPull.draft },
    });
    if (plan.push) {
      // A fresh token: an installation token lives an hour, a session may too.
      await git.push(workspace.url, worktree, { token: await github.gitToken() });
      pushed = true;
      ctx.done.pushed = true;
      clock.mark("publish.push");
    }
    return { commits, existingPull, plan };
  };
  // A failure of the branch's steps is thrown once the save has settled too (keepSession never throws).
  const branchDone = publishBranch();
  await Promise.allSettled([branchDone, saving]);
  const { commits, existingPull, plan } = await branchDone;
  // What saving the session added beyond the branch's steps (usually nothing).
  clock.mark("publish.saveSession");
  let pullRequest: number | null = null;
  const step = plan.pullRequest;
  if (step.kind !== "none") {
    await lease.assertHeld();
    clock.mark("publish.leaseCheck");
    const body = renderPullRequestBody({ issue: issueNumber, report, branch: ctx.branch, commits });
    if (step.kind === "update" && existingPull) {
      await github.updatePull(step.number, { body });
      // Best effort: the work is pushed and the PR there, so a refused draft change fails nothing.
      if (step.draft !== null) {
        await github
          .setPullDraft(existingPull, step.draft)
          .catch((error: unknown) => log.warn({ issue: issueNumber, pullRequest: step.number, err: error }, "could not change the pull request's draft state"));
      }
      pullRequest = step.number;
    } else if (step.kind === "create") {
      const created = await github.createPull({ head: ctx.branch, base, title: renderPullRequestTitle(issueNumber, ctx.issue.title), body, draft: step.draft });
      pullRequest = created.number;
    }
    ctx.done.pullRequest = pullRequest;
    clock.mark("publish.pullRequest");
  }
  await lease.assertHeld();
  clock.mark("publish.leaseCheck");
  await ctx.comment.finish(
    renderSummaryComment({
      issue: issueNumber,
      report,
      branch: ctx.branch,
      pullRequest: pullRequest ?? undefined,
      commits,
      attempt: { agent: ctx.agentName, number: ctx.attempt },
    }),
  );
  clock.mark("publish.summary");
  const label = plan.label === "done" ? config.labels.done : config.labels.failed;
  const next = await github.transitionLabels(issueNumber, labels, harnessLabels(config), label);
  clock.mark("publish.labels");
  // By git push when the claim was made with the shared clone (no REST write spent).
  const released = await lease.release({ outcome: report.outcome, sessionId: report.sessionId });
  clock.mark("publish.release");
  return { label, labels: next, pullRequest, pushed, released };
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
  await git.commitAll(worktree, `harness: work in progress on #${issueNumber} (interrupted)\n\nSession ${ctx.sessionId}, attempt ${ctx.attempt}.`);
  const heads = await git.remoteHeads(workspace.url, [ctx.branch], { token: await github.gitToken() });
  const plan = planPublication({
    success: false,
    interrupted: true,
    commitsAhead: 0,
    localHead: await git.head(worktree),
    remoteHead: heads.get(ctx.branch) ?? null,
    existingPull: null,
  });
  if (plan.push) await git.push(workspace.url, worktree, { token: await github.gitToken() });
  await keepSession(ctx, workspace, home);
  const next = await github.transitionLabels(issueNumber, labels, harnessLabels(config), config.labels.interrupted);
  await ctx.comment.finish(
    renderSummaryComment({
      issue: issueNumber,
      report,
      branch: ctx.branch,
      commits: 0,
      note: INTERRUPTED_NOTE,
      attempt: { agent: ctx.agentName, number: ctx.attempt },
    }),
  );
  ctx.log.info({ issue: issueNumber, pushed: plan.push }, "interrupted: work kept");
  return { label: config.labels.interrupted, labels: next, pullRequest: null, pushed: plan.push, released: false };
}

/** Tells people why the attempt failed (its comment ends as a summary with the error and fix), marks it failed, gives the lease back. */
export async function publishFailure(
  ctx: PublishContext,
  input: { labels: string[]; report: SessionReport | null; error: { code: string; message: string; fix: string } },
): Promise<void> {
  const { github, config } = ctx;
  const issueNumber = ctx.issue.number;
  await ctx.lease.assertHeld();
  const body = input.report
    ? renderSummaryComment({
        issue: issueNumber,
        report: input.report,
        branch: ctx.branch,
        pullRequest: ctx.done.pullRequest ?? undefined,
        commits: 0,
        error: input.error,
        attempt: { agent: ctx.agentName, number: ctx.attempt },
      })
    : renderFailureSummary({
        issue: issueNumber,
        sessionId: ctx.sessionId,
        branch: ctx.branch,
        agent: ctx.agentName,
        attempt: ctx.attempt,
        error: input.error,
      });
  await ctx.comment.finish(body);
  await github.transitionLabels(issueNumber, input.labels, harnessLabels(config), config.labels.failed);
  await ctx.lease.release({ outcome: "error", sessionId: input.report?.sessionId ?? ctx.sessionId });
}
