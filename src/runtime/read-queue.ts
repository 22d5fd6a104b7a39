import type { HarnessConfig } from "../core/config.js";
import type { EtagCache } from "../core/etag-cache.js";
import { leaseRefName, parseLease, type LeaseRecord } from "../core/lease.js";
import {
  planQueue,
  priorityOf,
  queueCandidates,
  refKey,
  textBlockersToResolve,
  type BlockerState,
  type QueueIssue,
  type QueuePlan,
  type RecordedBlocker,
} from "../core/queue.js";
import type { GitHubClient } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";

export type ListedIssue = QueueIssue & { recordedBlockers?: number | null };

export interface ReadQueueOptions {
  github: GitHubClient;
  config: HarnessConfig;
  cache: EtagCache;
  now: Date;
  log: Logger;
  /** Issues whose facts need not be read (already queued or running here). */
  skip?: (issue: number) => boolean;
  /**
   * The lease heads this pass already listed (the reclaimer's listing), so the
   * refs are listed once a pass; listed here when absent.
   */
  leaseHeads?: Promise<Map<string, string>>;
}

/** Reads at most this many at once: GitHub's secondary limits punish bursts, a few in flight do not. */
export const READ_CONCURRENCY = 4;

/** `fn` over `items`, at most `limit` at a time, results in the items' order. */
export async function mapConcurrent<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next;
      next += 1;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Reads what the queue's order depends on for these issues (their recorded
 * blockers, the state of the issues their bodies name as blockers, their lease
 * heads, and, for an issue old enough to have aged, when it was last labeled
 * queued), every read conditional and a few at a time, and plans the queue. An
 * issue whose lease record cannot be parsed is left out (the claim would
 * refuse it anyway).
 */
export async function readQueue(issues: readonly ListedIssue[], options: ReadQueueOptions): Promise<QueuePlan> {
  const { github, config, cache, log } = options;
  const repository = { owner: github.owner, repo: github.repo };
  const recordedBlockers = new Map<number, RecordedBlocker[]>();
  const leases = new Map<number, LeaseRecord | null>();
  const unreadable = new Set<number>();
  const candidates = queueCandidates(issues, config.labels.queued).filter((i) => !options.skip?.(i.number));
  // Every lease head of the repository in one request (not one 404 per issue never claimed).
  const heads: Promise<Map<string, string>> =
    candidates.length === 0 ? Promise.resolve(new Map()) : (options.leaseHeads ?? github.listRefHeads(config.lease.refPrefix, cache));
  // Three independent sets of reads at once: the blockers need no lease head, so they start while the heads are listed.
  const readBlockers = mapConcurrent(
    candidates.filter((issue) => issue.recordedBlockers !== 0),
    READ_CONCURRENCY,
    async (issue) => void recordedBlockers.set(issue.number, await github.listBlockedBy(issue.number, cache)),
  );
  const readTextBlockers = mapConcurrent(
    textBlockersToResolve(candidates, { repository, queuedLabel: config.labels.queued }),
    READ_CONCURRENCY,
    async (ref): Promise<[string, BlockerState]> => [refKey(ref), await github.issueState(ref, cache)],
  );
  const readLeases = heads.then((known) =>
    mapConcurrent(candidates, READ_CONCURRENCY, async (issue) => {
      const sha = known.get(`refs/${leaseRefName(config.lease.refPrefix, issue.number)}`);
      if (sha === undefined) {
        leases.set(issue.number, null);
        return;
      }
      try {
        leases.set(issue.number, parseLease(await github.commitMessage(sha, cache)));
      } catch (error) {
        unreadable.add(issue.number);
        log.warn({ err: error, issue: issue.number, sha }, "lease record unreadable; issue left out of the queue");
      }
    }),
  );
  // Aging: only an issue opened longer ago than agingHours can have waited that long, and a
  // high one cannot move up, so only those pay a (conditional) read of when they were queued.
  const agingHours = config.queue.agingHours;
  const queuedSince = new Map<number, string | null>();
  const mayAge = candidates.filter(
    (issue) => priorityOf(issue.labels, config.priorityLabels) !== "high" && options.now.getTime() - Date.parse(issue.createdAt) > agingHours * 3_600_000,
  );
  const readQueuedSince = mapConcurrent(mayAge, READ_CONCURRENCY, async (issue) => {
    try {
      queuedSince.set(issue.number, await github.labelAddedAt(issue.number, config.labels.queued, cache));
    } catch (error) {
      // Not known: the wait counts from created_at, as for an issue without events.
      log.warn({ err: error, issue: issue.number }, "could not read when the issue was queued; its wait counts from when it was opened");
    }
  });
  const [, textStates] = await Promise.all([readBlockers, readTextBlockers, readLeases, readQueuedSince]);
  const blockerStates = new Map<string, BlockerState>(textStates);
  const readable = issues.filter((i) => !unreadable.has(i.number));
  // The skipped issues are queued or running here: their facts were not read, so they are not checked.
  const unchecked = new Set(
    queueCandidates(issues, config.labels.queued)
      .filter((i) => options.skip?.(i.number) === true)
      .map((i) => i.number),
  );
  return planQueue(
    readable,
    { recordedBlockers, blockerStates, leases, queuedSince, unchecked },
    { repository, queuedLabel: config.labels.queued, priorityLabels: config.priorityLabels, now: options.now, agingHours },
  );
}

/**
 * The one queue source: a repository's open issues labeled queued, listed with
 * a conditional request, and their plan (ready in priority order, then age;
 * waiting with the reason). The reconciler, the queue worker, the Action and
 * `harness status` all walk the queue through it.
 */
export async function readRepositoryQueue(options: ReadQueueOptions): Promise<QueuePlan> {
  const issues = await options.github.listOpenIssuesWithLabel(options.config.labels.queued, options.cache);
  return readQueue(issues, options);
}
