import { promises as fs } from "node:fs";
import path from "node:path";
import type { HarnessConfig } from "../core/config.js";
import { HarnessError, toHarnessError } from "../core/errors.js";
import type { KnowledgeSnapshot } from "../core/knowledge-types.js";
import type { LifecycleEvent } from "../core/lifecycle-events.js";
import { renderTrackingComment, type TrackingState } from "../core/render-comments.js";
import type { SessionReport } from "../core/session-report.js";
import { withoutRecordBlock } from "../core/session-record.js";
import type { GitHubClient } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import type { RunClaudeOptions, RunClaudeResult } from "../adapters/claude/run-claude.js";
import type { Claim } from "./claim-issue.js";
import type { EventBus } from "./event-bus.js";
import type { InterruptRegistry } from "./interrupts.js";
import { LeaseHandle } from "./lease-handle.js";
import { appendRecord, readRecords, type KnowledgeRemote } from "./knowledge-ref.js";
import { knowledgeNeighbours } from "./knowledge-neighbours.js";
import { repositoryKnowledge } from "./repository-knowledge.js";
import { prepareKnowledge, writeAttemptFile, writeLocalRecord, type KnowledgeContextInput } from "./knowledge-context.js";
import { publishFailure, publishInterrupted, publishSession, type PublishContext } from "./publisher.js";
import { readPromptComments } from "./read-prompt-comments.js";
import { runSessionStage, type ClaudeSettings } from "./session-runner.js";
import type { StateDir } from "./state-dir.js";
import { sharedClone } from "./shared-clone.js";
import { TrackingComment } from "./tracking-comment.js";
import { prepareWorkspace, removeWorkspace, type Workspace } from "./workspace.js";
import { assertConflictsResolved, mergeBaseForFollowUp } from "./merge-base.js";
import { reserveBudget } from "./budget-gate.js";
import { harnessLabels } from "./claim-issue.js";
import { renderBudgetWaitComment, sessionBudgetNote, type BudgetWait } from "../core/daily-budget.js";

export type { ClaudeSettings } from "./session-runner.js";
export { renderPrompts } from "./session-runner.js";

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
   * host shutting down): handled like /interrupt — the interrupt is recorded
   * on the lease, the work pushed as WIP, the session saved.
   */
  cancel?: AbortSignal;
  /** The host's lifecycle events (src/core/lifecycle-events.ts). */
  events?: EventBus;
  /** Scrubs secrets from text that leaves the host (the saved session); the process's registry by default. */
  redact?: (text: string) => string;
  runSession?: (options: RunClaudeOptions) => Promise<RunClaudeResult>;
  /**
   * More documents for the prompt's knowledge block (src/runtime/knowledge-context.ts):
   * graph neighbours (blockers, convoy siblings) and the full-text index's top matches.
   * Absent: the prior attempts and the cross-referenced issues' records only.
   */
  knowledgeSources?: Pick<KnowledgeContextInput, "neighbours" | "matches">;
  /**
   * HARNESS_DAILY_USD: the installation's dollars per UTC day, over every repository this host
   * has a clone of (src/runtime/budget-gate.ts); null or absent: no installation cap. The
   * repository's own cap is `budget.dailyUsd` in its configuration.
   */
  installationDailyUsd?: number | null;
}

export interface WorkResult {
  /** True when the session was interrupted (a person's /interrupt or the host's shutdown): its work is pushed, the issue labeled interrupted. */
  interrupted?: boolean;
  /** `owner/repo` */
  repository: string;
  issue: number;
  /** `waiting`: a daily budget was reached, no session started, the issue is queued again for the next UTC day (`budgetWait`). */
  outcome: SessionReport["outcome"] | "error" | "waiting";
  /** Set with `waiting`: which cap, how much of it was spent, and until when the issue waits. */
  budgetWait?: BudgetWait;
  label: string;
  pullRequest: number | null;
  report: SessionReport | null;
  error: HarnessError | null;
  pushed: boolean;
}

type Emit = <T extends LifecycleEvent["type"]>(type: T, fields: Omit<Extract<LifecycleEvent, { type: T }>, "type" | "issue" | "agent" | "at">) => void;

/**
 * Works a claimed issue to its end, as a short sequence of stages with one
 * owner each:
 *   lease handle (src/runtime/lease-handle.ts: the head held, heartbeat, "still ours?", release)
 *   → workspace (workspace.ts: shared clone, worktree on the issue's branch)
 *   → session (session-runner.ts: prompts, the real CLI, progress)
 *   → publisher (publisher.ts: a pure plan from core, executed while the lease is ours)
 * The attempt's one comment (tracking-comment.ts) shows progress and ends as
 * the summary. Whatever fails, the lease is given back or left to the
 * reclaimer, the worktree removed, and nothing pushed is ever rewritten.
 */
export async function workIssue(deps: WorkDeps, claim: Claim): Promise<WorkResult> {
  const { github, config, state, log } = deps;
  const issueNumber = claim.issue.number;
  const key = `${github.fullName}#${issueNumber}`;
  const branch = `${config.branchPrefix}${issueNumber}`;
  const agentName = `${claim.owner.agent}@${claim.owner.host}`;
  const attempt = claim.lease.record.attempt;
  const { clock } = claim;
  const emit: Emit = (type, fields) =>
    deps.events?.emit({ type, issue: key, agent: claim.owner.agent, at: deps.now().toISOString(), ...fields } as LifecycleEvent);
  const tracking = (phase: TrackingState["phase"], extra: Partial<TrackingState> = {}): string =>
    renderTrackingComment({ issue: issueNumber, phase, agent: agentName, attempt, branch, ...extra });

  // Why the session stops early: a stop request on the lease (a person's or our own), or a lost lease.
  const stop = new AbortController();
  let live: SessionReport | null = null;
  let lastEventAt = deps.now().toISOString();
  const startedAt = lastEventAt;
  // What `harness status` shows of this agent: written at the claim, then on every heartbeat.
  const recordLiveness = (): Promise<void> =>
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
    });
  const lease = new LeaseHandle({
    leases: claim.leases,
    issue: issueNumber,
    owner: claim.owner,
    head: claim.lease,
    termMs: config.lease.termMinutes * 60_000,
    livenessMs: deps.livenessMs ?? config.heartbeatSeconds * 1000,
    now: deps.now,
    beat: recordLiveness,
    onLost: () => stop.abort(),
    onRenewal: (result) => emit("lease_renewal", { result }),
    log,
  });
  const comment = new TrackingComment(github, claim.trackingCommentId, tracking("claimed"), {
    minIntervalMs: deps.progressIntervalMs ?? config.progressMinutes * 60_000,
    nowMs: () => deps.now().getTime(),
    log,
    issue: issueNumber,
  });
  const ctx: PublishContext = {
    github,
    config,
    lease,
    comment,
    issue: claim.issue,
    sessionId: claim.sessionId,
    attempt,
    agentName,
    branch,
    clock,
    log,
    now: deps.now,
    ...(deps.redact ? { redact: deps.redact } : {}),
    ...(deps.claude.sessionKey ? { sessionKey: deps.claude.sessionKey } : {}),
    done: { pullRequest: null, pushed: false },
  };
  // The attempt's record goes to refs/harness/knowledge whatever the end (success, failure,
  // interrupt), through the shared clone; before the worktree exists the remote is looked up.
  let knowledgeRemote: KnowledgeRemote | null = null;
  const remoteForRecord = async (): Promise<KnowledgeRemote> =>
    knowledgeRemote ?? {
      git: sharedClone(state, github),
      url: deps.gitUrl(await (claim.repository ?? (() => github.getRepository()))()),
      credentials: { token: await github.gitToken() },
    };
  ctx.knowledge = {
    used: [],
    mode: claim.mode,
    append: async (record, options) => {
      // A local copy in the attempt's directory first: the next attempt on this host reads it if the ref does not have it.
      await writeLocalRecord(state.session(claim.sessionId, attempt), record, options);
      if (options.localOnly) return;
      // The knowledge step fetched the ref into this clone: the append builds on that copy without a second fetch
      // (its push is the compare-and-swap; a copy another host's append made stale is fetched and replayed).
      const fetched = knowledgeRemote !== null;
      const remote = await remoteForRecord();
      await appendRecord({ ...remote, credentials: { token: await github.gitToken() } }, record, { fetched });
    },
  };

  const unregister = deps.interrupts?.register(key, () => stop.abort());
  // Our own stop request (a cancelled job, a host shutting down) is written to the
  // lease like a person's /interrupt, so publishing (and anyone reading the lease) treats it the same.
  let selfInterrupt: Promise<unknown> = Promise.resolve();
  let byShutdown = false;
  const onCancel = (): void => {
    byShutdown = true;
    stop.abort();
    selfInterrupt = lease.interrupt().catch((error: unknown) => log.warn({ err: error }, "could not record the interrupt"));
  };
  if (deps.cancel?.aborted) onCancel();
  else deps.cancel?.addEventListener("abort", onCancel, { once: true });

  // The heartbeat starts with the claim, not with the session: cloning a big
  // repository can take longer than a lease term, and a lease must never run
  // out while its holder is alive.
  lease.start();
  await recordLiveness().catch((error: unknown) => log.warn({ err: error }, "liveness not recorded"));
  const labels = claim.labels;
  let report: SessionReport | null = null;
  let result: WorkResult | null = null;
  try {
    // The issue's comments for the prompt, read while the workspace and the knowledge are prepared.
    const promptComments = readPromptComments({ github, config, permission: claim.permission }, claim.issue);
    promptComments.catch(() => undefined); // awaited by the session stage, which reports a failure
    const workspace: Workspace = await prepareWorkspace({
      github,
      state,
      gitUrl: deps.gitUrl,
      issue: issueNumber,
      branch,
      queuedLabel: config.labels.queued,
      clock,
      log,
      keepPaths: config.workspace.keepPaths,
      ...(claim.repository ? { repository: claim.repository } : {}),
    });
    emit("worktree_ready", {
      path: workspace.worktree.path,
      startPoint: workspace.heads.has(branch) ? branch : workspace.repository.defaultBranch,
      warm: workspace.ready.warm,
      ms: workspace.ready.ms,
    });
    ctx.workspace = workspace.ready;

    // A follow-up may fall back to a fresh session (its saved one missing here): it carries the summary too.
    // A conflict follow-up: the base merged into the branch first, its conflicts left for the session.
    const merge = claim.followUp?.source === "conflict" ? await mergeBaseForFollowUp(workspace, claim.followUp, log) : null;
    const followUp = merge?.followUp ?? claim.followUp;
    // What earlier sessions left (refs/harness/knowledge, fetched with the branches above): the prompt's {{knowledge}}.
    knowledgeRemote = { git: workspace.git, url: workspace.url, credentials: { token: await github.gitToken() } };
    // The repository's records and curated documents through the host's full-text index (git reads only).
    const repositoryBase = repositoryKnowledge({
      git: workspace.git,
      repository: github.fullName,
      defaultBranch: workspace.repository.defaultBranch,
      state,
      now: deps.now,
      log,
      textMatches: config.knowledge.textMatches,
    });
    const knowledge = await prepareKnowledge({
      remote: knowledgeRemote,
      seen: workspace.knowledge,
      repository: github.fullName,
      issue: claim.issue,
      attempt,
      previous: claim.previous === null ? null : { sessionId: claim.previous.sessionId, attempt: claim.previous.attempt, host: claim.previous.owner.host },
      sessionDir: (sessionId, n) => state.session(sessionId, n),
      log,
      now: deps.now,
      ...(deps.knowledgeSources ?? {
        matches: repositoryBase.matches,
        // Recorded blockers and convoy siblings (none read when the issue object says it has neither).
        neighbours: knowledgeNeighbours({
          github,
          issue: claim.issue,
          records: async (issues) => (await readRecords(workspace.git, { issues, repository: github.fullName })).records,
          log,
        }),
      }),
    }).catch((error: unknown) => {
      // Knowledge is a help, never a reason to fail the issue.
      log.warn({ issue: issueNumber, err: error }, "knowledge not prepared: the session starts without it");
      return null;
    });
    ctx.knowledge.used = knowledge?.used ?? [];
    clock.mark("knowledge");
    // Money (src/core/daily-budget.ts): today's spend is every attempt's record on refs/harness/knowledge plus the
    // reservations of sessions in flight on refs/harness/budget/ledger; a start reserves this session's limit there.
    const budget = await reserveBudget({
      remote: knowledgeRemote,
      leaseRefPrefix: config.lease.refPrefix,
      holder: { issue: issueNumber, agent: claim.owner.agent, host: claim.owner.host, epoch: claim.lease.record.epoch },
      git: workspace.git,
      repository: github.fullName,
      config,
      installationDailyUsd: deps.installationDailyUsd ?? null,
      labels: claim.issue.labels,
      state,
      now: deps.now(),
      log,
    });
    clock.mark("budget");
    if (budget.kind === "wait") {
      // No session: the claim is handed back without using the attempt, the lease holding every host off until the next UTC day.
      await lease.stop();
      await lease.assertHeld();
      log.warn(
        { issue: issueNumber, scope: budget.scope, spentUsd: budget.spentUsd, capUsd: budget.capUsd, until: budget.until },
        "daily budget reached: no session",
      );
      await comment.finish(renderBudgetWaitComment({ issue: issueNumber, agent: agentName, wait: budget, labelQueued: config.labels.queued }));
      await github.transitionLabels(issueNumber, labels, harnessLabels(config), config.labels.queued);
      const released = await lease.release({ outcome: "budget_wait", sessionId: claim.previous?.sessionId ?? null, notBefore: budget.until, defer: true });
      emit("budget_wait", { scope: budget.scope, spentUsd: budget.spentUsd, reservedUsd: budget.reservedUsd, capUsd: budget.capUsd, until: budget.until });
      emit("released", { outcome: "budget_wait", ok: released });
      result = { ...base(config.labels.queued, null, null, false), outcome: "waiting", budgetWait: budget };
      return result;
    }
    const budgetNote = sessionBudgetNote(budget, config.budget.maxIssueUsd);
    if (budgetNote !== null) {
      ctx.budgetNote = budgetNote;
      log.info({ issue: issueNumber, sessionUsd: budget.sessionUsd, source: budget.source }, "session budget");
    }
    // Written before the session starts: if this process is killed, the next attempt on this host rebuilds the record from it and the transcript.
    await writeAttemptFile(state.session(claim.sessionId, attempt), {
      repository: github.fullName,
      issue: issueNumber,
      sessionId: claim.sessionId,
      attempt,
      mode: claim.mode,
      branch,
      knowledgeUsed: ctx.knowledge.used.map((u) => u.id),
    }).catch((error: unknown) => log.warn({ issue: issueNumber, err: error }, "attempt file not written: a killed session's record cannot be rebuilt"));
    const lastSummary =
      claim.mode === "fresh" || claim.followUp ? ((await github.findComment(issueNumber, "<!-- harness:summary"))?.body ?? undefined) : undefined;
    // Its hidden record is in the knowledge block already; the fresh prompt quotes what a person reads.
    const previousSummary = lastSummary === undefined ? undefined : withoutRecordBlock(lastSummary);
    // What the session's knowledge tools answer from: the block's documents and the rest of the repository's.
    const sessionSnapshot =
      knowledge !== null && deps.knowledgeSources === undefined ? withDocuments(knowledge.snapshot, await repositoryBase.snapshot()) : null;
    let loggedToolCalls = 0;
    emit("session_started", { sessionId: claim.sessionId, resume: claim.mode === "resume" });
    const session = await runSessionStage({
      promptComments,
      github,
      config,
      claude: deps.claude,
      promptsDir: deps.promptsDir,
      issue: claim.issue,
      sessionId: claim.sessionId,
      mode: claim.mode,
      previousOutcome: claim.previous?.outcome ?? claim.previous?.state ?? "unknown",
      ...(previousSummary !== undefined ? { previousSummary } : {}),
      ...(followUp ? { followUp } : {}),
      ...(knowledge !== null ? { knowledge: { block: knowledge.block, snapshot: sessionSnapshot ?? knowledge.snapshot } } : {}),
      agentId: `${claim.owner.agent}-${claim.sessionId}`,
      workspace,
      // One directory (and HOME) per attempt: a resumed session is restored from the
      // repository like on any other runner, never found lying around.
      sessionDir: state.session(claim.sessionId, attempt),
      signal: stop.signal,
      onReport: (next) => {
        live = next;
        lastEventAt = deps.now().toISOString();
        // Every step goes to the log and the bus (free); the comment (a GitHub write) only now and then.
        if (next.lastToolCall !== null && next.toolCalls !== loggedToolCalls) {
          loggedToolCalls = next.toolCalls;
          log.info({ issue: issueNumber, turns: next.turns, lastToolCall: next.lastToolCall }, "tool call");
          emit("progress", { turns: next.turns, costUsd: next.costUsd, lastToolCall: next.lastToolCall });
        }
        if (comment.progress(tracking("running", { report: next }))) {
          log.info({ issue: issueNumber, turns: next.turns, costUsd: next.costUsd, lastToolCall: next.lastToolCall }, "progress");
        }
      },
      clock,
      log,
      ...(deps.runSession ? { runSession: deps.runSession } : {}),
      maxBudgetUsd: budget.sessionUsd,
    }).finally(async () => {
      // The session is over: a stop request from outside no longer needs recording.
      deps.cancel?.removeEventListener("abort", onCancel);
      await selfInterrupt;
    });
    await comment.settle();
    clock.mark("progressEdit");
    report = session.result.report;
    log.info({ issue: issueNumber, outcome: report.outcome, turns: report.turns, costUsd: report.costUsd }, "session ended");
    emit("session_ended", { outcome: report.outcome, turns: report.turns, costUsd: report.costUsd, durationMs: report.durationMs });
    emit("session_usage", { models: report.usageByModel ?? [] });

    // Publishing: only while we still hold the lease, or a stop request on it asks us to keep the work.
    const status = await lease.status();
    clock.mark("publish.leaseRead");
    if (status === "interrupted") {
      await lease.stop();
      const kept = await publishInterrupted(ctx, workspace, session.home, report, labels);
      emit("interrupted", { pushed: kept.pushed, byShutdown });
      result = { ...base(kept.label, kept.pullRequest, report, kept.pushed), outcome: report.outcome, interrupted: true };
      return result;
    }
    if (merge) await assertConflictsResolved(workspace, merge.conflicted);
    const published = await publishSession(ctx, workspace, session.home, report, labels);
    emit("published", { outcome: report.outcome, label: published.label, pullRequest: published.pullRequest, pushed: published.pushed });
    emit("released", { outcome: report.outcome, ok: published.released });
    result = { ...base(published.label, published.pullRequest, report, published.pushed), outcome: report.outcome };
    return result;
  } catch (thrown) {
    const error = toHarnessError(thrown, "EHARNESS_GITHUB", "See the harness log for the request that failed, then /retry.");
    log.error({ issue: issueNumber, code: error.code, err: thrown }, error.message);
    if (error.code === "EHARNESS_LEASE_LOST") {
      // Fenced: somebody else owns the issue now. Write nothing more.
      emit("fenced", {});
      result = { ...base(labels.join(","), ctx.done.pullRequest, report, ctx.done.pushed), outcome: "error", error };
      return result;
    }
    emit("failed", { code: error.code, message: error.message });
    const detail = { code: error.code, message: error.message, fix: error.fix };
    await lease.stop(); // no renewal may race the release
    const retry = await publishFailure(ctx, { labels, report, error: detail }).catch((secondary: unknown) => {
      log.error({ issue: issueNumber, err: secondary }, "could not report the failure on the issue");
      return null;
    });
    // A transient error (the sandbox did not start) puts the issue back in the queue with a backoff.
    result = { ...base(retry?.kind === "retry" ? config.labels.queued : config.labels.failed, null, report, false), outcome: "error", error };
    return result;
  } finally {
    await lease.stop();
    unregister?.();
    deps.cancel?.removeEventListener("abort", onCancel);
    await fs.rm(state.agentFile(claim.owner.agent), { force: true });
    await removeWorkspace({ github, state, issue: issueNumber, log });
    await claim.releaseLock();
    clock.mark("cleanup");
    log.info({ issue: issueNumber, steps: clock }, "issue steps");
    emit("issue_done", { outcome: result?.outcome ?? "error", label: result?.label ?? "", pullRequest: result?.pullRequest ?? null, steps: clock.toJSON() });
  }

  function base(label: string, pullRequest: number | null, sessionReport: SessionReport | null, pushed: boolean): Omit<WorkResult, "outcome"> {
    return { repository: github.fullName, issue: issueNumber, label, pullRequest, report: sessionReport, error: null, pushed };
  }
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temp, JSON.stringify(value));
  await fs.rename(temp, file);
}

/** `base` with the documents and links of `more` it does not hold yet (by id; links by their three fields). */
function withDocuments(base: KnowledgeSnapshot, more: KnowledgeSnapshot | null): KnowledgeSnapshot {
  if (more === null) return base;
  const ids = new Set(base.documents.map((d) => d.id));
  const linkKey = (l: KnowledgeSnapshot["links"][number]): string => `${l.type} ${l.from} ${l.to}`;
  const links = new Set(base.links.map(linkKey));
  return {
    version: 1,
    documents: [...base.documents, ...more.documents.filter((d) => !ids.has(d.id))],
    links: [...base.links, ...more.links.filter((l) => !links.has(linkKey(l)))],
  };
}
