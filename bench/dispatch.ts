/**
 * `npm run bench -- dispatch`: what a dispatch decision costs.
 *
 *   npm run bench -- dispatch [--issues 200] [--rounds 7] [--quick]
 *
 * A repository of N queued issues in the fake GitHub, as a busy queue looks:
 * every priority (and none), a fifth naming a blocker in the body (in the same
 * repository, another one, or one that cannot be read), a tenth with a blocker
 * recorded through GitHub's dependencies, a fifth with a lease head (released,
 * or backing off after a failed attempt). The clock is set 72 hours after the
 * issues were opened, so every issue that is not high priority is old enough
 * to age and costs the read of when it was queued: the worst case for reads.
 *
 * Two figures, measured in interleaved rounds (pure plan, then a queue read)
 * after one uncounted warm-up round, each given as the median and min–max:
 * - dispatch decisions per second: `planQueue` (src/core/queue.ts) over the N
 *   issues with their facts in memory, the decision alone (order, aging,
 *   blockers, leases), as candidates decided per second;
 * - a queue read against the fake GitHub: `readRepositoryQueue`, the path the
 *   reconciler, the queue worker, the Action and `harness status` take (the
 *   listing, the lease heads, each candidate's facts, then the plan), over
 *   loopback HTTP to the in-process fake, in ms. Its REST requests per
 *   candidate are counted on the fake's request log: cold (a new ETag cache,
 *   as after a restart) and warm (the cache of the round before: conditional
 *   requests, answered 304, which GitHub does not count against the rate
 *   limit). Target: cold ≤ 2 per candidate.
 * It does not include claiming (the lease write, labels, the tracking
 * comment) or anything after the decision.
 *
 * Prints a table, then as its last line one JSON object:
 * {"bench":"dispatch","issues":N,"decisionsPerSecond":…,"readsPerCandidateCold":…,"readsPerCandidateWarm":…,…}
 */
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { GitHubClient } from "../src/adapters/github-client.js";
import { silentLogger } from "../src/adapters/logger.js";
import { parseConfig } from "../src/core/config.js";
import { EtagCache } from "../src/core/etag-cache.js";
import { parseLease, serializeLease, type LeaseRecord } from "../src/core/lease.js";
import { planQueue, refKey, textBlockersToResolve, type BlockerState, type QueueFacts, type RecordedBlocker } from "../src/core/queue.js";
import { startFakeGitHub, type FakeGitHub } from "../src/offline/fake-github/index.js";
import { readRepositoryQueue } from "../src/runtime/read-queue.js";
import { testOctokit } from "../test/support/octokit.js";
import { positive, printTable, round } from "./_kit.js";

const OWNER = "bench-org";
const REPO = "queue";
const OTHER = "other";
const PRIORITIES = ["priority:high", "priority:medium", "priority:low", null];

export interface DispatchBenchResult {
  bench: "dispatch";
  issues: number;
  rounds: number;
  decisionsPerSecond: number;
  decisionsPerSecondMin: number;
  decisionsPerSecondMax: number;
  readQueueMs: number;
  readQueueMsMin: number;
  readQueueMsMax: number;
  readsPerCandidateCold: number;
  readsPerCandidateWarm: number;
  notModifiedShareWarm: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

async function writeLease(octokit: ReturnType<typeof testOctokit>, record: LeaseRecord): Promise<void> {
  const { data: commit } = await octokit.rest.git.createCommit({
    owner: OWNER,
    repo: REPO,
    message: serializeLease(record),
    tree: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    parents: [],
  });
  await octokit.rest.git.createRef({ owner: OWNER, repo: REPO, ref: `refs/harness/leases/issue-${record.issue}`, sha: commit.sha });
}

/** The queue: N issues with blockers, dependencies and leases, as described at the top. */
async function seed(github: FakeGitHub, octokit: ReturnType<typeof testOctokit>, issues: number, now: number): Promise<void> {
  await github.createRepo({ owner: OWNER, name: REPO, collaborators: { ada: "write" }, files: { "README.md": "# queue\n" } });
  await github.createRepo({ owner: OWNER, name: OTHER, collaborators: { ada: "write" }, files: { "README.md": "# other\n" } });
  const blockers: number[] = [];
  const elsewhere: number[] = [];
  for (let i = 0; i < 10; i += 1) {
    blockers.push((await github.createIssue(OWNER, REPO, { title: `Blocker ${i}`, user: "ada" })).number);
    elsewhere.push((await github.createIssue(OWNER, OTHER, { title: `Elsewhere ${i}`, user: "ada" })).number);
  }
  for (const n of blockers.slice(0, 5)) await octokit.rest.issues.update({ owner: OWNER, repo: REPO, issue_number: n, state: "closed" });
  for (let i = 0; i < issues; i += 1) {
    const labels = ["harness:queued", PRIORITIES[i % PRIORITIES.length]].filter((l): l is string => l !== null);
    let body = `Task ${i + 1}.`;
    if (i % 5 === 1) body += ` Depends on #${blockers[i % blockers.length]}.`;
    if (i % 5 === 2 && i % 10 === 2) body += ` Depends on ${OWNER}/${OTHER}#${elsewhere[i % elsewhere.length]}.`;
    if (i % 25 === 7) body += ` Blocked by gone-org/deleted#${i}.`;
    const issue = await github.createIssue(OWNER, REPO, { title: `Task ${i + 1}`, body, labels, user: "ada" });
    if (i % 10 === 3) {
      const { data: b } = await octokit.rest.issues.get({ owner: OWNER, repo: REPO, issue_number: blockers[i % blockers.length] ?? 1 });
      await octokit.rest.issues.addBlockedByDependency({ owner: OWNER, repo: REPO, issue_number: issue.number, issue_id: b.id });
    }
    if (i % 5 === 4) {
      await writeLease(octokit, {
        issue: issue.number,
        state: "released",
        owner: { agent: "agent-1", host: "bench", runId: "r" },
        epoch: 1,
        attempt: 1,
        leaseUntil: new Date(now - 3_600_000).toISOString(),
        // Every other one is backing off after a transient failure.
        notBefore: i % 10 === 4 ? new Date(now + 10 * 60_000).toISOString() : null,
        sessionId: null,
        outcome: "api_error",
      });
    }
  }
}

export async function runDispatchBench(args: string[]): Promise<DispatchBenchResult> {
  const { values } = parseArgs({
    args,
    options: { issues: { type: "string" }, rounds: { type: "string" }, quick: { type: "boolean" } },
    allowPositionals: true,
  });
  const quick = values.quick === true;
  const issues = Math.max(1, Math.floor(positive(values.issues, "issues", quick ? 50 : 200)));
  const rounds = Math.max(1, Math.floor(positive(values.rounds, "rounds", quick ? 3 : 7)));
  const github = await startFakeGitHub();
  try {
    const octokit = testOctokit({ baseUrl: github.apiUrl, token: github.token });
    const client = new GitHubClient(octokit, { owner: OWNER, repo: REPO });
    const config = parseConfig({});
    const log = silentLogger();
    const now = new Date(Date.now() + 72 * 3_600_000);
    await seed(github, octokit, issues, now.getTime());

    // The facts the pure plan gets: read once through the same client, so they are what the queue read sees.
    const listed = await client.listOpenIssuesWithLabel(config.labels.queued, new EtagCache());
    const candidates = listed.filter((i) => !i.isPullRequest);
    if (candidates.length !== issues) throw new Error(`listed ${candidates.length} queued issues, not ${issues}`);
    const cache = new EtagCache();
    const heads = await client.listRefHeads(config.lease.refPrefix, cache);
    const recordedBlockers = new Map<number, RecordedBlocker[]>();
    const blockerStates = new Map<string, BlockerState>();
    const leases = new Map<number, LeaseRecord | null>();
    const queuedSince = new Map<number, string | null>();
    const facts: QueueFacts = { recordedBlockers, blockerStates, leases, queuedSince };
    for (const issue of candidates) {
      if (issue.recordedBlockers !== 0) recordedBlockers.set(issue.number, await client.listBlockedBy(issue.number, cache));
      const sha = heads.get(`refs/${config.lease.refPrefix}${issue.number}`);
      leases.set(issue.number, sha === undefined ? null : parseLease(await client.commitMessage(sha, cache)));
      queuedSince.set(issue.number, await client.labelAddedAt(issue.number, config.labels.queued, cache));
    }
    for (const ref of textBlockersToResolve(candidates, { repository: { owner: OWNER, repo: REPO }, queuedLabel: config.labels.queued })) {
      blockerStates.set(refKey(ref), await client.issueState(ref, cache));
    }
    const options = { repository: { owner: OWNER, repo: REPO }, queuedLabel: config.labels.queued, priorityLabels: config.priorityLabels, now, agingHours: 48 };

    /** Plans for ~200 ms: candidates decided per second. */
    const planRound = (): number => {
      let plans = 0;
      const started = performance.now();
      while (performance.now() - started < 200) {
        planQueue(candidates, facts, options);
        plans += 1;
      }
      return (plans * candidates.length) / ((performance.now() - started) / 1000);
    };
    /** One queue read against the fake, with the given cache: its time and its REST requests. */
    const readRound = async (readCache: EtagCache): Promise<{ ms: number; requests: number; notModified: number; ready: number; waiting: number }> => {
      const from = github.requestLog.length;
      const started = performance.now();
      const plan = await readRepositoryQueue({ github: client, config, cache: readCache, now, log });
      const ms = performance.now() - started;
      const requests = github.requestLog.slice(from).filter((r) => r.kind === "rest");
      return {
        ms,
        requests: requests.length,
        notModified: requests.filter((r) => r.status === 304).length,
        ready: plan.ready.length,
        waiting: plan.waiting.length,
      };
    };

    // Warm-up: one uncounted round of each (JIT, the fake's first answers).
    planRound();
    const cold = await readRound(new EtagCache());
    const warmCache = new EtagCache();
    await readRound(warmCache);
    const decisions: number[] = [];
    const readMs: number[] = [];
    let warm = { requests: 0, notModified: 0 };
    for (let r = 0; r < rounds; r += 1) {
      decisions.push(planRound());
      const read = await readRound(warmCache);
      readMs.push(read.ms);
      warm = { requests: read.requests, notModified: read.notModified };
    }
    github.assertNoViolations();
    const result: DispatchBenchResult = {
      bench: "dispatch",
      issues,
      rounds,
      decisionsPerSecond: Math.round(median(decisions)),
      decisionsPerSecondMin: Math.round(Math.min(...decisions)),
      decisionsPerSecondMax: Math.round(Math.max(...decisions)),
      readQueueMs: round(median(readMs), 1),
      readQueueMsMin: round(Math.min(...readMs), 1),
      readQueueMsMax: round(Math.max(...readMs), 1),
      readsPerCandidateCold: round(cold.requests / issues, 2),
      readsPerCandidateWarm: round(warm.requests / issues, 2),
      notModifiedShareWarm: round(warm.requests === 0 ? 1 : warm.notModified / warm.requests, 2),
    };
    printTable(
      `dispatch: ${issues} queued issues in the fake GitHub (${cold.ready} ready, ${cold.waiting} waiting), ${rounds} interleaved rounds after a warm-up; median (min–max)`,
      ["figure", "value"],
      [
        [
          "dispatch decisions per second (planQueue, facts in memory)",
          `${result.decisionsPerSecond} (${result.decisionsPerSecondMin}–${result.decisionsPerSecondMax})`,
        ],
        ["queue read, warm cache (listing + facts + plan, loopback HTTP)", `${result.readQueueMs} ms (${result.readQueueMsMin}–${result.readQueueMsMax})`],
        ["REST requests per candidate, cold cache (target ≤ 2)", `${result.readsPerCandidateCold} (${cold.requests} for ${issues})`],
        ["REST requests per candidate, warm cache", `${result.readsPerCandidateWarm} (${Math.round(result.notModifiedShareWarm * 100)} % answered 304)`],
      ],
    );
    console.log(JSON.stringify(result));
    if (result.readsPerCandidateCold > 2) process.exitCode = 1;
    return result;
  } finally {
    await github.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runDispatchBench(process.argv.slice(2));
}
