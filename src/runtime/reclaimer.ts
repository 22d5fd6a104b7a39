import type { HarnessConfig } from "../core/config.js";
import { describeOwner, parseLease, type LeaseOwner, type LeaseRecord } from "../core/lease.js";
import { decideReclaim, reclaimPolicyOf, type ReclaimPolicy } from "../core/reclaim.js";
import { describeRetry } from "../core/retry-policy.js";
import { renderReclaimComment, type AttemptLine } from "../core/render-comments.js";
import type { GitHubClient } from "../adapters/github-client.js";
import { LeaseStore } from "../adapters/github-lease.js";
import type { Logger } from "../adapters/logger.js";
import { EtagCache } from "../core/etag-cache.js";
import { harnessLabels } from "./claim-issue.js";
import { mapConcurrent, READ_CONCURRENCY } from "./read-queue.js";

/**
 * Takes back the leases of agents that died or hung: every lease ref whose claim
 * was not renewed for its term plus a grace period is moved to `reclaimed` by CAS
 * (so a renewal that lands first wins), and the issue is requeued with a backoff
 * or, after the last attempt, marked failed with the list of its attempts.
 */
export type ReclaimResult =
  | { issue: number; action: "kept" | "lost-race"; reason: string }
  | {
      issue: number;
      action: "requeued" | "failed";
      reason: string;
      /** Who held the lease that was taken back. */
      holder: LeaseOwner;
      /** Until when that holder had renewed it. */
      leaseUntil: string;
      /** The attempt that stalled (the claim's attempt number). */
      attempt: number;
      /** Requeued: when the issue may be claimed again; failed: null. */
      notBefore: string | null;
    };

export interface ReclaimDeps {
  github: GitHubClient;
  config: HarnessConfig;
  policy: ReclaimPolicy;
  cache: EtagCache;
  log: Logger;
  now: () => Date;
  random?: () => number;
  /** The lease heads, already listed this pass (the queue read shares the listing); listed here when absent. */
  heads?: Map<string, string>;
}

/** The lease's history, oldest first, following first parents (at most `limit` commits). */
async function leaseHistory(github: GitHubClient, sha: string, limit = 200): Promise<LeaseRecord[]> {
  const records: LeaseRecord[] = [];
  let next: string | undefined = sha;
  while (next !== undefined && records.length < limit) {
    github.countRead();
    const response = await github.api.rest.git.getCommit({ owner: github.owner, repo: github.repo, commit_sha: next });
    const commit: { message: string; parents: { sha: string }[] } = response.data;
    try {
      records.push(parseLease(commit.message));
    } catch {
      break;
    }
    next = commit.parents[0]?.sha;
  }
  return records.reverse();
}

/** One line per attempt: who claimed it, and how it ended. */
export function attemptsOf(history: LeaseRecord[]): AttemptLine[] {
  const attempts = new Map<number, AttemptLine>();
  for (const record of history) {
    const line = attempts.get(record.epoch) ?? { attempt: record.attempt, agent: `${record.owner.agent}@${record.owner.host}`, outcome: "running" };
    if (record.state !== "claimed") line.outcome = record.outcome ?? record.state;
    attempts.set(record.epoch, line);
  }
  return [...attempts.values()];
}

export async function reclaimRepository(deps: ReclaimDeps): Promise<ReclaimResult[]> {
  const { github, config, policy, log } = deps;
  const random = deps.random ?? Math.random;
  const leases = new LeaseStore(github, config.lease.refPrefix);
  const prefix = `refs/${config.lease.refPrefix}`;
  const heads = deps.heads ?? (await github.listRefHeads(config.lease.refPrefix, deps.cache));
  const leaseRefs = [...heads].flatMap(([ref, sha]) => {
    const issue = Number(ref.slice(prefix.length));
    return ref.startsWith(prefix) && Number.isInteger(issue) && issue > 0 ? [{ issue, sha }] : [];
  });
  // The records are read a few at a time (each commit once: the cache); the writes below go one by one.
  const records = await mapConcurrent(leaseRefs, READ_CONCURRENCY, async ({ issue, sha }) => {
    try {
      return parseLease(await github.commitMessage(sha, deps.cache));
    } catch (error) {
      log.warn({ issue, err: error }, "unreadable lease: skipped");
      return null;
    }
  });
  const results: ReclaimResult[] = [];
  for (const [i, { issue }] of leaseRefs.entries()) {
    const record = records[i];
    if (record === null || record === undefined) continue;
    const decision = decideReclaim(record, deps.now(), policy, random);
    if (decision.kind === "keep") {
      results.push({ issue, action: "kept", reason: decision.reason });
      continue;
    }
    const taken = await leases.reclaim(issue, deps.now(), { backoffMs: decision.backoffMs });
    if (!taken.ok) {
      results.push({ issue, action: "lost-race", reason: "the lease moved (renewed or reclaimed elsewhere) before the reclaim landed" });
      continue;
    }
    const holder = describeOwner(record.owner);
    log.warn({ issue, holder, attempt: record.attempt, requeue: decision.requeue }, "lease reclaimed");
    const current = await github.getIssue(issue);
    const label = decision.requeue ? config.labels.queued : config.labels.failed;
    if (current.state === "open") await github.transitionLabels(issue, current.labels, harnessLabels(config), label);
    const attempts = decision.requeue ? [] : attemptsOf(await leaseHistory(github, taken.head.sha));
    await github.createComment(
      issue,
      renderReclaimComment({
        agent: `${record.owner.agent}@${record.owner.host}`,
        leaseUntil: record.leaseUntil,
        attempt: record.attempt,
        maxAttempts: policy.maxAttempts,
        notBefore: taken.head.record.notBefore,
        requeued: decision.requeue,
        attempts,
        retry: describeRetry(decision.retry),
      }),
    );
    results.push({
      issue,
      action: decision.requeue ? "requeued" : "failed",
      reason: `${holder} stopped renewing at ${record.leaseUntil}`,
      holder: record.owner,
      leaseUntil: record.leaseUntil,
      attempt: record.attempt,
      notBefore: decision.requeue ? taken.head.record.notBefore : null,
    });
  }
  return results;
}

/** What reclaimerPass and reclaimerStep are made with; `policy` overrides each repository's `reclaim` configuration (tests). */
export interface ReclaimerOptions {
  log: Logger;
  policy?: ReclaimPolicy;
  now?: () => Date;
  cache?: EtagCache;
  /** Called for each lease taken back (`repository` is `owner/repo`): the host emits it as a `reclaimed` event. */
  onReclaimed?: (repository: string, result: Extract<ReclaimResult, { action: "requeued" | "failed" }>) => void;
}

/**
 * The reclaimer as the queue worker's per-repository step, with what it did
 * (the worker reads the queue again after a reclaim). `heads`: the lease heads
 * the caller listed this pass, so the refs are listed once.
 */
export function reclaimerPass(
  options: ReclaimerOptions,
): (github: GitHubClient, config: HarnessConfig, heads?: Map<string, string>) => Promise<ReclaimResult[]> {
  const cache = options.cache ?? new EtagCache();
  return async (github, config, heads) => {
    const results = await reclaimRepository({
      github,
      config,
      policy: options.policy ?? reclaimPolicyOf(config),
      cache,
      log: options.log,
      now: options.now ?? (() => new Date()),
      ...(heads ? { heads } : {}),
    });
    for (const result of results.filter((r) => r.action !== "kept")) options.log.info({ repository: github.fullName, ...result }, "reclaimer");
    for (const result of results) {
      if (result.action === "requeued" || result.action === "failed") options.onReclaimed?.(github.fullName, result);
    }
    return results;
  };
}

/**
 * The reclaimer as the reconciler's per-repository step, so abandoned issues are
 * queued again on the same schedule, just before each queue is read.
 */
export function reclaimerStep(options: ReclaimerOptions): (github: GitHubClient, config: HarnessConfig) => Promise<void> {
  const pass = reclaimerPass(options);
  return async (github, config) => {
    await pass(github, config);
  };
}
