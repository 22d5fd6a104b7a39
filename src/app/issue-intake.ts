import { BoundedLru } from "../core/bounded-lru.js";
import type { HarnessConfig } from "../core/config.js";
import { EtagCache } from "../core/etag-cache.js";
import { GitHubClient, type GitHubApi } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import type { AgentPool, JobOrder } from "../runtime/agent-pool.js";

/** A repository and a client authorized for it (an installation's, or the token's). */
export interface RepoTarget {
  octokit: GitHubApi;
  owner: string;
  repo: string;
  /** The App installation the octokit acts for; absent with a token. Keys the write budget. */
  installationId?: number | undefined;
}

/** The repository a webhook delivery is about, with the client Probot made for it (the installation's, or the token's). */
export function deliveryTarget(
  payload: { repository: { owner: { login: string }; name: string }; installation?: { id: number } | undefined },
  octokit: unknown,
): RepoTarget {
  return { octokit: octokit as GitHubApi, owner: payload.repository.owner.login, repo: payload.repository.name, installationId: payload.installation?.id };
}

/** Runs one issue: claim, then work. Built by the app from its options. */
export type IssueJob = (input: { github: GitHubClient; config: HarnessConfig; issueNumber: number; agentIndex: number }) => Promise<void>;

export type SubmitOutcome = "submitted" | "already-queued" | "running" | "pool-busy";

export interface ApiCounts {
  reads: number;
  writes: number;
}

/**
 * What the webhook handlers and the reconciler share: the agent pool seen
 * through what is queued (not started) and running here, the delivery ids
 * already handled, the ETags of conditional reads, and the repositories seen.
 *
 * A job waiting in the pool can be dropped (`cancel`) until it starts; the
 * pool itself cannot remove a job, so a cancelled one returns at once when
 * its turn comes, and a later `submit` of the same key revives it.
 */
export class IssueIntake {
  readonly etags = new EtagCache();
  private readonly deliveries: BoundedLru<string, true>;
  private readonly pending = new Map<string, { cancelled: boolean }>();
  private readonly running = new Set<string>();
  private readonly repositories = new Map<string, { owner: string; repo: string; installationId: number | undefined }>();
  private readonly closedListeners: ((target: RepoTarget) => void)[] = [];

  constructor(
    private readonly options: {
      pool: AgentPool;
      job: IssueJob;
      log: Logger;
      apiCounts?: Map<string, ApiCounts> | undefined;
      /** How many delivery ids to remember (default 10 000; GitHub redelivers within days, not millions of events). */
      deliveryMemory?: number;
    },
  ) {
    this.deliveries = new BoundedLru(options.deliveryMemory ?? 10_000);
  }

  static key(owner: string, repo: string, issue: number): string {
    return `${owner}/${repo}#${issue}`;
  }

  /**
   * True the first time a delivery id (`X-GitHub-Delivery`) is seen by a
   * handler. A handler that failed calls `forgetDelivery`, so GitHub's manual
   * "Redeliver" (same id) can still succeed.
   */
  firstDelivery(id: string, handler: string): boolean {
    return this.deliveries.addIfAbsent(`${handler}:${id}`, true);
  }

  forgetDelivery(id: string, handler: string): void {
    this.deliveries.delete(`${handler}:${id}`);
  }

  /** A client that counts its calls for the issue (`owner/repo#N`), reads and writes apart. */
  client(target: RepoTarget, issueNumber?: number): GitHubClient {
    const coordinates = { owner: target.owner, repo: target.repo };
    const budgetKey = target.installationId !== undefined ? `installation:${target.installationId}` : "default";
    if (issueNumber === undefined || !this.options.apiCounts) return new GitHubClient(target.octokit, coordinates, { budgetKey });
    const key = IssueIntake.key(target.owner, target.repo, issueNumber);
    const counts = this.options.apiCounts.get(key) ?? { reads: 0, writes: 0 };
    this.options.apiCounts.set(key, counts);
    return new GitHubClient(target.octokit, coordinates, {
      budgetKey,
      count: (kind) => {
        if (kind === "read") counts.reads += 1;
        else counts.writes += 1;
      },
    });
  }

  state(key: string): "queued" | "running" | "idle" {
    if (this.running.has(key)) return "running";
    const entry = this.pending.get(key);
    return entry && !entry.cancelled ? "queued" : "idle";
  }

  /** Queued (not cancelled) or running here: no need to read its facts again. */
  isActive(key: string): boolean {
    return this.state(key) !== "idle";
  }

  /** Hands an issue to the pool unless it is already queued or running here. */
  submit(target: RepoTarget, config: HarnessConfig, issueNumber: number, order?: JobOrder): SubmitOutcome {
    const key = IssueIntake.key(target.owner, target.repo, issueNumber);
    if (this.running.has(key)) return "running";
    const existing = this.pending.get(key);
    if (existing) {
      existing.cancelled = false;
      return "already-queued";
    }
    const entry = { cancelled: false };
    this.pending.set(key, entry);
    const github = this.client(target, issueNumber);
    const accepted = this.options.pool.submit(
      key,
      async (agentIndex) => {
        if (this.pending.get(key) === entry) this.pending.delete(key);
        if (entry.cancelled) {
          this.options.log.info({ issue: key }, "dropped before it started: no longer queued");
          return;
        }
        this.running.add(key);
        try {
          await this.options.job({ github, config, issueNumber, agentIndex });
        } finally {
          this.running.delete(key);
        }
      },
      order,
    );
    if (!accepted) {
      // The pool still holds the key for a job that is finishing; the next pass submits again.
      this.pending.delete(key);
      return "pool-busy";
    }
    return "submitted";
  }

  /** Drops an issue that waits in the pool and has not started. True when one was dropped. */
  cancel(key: string): boolean {
    const entry = this.pending.get(key);
    if (!entry || entry.cancelled) return false;
    entry.cancelled = true;
    return true;
  }

  /** Remembers a repository a delivery came from, for the reconciler in token mode. */
  sawRepository(owner: string, repo: string, installationId: number | undefined): void {
    this.repositories.set(`${owner}/${repo}`.toLowerCase(), { owner, repo, installationId });
  }

  seenRepositories(): { owner: string; repo: string; installationId: number | undefined }[] {
    return [...this.repositories.values()];
  }

  /** Called when an issue of a repository closed: issues it blocked may be claimable now. */
  onIssueClosed(listener: (target: RepoTarget) => void): () => void {
    this.closedListeners.push(listener);
    return () => {
      const i = this.closedListeners.indexOf(listener);
      if (i >= 0) this.closedListeners.splice(i, 1);
    };
  }

  issueClosed(target: RepoTarget): void {
    for (const listener of this.closedListeners) listener(target);
  }
}

const intakes = new WeakMap<object, IssueIntake>();

/** The app registers its intake on the Probot instance it is loaded into; the reconciler finds it there. */
export function registerIntake(probot: object, intake: IssueIntake): void {
  intakes.set(probot, intake);
}

export function intakeOf(probot: object): IssueIntake | undefined {
  return intakes.get(probot);
}
