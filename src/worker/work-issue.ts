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
import { runClaude, type RunClaudeOptions, type RunClaudeResult } from "../adapters/claude/run-claude.js";
import { harnessLabels, type Claim } from "./claim-issue.js";
import { Heartbeat } from "./heartbeat.js";
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
  /** Minimum time between progress edits of the tracking comment. */
  progressIntervalMs: number;
  /** How often the agent records that it is alive (local, free); default 30 s. */
  livenessMs?: number;
  runSession?: (options: RunClaudeOptions) => Promise<RunClaudeResult>;
}

export interface WorkResult {
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
  input: { issue: Claim["issue"]; branch: string; baseBranch: string },
): Promise<{ bootstrap: string; task: string }> {
  const values = {
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
  const taskTemplate = await fs.readFile(path.join(deps.promptsDir, "task.md"), "utf8");
  return {
    bootstrap: renderTemplate(bootstrapTemplate, values, source),
    task: renderTemplate(taskTemplate, values, "prompts/task.md"),
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

  const git = new GitRepository({
    cloneDir: state.clone(github.owner, github.repo),
    home: state.gitHome(),
    identity: { name: "claude-harness", email: "claude-harness@users.noreply.github.com" },
  });
  const worktreeDir = state.worktree(github.owner, github.repo, issueNumber);
  const sessionDir = state.session(claim.sessionId);
  let worktree: WorktreeHandle | null = null;
  let labels = claim.labels;
  let report: SessionReport | null = null;
  let pushed = false;
  let pullRequest: number | null = null;
  let lease = claim.lease;

  try {
    labels = await github.transitionLabels(issueNumber, labels, harnessLabels(config), config.labels.running);
    const repository = await github.getRepository();
    const url = deps.gitUrl(repository);
    const token = await github.gitToken();

    await fs.mkdir(state.gitHome(), { recursive: true });
    await git.ensureClone();
    const heads = await git.remoteHeads(url, [repository.defaultBranch, branch], { token });
    if (!heads.has(repository.defaultBranch)) {
      throw new HarnessError("EHARNESS_NO_DEFAULT_BRANCH", {
        message: `The repository ${github.fullName} has no branch ${repository.defaultBranch} (its default branch), so there is nothing to start from.`,
        fix: `Push a first commit to ${repository.defaultBranch}, then label the issue ${config.labels.queued} again.`,
      });
    }
    await git.fetchBranches(url, [...heads.keys()], { token });
    const startPoint = heads.has(branch) ? `refs/remotes/origin/${branch}` : `refs/remotes/origin/${repository.defaultBranch}`;
    worktree = await git.addWorktree(worktreeDir, branch, startPoint);
    log.info({ issue: issueNumber, worktree: worktreeDir, startPoint }, "worktree ready");

    const prompts = await renderPrompts(deps, { issue: claim.issue, branch, baseBranch: repository.defaultBranch });
    const home = path.join(sessionDir, "home");
    await fs.mkdir(home, { recursive: true });
    const bootstrapFile = path.join(sessionDir, "bootstrap.md");
    await fs.writeFile(bootstrapFile, prompts.bootstrap);

    let lastEdit = deps.now().getTime();
    let loggedToolCalls = 0;
    let lastTrackingBody = "";
    let pendingEdit: Promise<void> = Promise.resolve();
    let live: SessionReport | null = null;
    let lastEventAt = deps.now().toISOString();
    const startedAt = lastEventAt;
    const termMs = config.lease.termMinutes * 60_000;
    const stop = new AbortController();
    const heartbeat = new Heartbeat({
      livenessMs: deps.livenessMs ?? 30_000,
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
      renew: async () => {
        const renewed = await claim.leases.renew(issueNumber, lease, claim.owner, deps.now(), termMs);
        if (renewed.ok) lease = renewed.head;
        return renewed.ok;
      },
      onFenced: () => stop.abort(),
      log,
    });
    heartbeat.start();
    let result: RunClaudeResult;
    try {
      result = await (deps.runSession ?? runClaude)({
        cliPath: deps.claude.cliPath,
        cwd: worktree.path,
        home,
        prompt: prompts.task,
        sessionId: claim.sessionId,
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
          if (now - lastEdit < deps.progressIntervalMs) return;
          const body = tracking("running", { report });
          if (body === lastTrackingBody) return;
          lastEdit = now;
          lastTrackingBody = body;
          log.info({ issue: issueNumber, turns: report.turns, costUsd: report.costUsd, lastToolCall: report.lastToolCall }, "progress");
          pendingEdit = pendingEdit
            .then(() => github.updateComment(claim.trackingCommentId, body))
            .catch((error: unknown) => log.warn({ err: error }, "progress edit failed"));
        },
      });
    } finally {
      await heartbeat.stop();
      await fs.rm(state.agentFile(claim.owner.agent), { force: true });
    }
    await pendingEdit;
    report = result.report;
    log.info({ issue: issueNumber, outcome: report.outcome, turns: report.turns, costUsd: report.costUsd }, "session ended");

    // Publishing: only while we still hold the lease.
    await claim.leases.assertHeld(issueNumber, lease);
    await git.commitAll(worktree, `harness: work on #${issueNumber} (${report.outcome})\n\nSession ${claim.sessionId}, attempt ${attempt}.`);
    const commits = await git.countCommits(`refs/remotes/origin/${repository.defaultBranch}..refs/heads/${branch}`);
    const remoteHead = heads.get(branch);
    const localHead = await git.head(worktree);
    if (commits > 0 && localHead !== remoteHead) {
      // A fresh token: an installation token lives an hour, a session may too.
      await git.push(url, worktree, { token: await github.gitToken() });
      pushed = true;
    }
    const success = report.outcome === "success";
    if (commits > 0) {
      await claim.leases.assertHeld(issueNumber, lease);
      const existing = await github.findOpenPull(branch, repository.defaultBranch);
      const body = renderPullRequestBody({ issue: issueNumber, report, branch, commits });
      if (existing) {
        await github.updatePull(existing.number, { body });
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
    }
    await claim.leases.assertHeld(issueNumber, lease);
    await github.createComment(issueNumber, renderSummaryComment({ issue: issueNumber, report, branch, pullRequest: pullRequest ?? undefined, commits }));
    const label = success ? config.labels.done : config.labels.failed;
    labels = await github.transitionLabels(issueNumber, labels, harnessLabels(config), label);
    await github.updateComment(claim.trackingCommentId, tracking(success ? "done" : "failed", { report, pullRequest: pullRequest ?? undefined }));
    const released = await claim.leases.release(issueNumber, lease, claim.owner, deps.now(), { outcome: report.outcome, sessionId: report.sessionId });
    if (released.ok) lease = released.head;
    return { repository: github.fullName, issue: issueNumber, outcome: report.outcome, label, pullRequest, report, error: null, pushed };
  } catch (thrown) {
    const error = toHarnessError(thrown, "EHARNESS_GITHUB", "See the harness log for the request that failed, then /retry.");
    log.error({ issue: issueNumber, code: error.code, err: thrown }, error.message);
    if (error.code === "EHARNESS_LEASE_LOST") {
      // Fenced: somebody else owns the issue now. Write nothing more.
      return { repository: github.fullName, issue: issueNumber, outcome: "error", label: labels.join(","), pullRequest, report, error, pushed };
    }
    const detail = { code: error.code, message: error.message, fix: error.fix };
    await reportFailure(deps, claim, lease, { labels, report, branch, pullRequest, detail, tracking }).catch((secondary: unknown) =>
      log.error({ issue: issueNumber, err: secondary }, "could not report the failure on the issue"),
    );
    return { repository: github.fullName, issue: issueNumber, outcome: "error", label: config.labels.failed, pullRequest, report, error, pushed };
  } finally {
    if (worktree !== null || (await exists(worktreeDir))) {
      await git.removeWorktree(worktreeDir).catch((error: unknown) => log.warn({ err: error }, "worktree not removed"));
    }
    await claim.releaseLock();
  }
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
  },
): Promise<void> {
  const { github, config } = deps;
  const issueNumber = claim.issue.number;
  await claim.leases.assertHeld(issueNumber, lease);
  if (input.report) {
    await github.createComment(
      issueNumber,
      renderSummaryComment({ issue: issueNumber, report: input.report, branch: input.branch, pullRequest: input.pullRequest ?? undefined, commits: 0, error: input.detail }),
    );
  } else {
    await github.createComment(issueNumber, `${summaryMarker(claim.sessionId)}\n**${input.detail.code}**: ${input.detail.message}\n\nFix: ${input.detail.fix}`);
  }
  await github.transitionLabels(issueNumber, input.labels, harnessLabels(config), config.labels.failed);
  await github.updateComment(claim.trackingCommentId, input.tracking("failed", { error: input.detail, pullRequest: input.pullRequest ?? undefined }));
  await claim.leases.release(issueNumber, lease, claim.owner, deps.now(), { outcome: "error", sessionId: input.report?.sessionId ?? claim.sessionId });
}
