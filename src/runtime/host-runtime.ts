import type { HarnessConfig } from "../core/config.js";
import { sameOwner, type LeaseOwner } from "../core/lease.js";
import type { LifecycleEvent } from "../core/lifecycle-events.js";
import type { GitHubClient } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import type { RunClaudeOptions, RunClaudeResult } from "../adapters/claude/run-claude.js";
import { claimIssue, harnessLabels, type Claim, type ClaimDeps, type ClaimOutcome } from "./claim-issue.js";
import { EventBus } from "./event-bus.js";
import { appendEventsTo } from "./event-file.js";
import { InterruptRegistry } from "./interrupts.js";
import { maintainClone, maintainClones } from "./maintain-clone.js";
import { pruneSessions } from "./prune-sessions.js";
import type { ClaudeSettings } from "./session-runner.js";
import { sharedClone } from "./shared-clone.js";
import type { StateDir } from "./state-dir.js";
import { workIssue, type WorkDeps, type WorkResult } from "./work-issue.js";

/** Kubernetes' default terminationGracePeriodSeconds: what a pod gets between SIGTERM and SIGKILL. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;

export interface HostRuntimeOptions {
  state: StateDir;
  host: string;
  runId: string;
  claude: ClaudeSettings;
  promptsDir: string;
  log: Logger;
  now?: () => Date;
  /** The URL the harness pushes to; the repository's clone URL by default. */
  gitUrl?: (repository: { cloneUrl: string }) => string;
  progressIntervalMs?: number;
  livenessMs?: number;
  /** Session directories older than this are removed by upkeep (HARNESS_SESSION_RETENTION_DAYS). */
  sessionRetentionMs?: number;
  /**
   * After a shutdown interrupt, ask for a `/retry` (resume) on the lease and
   * label the issue queued again, so any host continues the session. True for
   * the app and the worker (the process is going away, nobody decided to stop
   * the work); false for the Action, where a cancelled job is a person's
   * decision and ends as `/interrupt` does.
   */
  requeueOnShutdown?: boolean;
  runSession?: (options: RunClaudeOptions) => Promise<RunClaudeResult>;
  /** Append every lifecycle event to this file as JSON lines (HARNESS_EVENTS_FILE). */
  eventsFile?: string;
  /** HARNESS_DAILY_USD: the installation's daily dollar cap over every repository this host has a clone of; null or absent: none. */
  dailyUsd?: number | null;
  /** Test seams for the claim and the work. */
  claim?: (deps: ClaimDeps, issue: number) => Promise<ClaimOutcome>;
  work?: (deps: WorkDeps, claim: Claim) => Promise<WorkResult>;
}

export type IssueRun = { issue: number; claimed: false; reason: string } | { issue: number; claimed: true; result: WorkResult; requeued: boolean };

/**
 * One per process: what every entry point (app, worker, Action) shares on a
 * host — the state directory, the lifecycle event bus, in-process interrupts,
 * upkeep, and one shutdown policy — and the one issue runner (`runIssue`:
 * claim, work, and on shutdown queue the issue again).
 *
 * Shutdown (`shutdown()`, on SIGINT/SIGTERM or a cancelled job): no new claims;
 * every running session is interrupted the way `/interrupt` does it (work
 * committed and pushed as WIP, session saved); the issues are queued again to
 * resume (`requeueOnShutdown`); it waits for the running issues at most
 * `graceMs` (default 30 s), then returns what is still running.
 */
export class HostRuntime {
  readonly events: EventBus;
  readonly interrupts = new InterruptRegistry();
  readonly state: StateDir;
  readonly host: string;
  readonly runId: string;
  readonly now: () => Date;
  private readonly options: HostRuntimeOptions;
  private readonly stopping = new AbortController();
  private readonly running = new Map<string, Promise<IssueRun>>();
  private readonly requeued: string[] = [];

  constructor(options: HostRuntimeOptions) {
    this.options = options;
    this.state = options.state;
    this.host = options.host;
    this.runId = options.runId;
    this.now = options.now ?? (() => new Date());
    this.events = new EventBus((error, event) => options.log.warn({ err: error, event: event.type }, "a lifecycle event listener failed"));
    if (options.eventsFile) appendEventsTo(this.events, options.eventsFile);
  }

  /** Aborted once shutdown begins: entry points stop claiming. */
  get signal(): AbortSignal {
    return this.stopping.signal;
  }

  get isStopping(): boolean {
    return this.stopping.signal.aborted;
  }

  /** Issues queued again by the shutdown (`owner/repo#N`). */
  get requeuedIssues(): readonly string[] {
    return this.requeued;
  }

  /** Issues being worked in this process now (`owner/repo#N`). */
  get active(): string[] {
    return [...this.running.keys()];
  }

  private gitUrl(): (repository: { cloneUrl: string }) => string {
    return this.options.gitUrl ?? ((r) => r.cloneUrl);
  }

  emit(event: LifecycleEvent): void {
    this.events.emit(event);
  }

  /**
   * The issue runner: claims `issue` (lockfile, lease, labels, the attempt's
   * comment) for `agent`, works it, and after a shutdown interrupt queues it
   * again. An issue already running here is not claimed twice.
   */
  runIssue(
    target: { github: GitHubClient; config: HarnessConfig; ownLogin?: () => Promise<string | null> },
    issue: number,
    agent: string,
    log: Logger,
  ): Promise<IssueRun> {
    const key = `${target.github.fullName}#${issue}`;
    const existing = this.running.get(key);
    if (existing) return existing.then(() => ({ issue, claimed: false, reason: "already worked in this process" }));
    const run = this.claimAndWork(target, issue, agent, log, key).finally(() => this.running.delete(key));
    this.running.set(key, run);
    return run;
  }

  private async claimAndWork(
    target: { github: GitHubClient; config: HarnessConfig; ownLogin?: () => Promise<string | null> },
    issue: number,
    agent: string,
    log: Logger,
    key: string,
  ): Promise<IssueRun> {
    const { github, config } = target;
    const owner: LeaseOwner = { agent, host: this.host, runId: this.runId };
    const at = (): string => this.now().toISOString();
    if (this.isStopping) return { issue, claimed: false, reason: "the host is shutting down" };
    const claimed = await (this.options.claim ?? claimIssue)(
      { github, config, state: this.state, owner, log, now: this.now, gitUrl: this.gitUrl(), ...(target.ownLogin ? { ownLogin: target.ownLogin } : {}) },
      issue,
    );
    if (!claimed.claimed) {
      log.info({ reason: claimed.reason }, "not claimed");
      this.emit({ type: "not_claimed", issue: key, agent, at: at(), reason: claimed.reason });
      return { issue, claimed: false, reason: claimed.reason };
    }
    const claim = claimed.claim;
    this.emit({
      type: "claimed",
      issue: key,
      agent,
      at: at(),
      epoch: claim.lease.record.epoch,
      attempt: claim.lease.record.attempt,
      sessionId: claim.sessionId,
      mode: claim.mode,
      queuedAt: claim.queuedAt ?? null,
    });
    const result = await (this.options.work ?? workIssue)(
      {
        github,
        config,
        state: this.state,
        claude: this.options.claude,
        promptsDir: this.options.promptsDir,
        gitUrl: this.gitUrl(),
        log,
        now: this.now,
        interrupts: this.interrupts,
        cancel: this.stopping.signal,
        events: this.events,
        ...(this.options.progressIntervalMs !== undefined ? { progressIntervalMs: this.options.progressIntervalMs } : {}),
        ...(this.options.livenessMs !== undefined ? { livenessMs: this.options.livenessMs } : {}),
        ...(this.options.runSession ? { runSession: this.options.runSession } : {}),
        installationDailyUsd: this.options.dailyUsd ?? null,
      },
      claim,
    );
    let requeued = false;
    if (this.isStopping && this.options.requeueOnShutdown !== false) requeued = await this.requeueAfterShutdown(claim, github, config, result, log);
    if (requeued) this.emit({ type: "requeued", issue: key, agent, at: at(), reason: "shutdown" });
    log.info({ outcome: result.outcome, label: result.label, pullRequest: result.pullRequest }, "issue done");
    return { issue, claimed: true, result, requeued };
  }

  /** After a shutdown interrupt: ask for a /retry on the lease and label the issue queued again. */
  private async requeueAfterShutdown(claim: Claim, github: GitHubClient, config: HarnessConfig, result: WorkResult, log: Logger): Promise<boolean> {
    const issue = claim.issue.number;
    try {
      const head = await claim.leases.read(issue);
      if (head === null || head.record.state !== "interrupted" || !sameOwner(head.record.owner, claim.owner) || head.record.epoch !== claim.lease.record.epoch)
        return false;
      const by = `${claim.owner.agent}@${claim.owner.host} (shutdown)`;
      let retried = result.interrupted === true ? await claim.leases.requestRetry(issue, "resume", by, this.now()) : null;
      if (retried === null || !retried.ok) retried = await claim.leases.requestRetry(issue, "fresh", by, this.now());
      if (!retried.ok) return false;
      const current = await github.getIssue(issue);
      if (current.state === "open") await github.transitionLabels(issue, current.labels, harnessLabels(config), config.labels.queued);
      this.requeued.push(`${github.fullName}#${issue}`);
      log.info({ mode: retried.head?.record.retry?.mode }, "interrupted by the shutdown: queued again");
      return true;
    } catch (error) {
      log.warn({ err: error }, "could not queue the interrupted issue again; /retry it");
      return false;
    }
  }

  /**
   * The one shutdown policy (see the class comment). Resolves once every
   * running issue has ended or `graceMs` has passed; `unfinished` lists what
   * was still running then (its lease expires and the reclaimer requeues it).
   */
  async shutdown(graceMs: number = DEFAULT_SHUTDOWN_GRACE_MS): Promise<{ requeued: string[]; unfinished: string[] }> {
    if (!this.isStopping) {
      this.options.log.info({ running: this.active, graceMs }, "stopping: interrupting running sessions");
      this.stopping.abort();
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
      timer.unref();
    });
    await Promise.race([Promise.allSettled([...this.running.values()]), deadline]);
    clearTimeout(timer);
    return { requeued: [...this.requeued], unfinished: this.active };
  }

  /** Old session directories go, so a long-running host does not fill its disk; a failure only costs disk. */
  async pruneSessions(): Promise<void> {
    if (this.options.sessionRetentionMs === undefined) return;
    await pruneSessions(this.state, { retentionMs: this.options.sessionRetentionMs, now: this.now().getTime(), log: this.options.log }).catch(
      (error: unknown) => this.options.log.warn({ err: error }, "could not remove old session directories"),
    );
  }

  /** The shared clone's upkeep of one repository, or of every clone on the host; a failure only costs disk. */
  async maintain(repository?: { owner: string; repo: string }): Promise<void> {
    const log = this.options.log;
    if (repository === undefined) {
      await maintainClones(this.state, (error) => log.warn({ err: error }, "clone upkeep failed"));
      return;
    }
    try {
      const deleted = await maintainClone(sharedClone(this.state, repository), this.state, repository);
      if (deleted.length > 0)
        log.debug({ repository: `${repository.owner}/${repository.repo}`, deleted: deleted.length }, "clone: refs of finished issues deleted");
    } catch (error) {
      log.warn({ err: error }, "clone upkeep failed");
    }
  }
}
