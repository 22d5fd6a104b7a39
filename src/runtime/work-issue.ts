import { promises as fs } from "node:fs";
import path from "node:path";
import type { HarnessConfig } from "../core/config.js";
import { HarnessError, toHarnessError } from "../core/errors.js";
import {
  renderPullRequestBody,
  renderPullRequestTitle,
  renderSummaryComment,
  renderTrackingComment,
  summaryMarker,
  type TrackingState,
} from "../core/render-comments.js";
import { fenceUntrusted, renderTemplate } from "../core/render-template.js";
import type { SessionReport } from "../core/session-report.js";
import { GitRepository, type WorktreeHandle } from "../adapters/git.js";
import type { GitHubClient } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import { processSecrets } from "../adapters/secrets.js";
import { runClaude, type RunClaudeOptions, type RunClaudeResult } from "../adapters/claude/run-claude.js";
import { isInterruptOf } from "../core/lease.js";
import { harnessLabels, type Claim } from "./claim-issue.js";
import { Heartbeat, type LeaseStatus } from "./heartbeat.js";
import type { InterruptRegistry } from "./interrupts.js";
import { restoreSession, saveSession } from "./session-store.js";
import { sharedClone } from "./shared-clone.js";
import type { StateDir } from "./state-dir.js";

export interface ClaudeSettings {
  /** Path of the `claude` executable. */
  cliPath: string;
  /** Model endpoint settings handed to the CLI (ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY, …). */
  modelEnv: Record<string, string>;
  permissionMode: string;
}

export interface WorkDeps {
  github: GitHubClient;
  config: HarnessConfig;
  state: StateDir;
  claude: ClaudeSettings;
  /** The harness's own prompts/ directory (bootstrap.md, task.md). */
  promptsDir: string;
  /** Git URL of the repository; the harness's own push gets the token, the URL holds none. */
  gitUrl: (repository: { cloneUrl: string }) => string;
  log: Logger;
  now: () => Date;
  /** Minimum time between progress edits of the tracking comment; the config's `progressMinutes` when absent. */
  progressIntervalMs?: number;
  /** How often the agent records that it is alive and checks its lease; the config's `heartbeatSeconds` when absent. */
  livenessMs?: number;
  /** In-process interrupt delivery (app and worker in one process): immediate, no polling. */
  interrupts?: InterruptRegistry;
  /**
   * Aborted when the process is told to stop (a cancelled Actions job, a
   * worker shutting down): handled like /interrupt — the interrupt is recorded
   * on the lease, the work pushed as WIP, the session saved.
   */
  cancel?: AbortSignal;
  /** Scrubs secrets from text that leaves the host (the saved session); the process's registry by default. */
  redact?: (text: string) => string;
  runSession?: (options: RunClaudeOptions) => Promise<RunClaudeResult>;
}

export interface WorkResult {
  /** True when a person's /interrupt stopped the session (its work is pushed, the issue labeled interrupted). */
  interrupted?: boolean;
  /** `owner/repo` */
  repository: string;
  issue: number;
  outcome: SessionReport["outcome"] | "error";
  label: string;
  pullRequest: number | null;
  report: SessionReport | null;
  error: HarnessError | null;
  pushed: boolean;
}

/** Renders the bootstrap prompt (system prompt) and the task prompt (-p) for an issue. */
export async function renderPrompts(
  deps: Pick<WorkDeps, "github" | "config" | "promptsDir">,
  input: {
    issue: Claim["issue"];
    branch: string;
    baseBranch: string;
    /** `resume` continues the session (prompts/continue.md); `fresh` carries the last summary (prompts/fresh.md). */
    mode?: Claim["mode"];
    previousOutcome?: string;
    previousSummary?: string;
  },
): Promise<{ bootstrap: string; task: string }> {
  const values = {
    previousOutcome: input.previousOutcome ?? "unknown",
    previousSummary: fenceUntrusted(input.previousSummary ?? "(no summary was posted)", "previous-summary (untrusted)"),
    repository: deps.github.fullName,
    issueNumber: String(input.issue.number),
    issueTitle: fenceUntrusted(input.issue.title, "issue-title (untrusted)"),
    issueBody: fenceUntrusted(input.issue.body === "" ? "(no description)" : input.issue.body, "issue-body (untrusted)"),
    branch: input.branch,
    baseBranch: input.baseBranch,
  };
  let bootstrapTemplate: string;
  let source: string;
  if (deps.config.promptFile) {
    const custom = await deps.github.readFile(deps.config.promptFile, input.baseBranch);
    if (custom === null) {
      throw new HarnessError("EHARNESS_PROMPT", {
        message: `The prompt file ${deps.config.promptFile} named in .github/harness.yml does not exist on ${input.baseBranch}.`,
        fix: "Commit the prompt file to the default branch or remove promptFile from the configuration.",
      });
    }
    bootstrapTemplate = custom;
    source = deps.config.promptFile;
  } else {
    bootstrapTemplate = await fs.readFile(path.join(deps.promptsDir, "bootstrap.md"), "utf8");
    source = "prompts/bootstrap.md";
  }
  const taskFile = input.mode === "resume" ? "continue.md" : input.mode === "fresh" ? "fresh.md" : "task.md";
  const taskTemplate = await fs.readFile(path.join(deps.promptsDir, taskFile), "utf8");
  return {
    bootstrap: renderTemplate(bootstrapTemplate, values, source),
    task: renderTemplate(taskTemplate, values, `prompts/${taskFile}`),
  };
}

/**
 * Works a claimed issue to its end: worktree, session, commit, push, pull
 * request, summary, labels, lease release, cleanup. Whatever fails, the
 * finally-part releases the lease and removes the worktree, and nothing that
 * was pushed is ever rewritten.
 */
export async function workIssue(deps: WorkDeps, claim: Claim): Promise<WorkResult> {
  const { github, config, state, log } = deps;
  const issueNumber = claim.issue.number;
  const branch = `${config.branchPrefix}${issueNumber}`;
  const agentName = `${claim.owner.agent}@${claim.owner.host}`;
  const attempt = claim.lease.record.attempt;
  const tracking = (phase: TrackingState["phase"], extra: Partial<TrackingState> = {}): string =>
    renderTrackingComment({ issue: issueNumber, phase, agent: agentName, attempt, branch, ...extra });

  const git = sharedClone(state, github);
  const worktreeDir = state.worktree(github.owner, github.repo, issueNumber);
  // One directory (and HOME) per attempt: a resumed session is restored from the
  // repository like on any other runner, never found lying around.
  const sessionDir = state.session(claim.sessionId, claim.lease.record.attempt);
  const key = `${github.fullName}#${issueNumber}`;
  let worktree: WorktreeHandle | null = null;
  let labels = claim.labels;
  let report: SessionReport | null = null;
  let pushed = false;
  let pullRequest: number | null = null;
  let summaryPosted = false;
  let lease = claim.lease;

  // The heartbeat starts with the claim, not with the session: cloning a big
  // repository can take longer than a lease term, and a lease must never run
  // out while its holder is alive.
  let live: SessionReport | null = null;
  let lastEventAt = deps.now().toISOString();
  const startedAt = lastEventAt;
  const termMs = config.lease.termMinutes * 60_000;
  const stop = new AbortController();
  const leaseStatus = (head: Awaited<ReturnType<Claim["leases"]["read"]>>): LeaseStatus => {
    if (head?.sha === lease.sha) return "ours";
    return head !== null && isInterruptOf(head.record, lease.record) ? "interrupted" : "fenced";
  };
  // Fenced or interrupted, the session stops; what happens next is decided from the lease head after it.
  const onLost = (): void => {
    stop.abort();
  };
  const unregister = deps.interrupts?.register(key, onLost);
  // Our own stop request is written to the lease like a person's /interrupt, so
  // the publishing step below (and anyone reading the lease) treats it the same.
  let selfInterrupt: Promise<unknown> = Promise.resolve();
  const onCancel = (): void => {
    stop.abort();
    selfInterrupt = claim.leases.interrupt(issueNumber, deps.now()).catch((error: unknown) => log.warn({ err: error }, "could not record the interrupt"));
  };
  if (deps.cancel?.aborted) onCancel();
  else deps.cancel?.addEventListener("abort", onCancel, { once: true });
  const heartbeat = new Heartbeat({
    livenessMs: deps.livenessMs ?? config.heartbeatSeconds * 1000,
    renewMs: termMs / 3,
    now: () => deps.now().getTime(),
    beat: () =>
      writeJsonAtomic(state.agentFile(claim.owner.agent), {
        agent: claim.owner.agent,
        host: claim.owner.host,
        pid: process.pid,
        repository: github.fullName,
        issue: issueNumber,
        sessionId: claim.sessionId,
        startedAt,
        updatedAt: deps.now().toISOString(),
        lastEventAt,
        turns: live?.turns ?? 0,
        costUsd: live?.costUsd ?? 0,
        lastToolCall: live?.lastToolCall ?? null,
      }),
    check: async () => leaseStatus(await claim.leases.read(issueNumber)),
    renew: async () => {
      const renewed = await claim.leases.renew(issueNumber, lease, claim.owner, deps.now(), termMs);
      if (renewed.ok) {
        lease = renewed.head;
        return "ours";
      }
      return leaseStatus(renewed.head);
    },
    onLost,
    log,
  });
  heartbeat.start();
  const { clock } = claim;
  try {
    labels = await github.transitionLabels(issueNumber, labels, harnessLabels(config), config.labels.running);
    clock.mark("labels.running");
    const repository = await github.getRepository();
    const url = deps.gitUrl(repository);
    const token = await github.gitToken();
    clock.mark("repository");

    await fs.mkdir(state.gitHome(), { recursive: true });
    await git.ensureClone();
    clock.mark("git.clone");
    const heads = await git.remoteHeads(url, [repository.defaultBranch, branch], { token });
    clock.mark("git.lsRemote");
    if (!heads.has(repository.defaultBranch)) {
      throw new HarnessError("EHARNESS_NO_DEFAULT_BRANCH", {
        message: `The repository ${github.fullName} has no branch ${repository.defaultBranch} (its default branch), so there is nothing to start from.`,
        fix: `Push a first commit to ${repository.defaultBranch}, then label the issue ${config.labels.queued} again.`,
      });
    }
    await git.fetchChanged(url, heads, { token });
    clock.mark("git.fetch");
    const startPoint = heads.has(branch) ? `refs/remotes/origin/${branch}` : `refs/remotes/origin/${repository.defaultBranch}`;
    worktree = await git.addWorktree(worktreeDir, branch, startPoint);
    clock.mark("git.worktree");
    log.info({ issue: issueNumber, worktree: worktreeDir, startPoint }, "worktree ready");

    const previousOutcome = claim.previous?.outcome ?? claim.previous?.state ?? "unknown";
    const previousSummary = claim.mode === "fresh" ? ((await github.findComment(issueNumber, "<!-- harness:summary"))?.body ?? undefined) : undefined;
    const prompts = await renderPrompts(deps, {
      issue: claim.issue,
      branch,
      baseBranch: repository.defaultBranch,
      mode: claim.mode,
      previousOutcome,
      ...(previousSummary !== undefined ? { previousSummary } : {}),
    });
    const home = path.join(sessionDir, "home");
    await fs.mkdir(home, { recursive: true });
    if (claim.mode === "resume") {
      const restored = await restoreSession({ git, url, credentials: { token }, issue: issueNumber, home, cwd: worktree.path });
      if (restored?.sessionId !== claim.sessionId) {
        throw new HarnessError("EHARNESS_SESSION", {
          message: `The session ${claim.sessionId} to continue was not saved on ${`refs/harness/sessions/issue-${issueNumber}`}${restored ? ` (the saved one is ${restored.sessionId})` : ""}.`,
          fix: "Comment /retry fresh to start a new session that carries the last summary.",
        });
      }
      log.info({ issue: issueNumber, sessionId: claim.sessionId }, "session restored: resuming");
    }
    const bootstrapFile = path.join(sessionDir, "bootstrap.md");
    await fs.writeFile(bootstrapFile, prompts.bootstrap);
    clock.mark("prompts");

    let lastEdit = deps.now().getTime();
    let loggedToolCalls = 0;
    let lastTrackingBody = "";
    let pendingEdit: Promise<void> = Promise.resolve();
    let result: RunClaudeResult;
    try {
      result = await (deps.runSession ?? runClaude)({
        cliPath: deps.claude.cliPath,
        cwd: worktree.path,
        home,
        prompt: prompts.task,
        sessionId: claim.sessionId,
        resume: claim.mode === "resume",
        appendSystemPromptFile: bootstrapFile,
        allowedTools: config.allowedTools,
        permissionMode: deps.claude.permissionMode,
        maxTurns: config.maxTurns,
        maxBudgetUsd: config.maxBudgetUsd,
        ...(config.model ? { model: config.model } : {}),
        modelEnv: deps.claude.modelEnv,
        agentId: `${claim.owner.agent}-${claim.sessionId}`,
        transcriptPath: path.join(sessionDir, "transcript.jsonl"),
        stderrPath: path.join(sessionDir, "stderr.log"),
        stallTimeoutMs: config.timeouts.stallMinutes * 60_000,
        wallTimeoutMs: config.timeouts.sessionMinutes * 60_000,
        signal: stop.signal,
        onEvent: (_event, report) => {
          live = report;
          lastEventAt = deps.now().toISOString();
          // Every step goes to the log (free); the tracking comment (a GitHub write) only now and then.
          if (report.lastToolCall !== null && report.toolCalls !== loggedToolCalls) {
            loggedToolCalls = report.toolCalls;
            log.info({ issue: issueNumber, turns: report.turns, lastToolCall: report.lastToolCall }, "tool call");
          }
          const now = deps.now().getTime();
          if (now - lastEdit < (deps.progressIntervalMs ?? config.progressMinutes * 60_000)) return;
          const body = tracking("running", { report });
          if (body === lastTrackingBody) return;
          lastEdit = now;
          lastTrackingBody = body;
          log.info({ issue: issueNumber, turns: report.turns, costUsd: report.costUsd, lastToolCall: report.lastToolCall }, "progress");
          // Progress edits are cosmetic: dropped when the installation's write budget is short.
          pendingEdit = pendingEdit
            .then(async () => {
              if (!(await github.updateComment(claim.trackingCommentId, body, "cosmetic"))) log.debug("progress edit dropped: write budget short");
            })
            .catch((error: unknown) => log.warn({ err: error }, "progress edit failed"));
        },
      });
    } finally {
      // The session is over: a stop request from outside no longer needs recording.
      deps.cancel?.removeEventListener("abort", onCancel);
      await selfInterrupt;
    }
    clock.mark("session");
    await pendingEdit;
    clock.mark("progressEdit");
    report = result.report;
    log.info({ issue: issueNumber, outcome: report.outcome, turns: report.turns, costUsd: report.costUsd }, "session ended");

    // Publishing: only while we still hold the lease, or a person asked us to stop and keep the work.
    const head = await claim.leases.read(issueNumber);
    clock.mark("publish.leaseRead");
    if (leaseStatus(head) === "interrupted") {
      return await publishInterrupted(deps, claim, { git, worktree, url, labels, report, branch, tracking, home });
    }
    await claim.leases.assertHeld(issueNumber, lease);
    clock.mark("publish.leaseCheck");
    await keepSession(deps, claim, { git, url, home, cwd: worktree.path });
    clock.mark("publish.saveSession");
    await git.commitAll(worktree, `harness: work on #${issueNumber} (${report.outcome})\n\nSession ${claim.sessionId}, attempt ${attempt}.`);
    const commits = await git.countCommits(`refs/remotes/origin/${repository.defaultBranch}..refs/heads/${branch}`);
    const remoteHead = heads.get(branch);
    const localHead = await git.head(worktree);
    clock.mark("publish.commit");
    if (commits > 0 && localHead !== remoteHead) {
      // A fresh token: an installation token lives an hour, a session may too.
      await git.push(url, worktree, { token: await github.gitToken() });
      pushed = true;
      clock.mark("publish.push");
    }
    const success = report.outcome === "success";
    if (commits > 0) {
      await claim.leases.assertHeld(issueNumber, lease);
      clock.mark("publish.leaseCheck");
      const existing = await github.findOpenPull(branch, repository.defaultBranch);
      const body = renderPullRequestBody({ issue: issueNumber, report, branch, commits });
      if (existing) {
        await github.updatePull(existing.number, { body });
        // The draft state follows the latest attempt: ready on success, a draft otherwise.
        // Best effort: the work is pushed and the PR there, so a refused change fails nothing.
        if (existing.draft !== !success) {
          await github
            .setPullDraft(existing, !success)
            .catch((error: unknown) =>
              log.warn({ issue: issueNumber, pullRequest: existing.number, err: error }, "could not change the pull request's draft state"),
            );
        }
        pullRequest = existing.number;
      } else {
        const created = await github.createPull({
          head: branch,
          base: repository.defaultBranch,
          title: renderPullRequestTitle(issueNumber, claim.issue.title),
          body,
          draft: !success,
        });
        pullRequest = created.number;
      }
      clock.mark("publish.pullRequest");
    }
    await claim.leases.assertHeld(issueNumber, lease);
    clock.mark("publish.leaseCheck");
    await github.createComment(issueNumber, renderSummaryComment({ issue: issueNumber, report, branch, pullRequest: pullRequest ?? undefined, commits }));
    summaryPosted = true;
    clock.mark("publish.summary");
    const label = success ? config.labels.done : config.labels.failed;
    labels = await github.transitionLabels(issueNumber, labels, harnessLabels(config), label);
    clock.mark("publish.labels");
    await github.updateComment(claim.trackingCommentId, tracking(success ? "done" : "failed", { report, pullRequest: pullRequest ?? undefined }));
    clock.mark("publish.tracking");
    // No renewal may race the release: one landing first made the release miss (it
    // builds on the head it holds), and the finished issue was reclaimed and worked again.
    await heartbeat.stop();
    // By git push when the claim was made with the shared clone (no REST write spent).
    const released = await claim.leases.release(issueNumber, lease, claim.owner, deps.now(), { outcome: report.outcome, sessionId: report.sessionId });
    if (!released.ok) log.warn({ issue: issueNumber, head: released.head?.record ?? null }, "the lease was not ours to release any more");
    clock.mark("publish.release");
    return { repository: github.fullName, issue: issueNumber, outcome: report.outcome, label, pullRequest, report, error: null, pushed };
  } catch (thrown) {
    const error = toHarnessError(thrown, "EHARNESS_GITHUB", "See the harness log for the request that failed, then /retry.");
    log.error({ issue: issueNumber, code: error.code, err: thrown }, error.message);
    if (error.code === "EHARNESS_LEASE_LOST") {
      // Fenced: somebody else owns the issue now. Write nothing more.
      return { repository: github.fullName, issue: issueNumber, outcome: "error", label: labels.join(","), pullRequest, report, error, pushed };
    }
    const detail = { code: error.code, message: error.message, fix: error.fix };
    await heartbeat.stop(); // as above: no renewal racing the release
    await reportFailure(deps, claim, lease, { labels, report, branch, pullRequest, detail, tracking, summaryPosted }).catch((secondary: unknown) =>
      log.error({ issue: issueNumber, err: secondary }, "could not report the failure on the issue"),
    );
    return { repository: github.fullName, issue: issueNumber, outcome: "error", label: config.labels.failed, pullRequest, report, error, pushed };
  } finally {
    await heartbeat.stop();
    unregister?.();
    deps.cancel?.removeEventListener("abort", onCancel);
    await fs.rm(state.agentFile(claim.owner.agent), { force: true });
    if (worktree !== null || (await exists(worktreeDir))) {
      await git.removeWorktree(worktreeDir).catch((error: unknown) => log.warn({ err: error }, "worktree not removed"));
    }
    await claim.releaseLock();
    clock.mark("cleanup");
    log.info({ issue: issueNumber, steps: clock }, "issue steps");
  }
}

/** Saves the session where any runner can resume it; a failure costs only the resume. */
async function keepSession(deps: WorkDeps, claim: Claim, input: { git: GitRepository; url: string; home: string; cwd: string }): Promise<void> {
  try {
    await saveSession({
      git: input.git,
      url: input.url,
      credentials: { token: await deps.github.gitToken() },
      issue: claim.issue.number,
      home: input.home,
      cwd: input.cwd,
      sessionId: claim.sessionId,
      redact: deps.redact ?? processSecrets.redact,
      now: deps.now(),
    });
  } catch (error) {
    deps.log.warn({ issue: claim.issue.number, err: error }, "session not saved: /retry will not be able to resume it");
  }
}

/**
 * `/interrupt`: the session was stopped on a person's request. Keep the work:
 * a WIP commit on the branch, pushed; the session saved for /retry; the
 * tracking comment says what was done; the label says interrupted. The lease
 * already records the interrupt and the session id (the request wrote it).
 */
async function publishInterrupted(
  deps: WorkDeps,
  claim: Claim,
  input: {
    git: GitRepository;
    worktree: WorktreeHandle;
    url: string;
    labels: string[];
    report: SessionReport;
    branch: string;
    home: string;
    tracking: (phase: TrackingState["phase"], extra?: Partial<TrackingState>) => string;
  },
): Promise<WorkResult> {
  const { github, config, log } = deps;
  const issueNumber = claim.issue.number;
  const { git, worktree } = input;
  await git.commitAll(
    worktree,
    `harness: work in progress on #${issueNumber} (interrupted)\n\nSession ${claim.sessionId}, attempt ${claim.lease.record.attempt}.`,
  );
  const heads = await git.remoteHeads(input.url, [input.branch], { token: await github.gitToken() });
  const pushed = (await git.head(worktree)) !== heads.get(input.branch);
  if (pushed) await git.push(input.url, worktree, { token: await github.gitToken() });
  await keepSession(deps, claim, { git, url: input.url, home: input.home, cwd: worktree.path });
  await github.transitionLabels(issueNumber, input.labels, harnessLabels(config), config.labels.interrupted);
  await github.updateComment(claim.trackingCommentId, input.tracking("interrupted", { report: input.report }));
  log.info({ issue: issueNumber, pushed }, "interrupted: work kept");
  return {
    repository: github.fullName,
    issue: issueNumber,
    outcome: input.report.outcome,
    label: config.labels.interrupted,
    pullRequest: null,
    report: input.report,
    error: null,
    pushed,
    interrupted: true,
  };
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temp, JSON.stringify(value));
  await fs.rename(temp, file);
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

/** Tells people why the issue failed, marks it failed and gives the lease back. */
async function reportFailure(
  deps: WorkDeps,
  claim: Claim,
  lease: Claim["lease"],
  input: {
    labels: string[];
    report: SessionReport | null;
    branch: string;
    pullRequest: number | null;
    detail: { code: string; message: string; fix: string };
    tracking: (phase: TrackingState["phase"], extra?: Partial<TrackingState>) => string;
    /** The session's summary is already on the issue: one summary per session; the tracking comment carries the error. */
    summaryPosted: boolean;
  },
): Promise<void> {
  const { github, config } = deps;
  const issueNumber = claim.issue.number;
  await claim.leases.assertHeld(issueNumber, lease);
  // One summary per session: when it is already posted, the tracking comment below carries the error.
  if (!input.summaryPosted) {
    const body = input.report
      ? renderSummaryComment({
          issue: issueNumber,
          report: input.report,
          branch: input.branch,
          pullRequest: input.pullRequest ?? undefined,
          commits: 0,
          error: input.detail,
        })
      : `${summaryMarker(claim.sessionId)}\n**${input.detail.code}**: ${input.detail.message}\n\nFix: ${input.detail.fix}`;
    await github.createComment(issueNumber, body);
  }
  await github.transitionLabels(issueNumber, input.labels, harnessLabels(config), config.labels.failed);
  await github.updateComment(claim.trackingCommentId, input.tracking("failed", { error: input.detail, pullRequest: input.pullRequest ?? undefined }));
  await claim.leases.release(issueNumber, lease, claim.owner, deps.now(), { outcome: "error", sessionId: input.report?.sessionId ?? claim.sessionId });
}
