import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { parseConfig, type HarnessConfig } from "../core/config.js";
import { isHarnessError } from "../core/errors.js";
import { EtagCache } from "../core/etag-cache.js";
import type { ReclaimPolicy } from "../core/reclaim.js";
import { GitHubClient, type GitHubApi } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import { bootId } from "../adapters/lockfile.js";
import { readConfig } from "../runtime/load-config.js";
import { readQueue } from "../runtime/read-queue.js";
import type { Priority, QueuePlan } from "../core/queue.js";
import { assertFreeDisk } from "../runtime/free-disk.js";
import { killOrphanedAgents } from "../runtime/orphans.js";
import { pruneWorktrees } from "../runtime/prune-worktrees.js";
import { DEFAULT_SHUTDOWN_GRACE_MS, HostRuntime, type HostRuntimeOptions } from "../runtime/host-runtime.js";
import { reclaimerPass, type ReclaimResult } from "../runtime/reclaimer.js";
import { reclaimedEvent } from "../runtime/reclaimed-event.js";
import { WarmPicker } from "../runtime/warm-picker.js";
import type { WorkResult } from "../runtime/work-issue.js";
import { workerFile, writeJsonAtomic, type AgentSlot, type WorkerRecord } from "../runtime/worker-registry.js";

/** The host's settings are the runtime's (src/runtime/host-runtime.ts); the rest is the queue walk's. */
export interface QueueWorkerOptions extends Pick<
  HostRuntimeOptions,
  "state" | "host" | "runId" | "claude" | "promptsDir" | "log" | "now" | "gitUrl" | "eventsFile" | "dailyUsd" | "runSession"
> {
  agents: number;
  /** `owner/repo` names to pull from. */
  repositories: { owner: string; repo: string }[];
  api: GitHubApi;
  /** Stop when a pass finds nothing to claim (instead of polling). */
  once: boolean;
  /** Claim at most this many issues, then stop (null: no limit). */
  maxIssues: number | null;
  /** Time between queue passes while idle. */
  pollMs: number;
  /** Each claim waits a random time up to this long, so agents do not start sessions in lockstep. */
  jitterMs: number;
  /** Overrides each repository's `reclaim` configuration (tests). */
  reclaimPolicy?: ReclaimPolicy;
  minFreeDiskMb: number;
  /** Session directories older than this are removed (src/runtime/prune-sessions.ts). */
  sessionRetentionMs: number;
  random?: () => number;
  /** Called when an agent finishes an issue (tests, the CLI's output). */
  onResult?: (result: WorkResult) => void;
}

export interface QueueWorkerSummary {
  workerId: string;
  claimed: number;
  results: WorkResult[];
  /** Issues whose sessions the shutdown interrupted and put back in the queue. */
  requeued: string[];
}

interface Candidate {
  github: GitHubClient;
  config: HarnessConfig;
  issue: number;
  priority: Priority;
}

/**
 * `harness worker --agents N`: N agents in one process pull from the queues of
 * the named repositories. Each agent claims through the lockfile and the lease
 * (claimIssue), works the issue in its own worktree with its own HOME
 * (workIssue), and goes back for the next one. One queue pass (reclaimer, then
 * the queue read with conditional requests) is shared by all agents.
 *
 * Shutdown (`stop()`, on SIGINT/SIGTERM): no new claims; a running session is
 * interrupted the way `/interrupt` does it (workIssue's `cancel`: an interrupt
 * recorded on the lease), so its work is committed and pushed as WIP and its
 * session saved; then the worker asks for a `/retry` (resume) on the lease and
 * labels the issue queued again, so the next worker on any host continues the
 * same session. An agent that is publishing when the stop comes finishes
 * publishing. A second signal should exit at once: the lease then expires and
 * the reclaimer requeues the issue.
 */
export class QueueWorker {
  readonly workerId: string;
  private readonly options: QueueWorkerOptions;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly now: () => Date;
  private readonly cache = new EtagCache();
  /** The host runtime: the issue runner, the event bus, upkeep and the shutdown policy. */
  readonly runtime: HostRuntime;
  private readonly clients = new Map<string, GitHubClient>();
  /** Each repository's config as the last pass read it. */
  private readonly configs = new Map<string, HarnessConfig>();
  private readonly reclaim: (github: GitHubClient, config: HarnessConfig, heads: Map<string, string>) => Promise<ReclaimResult[]>;
  private readonly active = new Set<string>();
  private readonly slots: AgentSlot[];
  private readonly results: WorkResult[] = [];
  private candidates: Candidate[] = [];
  private readonly picker: WarmPicker;
  private passing: Promise<void> | null = null;
  private stopping = false;
  private wake: (() => void)[] = [];
  private reserved = 0;
  private startedAt = "";
  private bootId = "";
  private recordWrite: Promise<void> = Promise.resolve();
  /** The host's upkeep after issues (see afterIssue): the one in flight, and the repositories waiting for the next. */
  private upkeep: Promise<void> | null = null;
  private readonly upkeepDue = new Map<string, { owner: string; repo: string }>();

  constructor(options: QueueWorkerOptions) {
    this.options = options;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? (() => new Date());
    this.picker = new WarmPicker(options.state, () => this.now().getTime());
    this.workerId = `w${process.pid}-${randomBytes(3).toString("hex")}`;
    this.log = options.log.child({ worker: this.workerId });
    this.runtime = new HostRuntime({
      state: options.state,
      host: options.host,
      runId: options.runId,
      claude: options.claude,
      promptsDir: options.promptsDir,
      log: this.log,
      now: this.now,
      sessionRetentionMs: options.sessionRetentionMs,
      requeueOnShutdown: true,
      ...(options.gitUrl ? { gitUrl: options.gitUrl } : {}),
      ...(options.eventsFile ? { eventsFile: options.eventsFile } : {}),
      ...(options.dailyUsd !== undefined ? { dailyUsd: options.dailyUsd } : {}),
      ...(options.runSession ? { runSession: options.runSession } : {}),
    });
    this.reclaim = reclaimerPass({
      log: this.log,
      ...(options.reclaimPolicy ? { policy: options.reclaimPolicy } : {}),
      cache: this.cache,
      now: this.now,
      onReclaimed: reclaimedEvent(this.runtime, this.now),
    });
    this.runtime.events.subscribe(
      (event) => {
        const slot = this.slots.find((s) => s.agent === event.agent);
        if (slot) this.setSlot(slot, { state: "working", claimed: slot.claimed + 1 });
      },
      ["claimed"],
    );
    this.slots = Array.from({ length: options.agents }, (_, i) => ({
      agent: `${this.workerId}-a${i + 1}`,
      state: "idle" as const,
      repository: null,
      issue: null,
      since: new Date().toISOString(),
      claimed: 0,
    }));
  }

  /**
   * Stops claiming and interrupts running sessions (see the class comment).
   * Idempotent. Resolves when they have ended or `graceMs` has passed, with
   * what was still running then.
   */
  stop(graceMs: number = DEFAULT_SHUTDOWN_GRACE_MS): Promise<{ requeued: string[]; unfinished: string[] }> {
    if (!this.stopping) {
      this.stopping = true;
      for (const resolve of this.wake.splice(0)) resolve();
    }
    return this.runtime.shutdown(graceMs);
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Prepares the host, then runs the agents until the queue is drained (`once`), the limit is reached, or stop(). */
  async run(): Promise<QueueWorkerSummary> {
    const { state, log } = { state: this.options.state, log: this.log };
    await fs.mkdir(state.root, { recursive: true });
    await assertFreeDisk(state.root, this.options.minFreeDiskMb);
    // Leftovers of workers that died on this host: their processes, then their worktrees.
    await killOrphanedAgents(state, log);
    await pruneWorktrees(state, log);
    await this.runtime.pruneSessions();
    for (const repository of this.options.repositories) await this.runtime.maintain(repository);
    this.startedAt = this.now().toISOString();
    this.bootId = await bootId();
    await this.writeRecord();
    log.info({ agents: this.slots.map((s) => s.agent), repositories: this.repositoryNames() }, "worker started");
    this.runtime.emit({
      type: "host_started",
      at: this.startedAt,
      host: this.options.host,
      agents: this.slots.map((s) => s.agent),
      repositories: this.repositoryNames(),
    });
    try {
      await Promise.all(this.slots.map((slot) => this.agentLoop(slot)));
    } finally {
      for (const slot of this.slots) this.setSlot(slot, { state: "stopped", repository: null, issue: null });
      await this.upkeep;
      await this.recordWrite;
      await fs.rm(workerFile(state, this.workerId), { force: true });
    }
    return {
      workerId: this.workerId,
      claimed: this.slots.reduce((n, s) => n + s.claimed, 0),
      results: this.results,
      requeued: [...this.runtime.requeuedIssues],
    };
  }

  private repositoryNames(): string[] {
    return this.options.repositories.map((r) => `${r.owner}/${r.repo}`);
  }

  private client(target: { owner: string; repo: string }): GitHubClient {
    const key = `${target.owner}/${target.repo}`.toLowerCase();
    let client = this.clients.get(key);
    if (!client) {
      client = new GitHubClient(this.options.api, target);
      this.clients.set(key, client);
    }
    return client;
  }

  private writeRecord(): Promise<void> {
    const record: WorkerRecord = {
      workerId: this.workerId,
      pid: process.pid,
      host: this.options.host,
      bootId: this.bootId,
      startedAt: this.startedAt,
      updatedAt: this.now().toISOString(),
      repositories: this.repositoryNames(),
      agents: this.slots.map((s) => ({ ...s })),
    };
    const file = workerFile(this.options.state, this.workerId);
    this.recordWrite = this.recordWrite
      .then(() => writeJsonAtomic(file, record))
      .catch((error: unknown) => this.log.warn({ err: error }, "worker record not written"));
    return this.recordWrite;
  }

  private setSlot(slot: AgentSlot, change: Partial<AgentSlot>): void {
    Object.assign(slot, change, { since: this.now().toISOString() });
    void this.writeRecord();
  }

  /** Sleeps, but wakes at once on stop(). */
  private pause(ms: number): Promise<void> {
    if (this.stopping || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.wake = this.wake.filter((w) => w !== done);
        resolve();
      }, ms);
      this.wake.push(done);
    });
  }

  /**
   * One pass over every repository: the reclaimer, then the queue; fills `candidates` in queue order.
   * The lease refs are listed once and shared; the open issues are listed while the reclaimer reads
   * the leases. A reclaim that moved a lease (rare) lists both again, so its issue is seen this pass.
   */
  private async pass(): Promise<void> {
    const found: Candidate[] = [];
    for (const target of this.options.repositories) {
      const github = this.client(target);
      try {
        // Each listing is awaited later, maybe after another fails: marked handled now (awaiting it still throws).
        const handled = <T>(promise: Promise<T>): Promise<T> => {
          promise.catch(() => undefined);
          return promise;
        };
        const listIssues = (c: HarnessConfig): ReturnType<GitHubClient["listOpenIssuesWithLabel"]> =>
          handled(github.listOpenIssuesWithLabel(c.labels.queued, this.cache));
        const listHeads = (c: HarnessConfig): Promise<Map<string, string>> => handled(github.listRefHeads(c.lease.refPrefix, this.cache));
        // Listed while the config is read, with the label and ref prefix it had last pass (the defaults
        // at first); listed again in the rare pass that finds them changed.
        const guess = this.configs.get(github.fullName) ?? parseConfig({});
        let issues = listIssues(guess);
        let heads = listHeads(guess);
        const { config } = await readConfig(github, this.cache);
        this.configs.set(github.fullName, config);
        if (config.labels.queued !== guess.labels.queued) issues = listIssues(config);
        if (config.lease.refPrefix !== guess.lease.refPrefix) heads = listHeads(config);
        const reclaiming = heads
          .then((listed) => this.reclaim(github, config, listed))
          .catch((error: unknown) => {
            this.log.error({ repository: github.fullName, err: error }, "reclaimer failed");
            return [] as ReclaimResult[];
          });
        const read = (listed: Awaited<typeof issues>, leaseHeads: Promise<Map<string, string>>): Promise<QueuePlan> =>
          readQueue(listed, {
            github,
            config,
            cache: this.cache,
            now: this.now(),
            log: this.log,
            skip: (n) => this.active.has(`${github.fullName}#${n}`),
            leaseHeads,
          });
        // The queue's reads that need no lease head (blockers) run beside the reclaimer; its leases wait for it.
        const planning = issues.then((listed) =>
          read(
            listed,
            reclaiming.then(() => heads),
          ),
        );
        // Both settled before the pass goes on (a failed listing never leaves the reclaimer running).
        await Promise.allSettled([planning, reclaiming]);
        const reclaimed = await reclaiming;
        let plan = await planning;
        // A reclaim moved a lease (rare): the queue read again, so its issue is seen this pass.
        if (reclaimed.some((r) => r.action !== "kept")) plan = await read(await listIssues(config), listHeads(config));
        for (const entry of plan.ready) found.push({ github, config, issue: entry.issue, priority: entry.priority });
      } catch (error) {
        const level = isHarnessError(error) && error.code === "EHARNESS_CONFIG" ? "warn" : "error";
        this.log[level]({ repository: github.fullName, err: error }, "queue pass failed for this repository; the next pass tries again");
      }
    }
    this.candidates = found;
  }

  /** The next issue to try, or "idle" when a fresh pass found nothing, or null when stopping. */
  private async next(): Promise<Candidate | "idle" | null> {
    for (;;) {
      if (this.stopping) return null;
      // Warm-repository affinity: a repository warm on this host first among equals, for at most one pass.
      const candidate = await this.picker.take(this.candidates);
      if (candidate !== undefined) {
        if (this.active.has(`${candidate.github.fullName}#${candidate.issue}`)) continue;
        return candidate;
      }
      if (this.passing === null) {
        this.passing = this.pass().finally(() => {
          this.passing = null;
        });
      }
      await this.passing;
      if (this.candidates.length === 0) return this.stopping ? null : "idle";
    }
  }

  private limitReached(): boolean {
    return this.options.maxIssues !== null && this.reserved >= this.options.maxIssues;
  }

  private async agentLoop(slot: AgentSlot): Promise<void> {
    /** The agent just finished an issue: it is out of step with the others already. */
    let afterWork = false;
    while (!this.stopping && !this.limitReached()) {
      const candidate = await this.next();
      if (candidate === null) break;
      if (candidate === "idle") {
        if (this.options.once) break;
        afterWork = false;
        await this.pause(this.options.pollMs);
        continue;
      }
      // Not in lockstep: N agents that found work in the same pass (at the start,
      // after a poll, after a lost claim) start apart. One that just finished an
      // issue goes on at once, and so does a lone agent: it has no sibling to collide with
      // (other hosts poll on their own schedules, and the lease settles any collision).
      if (!afterWork && this.slots.length > 1) await this.pause(Math.round(this.random() * this.options.jitterMs));
      afterWork = false;
      const key = `${candidate.github.fullName}#${candidate.issue}`;
      if (this.stopping || this.limitReached()) break;
      if (this.active.has(key)) continue;
      this.reserved += 1;
      this.active.add(key);
      try {
        const claimed = await this.claimAndWork(slot, candidate, key);
        if (!claimed) this.reserved -= 1;
        afterWork = claimed;
      } catch (error) {
        this.log.error({ issue: key, agent: slot.agent, err: error }, "agent job failed");
      } finally {
        this.active.delete(key);
        this.setSlot(slot, { state: "idle", repository: null, issue: null });
      }
    }
  }

  /** True when the issue was claimed (whatever came of the work). */
  private async claimAndWork(slot: AgentSlot, candidate: Candidate, key: string): Promise<boolean> {
    const { github, config, issue } = candidate;
    const log = this.log.child({ issue: key, agent: slot.agent });
    this.setSlot(slot, { state: "claiming", repository: github.fullName, issue });
    // The slot shows "working" from the claim on (the runtime's claimed event).
    const run = await this.runtime.runIssue({ github, config }, issue, slot.agent, log);
    if (!run.claimed) return false;
    this.results.push(run.result);
    this.options.onResult?.(run.result);
    this.afterIssue(github);
    return true;
  }

  /**
   * Old sessions pruned and the repository's clone kept small, off the claim
   * path: the agent goes on to its next claim while this runs, one upkeep at a
   * time, the repositories of issues finished meanwhile taken together in the
   * next one. The worker waits for it before it ends.
   */
  private afterIssue(repository: { owner: string; repo: string }): void {
    this.upkeepDue.set(`${repository.owner}/${repository.repo}`.toLowerCase(), { owner: repository.owner, repo: repository.repo });
    if (this.upkeep !== null) return;
    this.upkeep = (async () => {
      while (this.upkeepDue.size > 0) {
        const due = [...this.upkeepDue.values()];
        this.upkeepDue.clear();
        await this.runtime.pruneSessions();
        for (const target of due) await this.runtime.maintain(target);
      }
    })().finally(() => {
      this.upkeep = null;
    });
  }
}
