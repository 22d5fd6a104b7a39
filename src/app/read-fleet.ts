import type { HarnessConfig } from "../core/config.js";
import type { EtagCache } from "../core/etag-cache.js";
import { type FleetIssue, type FleetPriority, type FleetState } from "../core/fleet.js";
import { leaseRefName, parseLease, type LeaseRecord } from "../core/lease.js";
import type { GitHubClient } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import { mapConcurrent, READ_CONCURRENCY } from "../runtime/read-queue.js";

type Listed = Awaited<ReturnType<GitHubClient["listOpenIssuesWithLabel"]>>[number];

export interface ReadFleetInput {
  github: GitHubClient;
  config: HarnessConfig;
  cache: EtagCache;
  log: Logger;
  /** The open issues labeled queued, as the queue read listed them this pass. */
  queued: readonly Listed[];
  /** The lease heads, as listed this pass. */
  heads: ReadonlyMap<string, string>;
  /** Why queued issues wait, by number (the queue plan's reasons, as a person reads them). */
  waiting: ReadonlyMap<number, string>;
}

/** At most this many label-time reads a pass spends finding the oldest queued issue. */
export const OLDEST_QUEUED_READS = 5;

/**
 * Sets `queuedAt` (when the queued label was last added) on the queued issues
 * that can be the one waiting longest, so the oldest-queued age counts from the
 * label, not from when the issue was opened. A label comes after the issue was
 * opened, so in order of opening the reads stop once the next issue was opened
 * after the oldest label time found: usually one conditional read a pass, at most
 * OLDEST_QUEUED_READS (then the rest count from when they were opened, an upper
 * bound of their wait).
 */
async function readOldestQueuedAt(issues: FleetIssue[], input: ReadFleetInput): Promise<void> {
  const queued = issues.filter((i) => i.state === "queued").sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
  let oldest = Number.POSITIVE_INFINITY;
  let reads = 0;
  for (const issue of queued) {
    if (Date.parse(issue.createdAt) >= oldest || reads >= OLDEST_QUEUED_READS) break;
    reads += 1;
    try {
      issue.queuedAt = await input.github.labelAddedAt(issue.number, input.config.labels.queued, input.cache);
    } catch (error) {
      input.log.warn({ err: error, issue: issue.number }, "could not read when the issue was queued; its wait counts from when it was opened");
    }
    oldest = Math.min(oldest, Date.parse(issue.queuedAt ?? issue.createdAt));
  }
}

/** States whose issues may hold a lease worth reading (a done issue's lease is released: not read). */
const LEASED: ReadonlySet<FleetState> = new Set(["queued", "claimed", "running", "interrupted"]);

/** Of several harness labels, the one the issue shows: the most active first. */
const PRECEDENCE: readonly FleetState[] = ["running", "claimed", "queued", "interrupted", "failed", "done"];

const CLOSES = /\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s+#(\d+)\b/i;

function priorityOf(labels: readonly string[], names: HarnessConfig["priorityLabels"]): FleetPriority {
  const has = (name: string): boolean => labels.some((l) => l.toLowerCase() === name.toLowerCase());
  if (has(names.high)) return "high";
  if (has(names.medium)) return "medium";
  if (has(names.low)) return "low";
  return "none";
}

/**
 * One repository's part of the fleet snapshot, from conditional reads: one
 * listing per harness label besides the queued one the queue read already made
 * (an unchanged label costs a 304), the lease records of the active issues
 * (each commit read once: the cache), and the open pull requests labeled
 * needs-review, which name their issue with "Closes #N".
 */
export async function readFleet(input: ReadFleetInput): Promise<FleetIssue[]> {
  const { github, config, cache } = input;
  const labels = config.labels;
  const byState: [FleetState, string][] = [
    ["claimed", labels.claimed],
    ["running", labels.running],
    ["interrupted", labels.interrupted],
    ["failed", labels.failed],
    ["done", labels.done],
  ];
  const lists = await mapConcurrent(byState, READ_CONCURRENCY, async ([state, label]) => ({
    state,
    items: await github.listOpenIssuesWithLabel(label, cache),
  }));
  const review = await github.listOpenIssuesWithLabel(config.publish.needsReviewLabel, cache);
  const found = new Map<number, { issue: Listed; states: Set<FleetState> }>();
  const add = (state: FleetState, issue: Listed): void => {
    if (issue.isPullRequest) return;
    const entry = found.get(issue.number) ?? { issue, states: new Set<FleetState>() };
    entry.states.add(state);
    found.set(issue.number, entry);
  };
  for (const issue of input.queued) add("queued", issue);
  for (const { state, items } of lists) for (const issue of items) add(state, issue);
  const reviewed = new Map<number, number>();
  for (const item of review) {
    if (!item.isPullRequest) {
      add("needs-review", item);
      continue;
    }
    const closes = CLOSES.exec(item.body)?.[1];
    if (closes !== undefined) reviewed.set(Number(closes), item.number);
  }
  const issues: FleetIssue[] = [...found.values()].map(({ issue, states }) => {
    let state: FleetState = PRECEDENCE.find((s) => states.has(s)) ?? (states.has("needs-review") ? "needs-review" : "done");
    const pullRequest = reviewed.get(issue.number) ?? null;
    if (pullRequest !== null && (state === "done" || state === "failed")) state = "needs-review";
    return {
      repository: github.fullName,
      number: issue.number,
      title: issue.title,
      url: issue.url,
      state,
      priority: priorityOf(issue.labels, config.priorityLabels),
      createdAt: issue.createdAt,
      queuedAt: null,
      waiting: state === "queued" ? (input.waiting.get(issue.number) ?? null) : null,
      lease: null,
      pullRequest,
    };
  });
  await readOldestQueuedAt(issues, input);
  await mapConcurrent(
    issues.filter((i) => LEASED.has(i.state)),
    READ_CONCURRENCY,
    async (issue) => {
      const sha = input.heads.get(`refs/${leaseRefName(config.lease.refPrefix, issue.number)}`);
      if (sha === undefined) return;
      try {
        issue.lease = parseLease(await github.commitMessage(sha, cache)) satisfies LeaseRecord;
      } catch (error) {
        input.log.warn({ err: error, issue: issue.number }, "lease record unreadable: left out of the snapshot");
      }
    },
  );
  return issues;
}
