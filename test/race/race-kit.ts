/**
 * Claim races against one fake GitHub: claimers, trials and the checks every trial
 * must pass (used by the race tests and by `bench/claims.ts`).
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { LeaseStore, type ClaimResult, type LeaseStoreOptions } from "../../src/adapters/github-lease.js";
import { describeOwner, parseLease, type LeaseOwner } from "../../src/core/lease.js";
import { WriteBudget } from "../../src/core/write-budget.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { leaseTransport } from "../../src/runtime/shared-clone.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { testOctokit } from "../support/octokit.js";

export const OWNER = "octo";
export const REPO = "race";
export const PREFIX = "harness/leases/issue-";
export const TERM_MS = 15 * 60_000;
/** The fake clock of trial `issue`: each trial lives in its own hour. */
export const trialTime = (issue: number): Date => new Date(Date.UTC(2026, 10, 26) + issue * 3_600_000);

/** Retries that keep tests fast: tiny backoff; rate limits without retry-after wait 2 ms. */
export const FAST_RETRIES: LeaseStoreOptions = { backoffMs: () => 1, rateLimitFallbackMs: 2, maxWaitMs: 2_000 };

export interface Claimer {
  name: string;
  owner: LeaseOwner;
  store: LeaseStore;
  counts: { read: number; write: number };
}

export async function startRaceFake(): Promise<FakeGitHub> {
  const fake = await startFakeGitHub();
  await fake.createRepo({ owner: OWNER, name: REPO });
  return fake;
}

/** A write budget that never waits (the race tests are about the lease, not about GitHub's write quotas). */
export const unlimitedBudget = (): WriteBudget =>
  new WriteBudget({ perSecond: Number.POSITIVE_INFINITY, perMinute: Number.POSITIVE_INFINITY, perHour: Number.POSITIVE_INFINITY });

/**
 * One claimer with its own Octokit (its own connection pool), as on its own host.
 * With `gitStateDir`, its lease writes travel as git pushes from its own clone
 * there (what a worker does), else as REST writes.
 */
export function makeClaimer(fake: FakeGitHub, agent: string, host: string, options: LeaseStoreOptions = FAST_RETRIES, gitStateDir?: string): Claimer {
  const counts = { read: 0, write: 0 };
  const api = testOctokit({ baseUrl: fake.apiUrl, token: fake.token });
  // Each claimer stands for an agent of its own installation, and the fake enforces no write
  // quota: an unbounded budget, or the process's shared 80-a-minute budget would pace the race.
  const github = new GitHubClient(api, { owner: OWNER, repo: REPO }, { count: (k) => (counts[k] += 1), budget: unlimitedBudget() });
  const git = gitStateDir === undefined ? {} : { git: leaseTransport({ github, state: new StateDir(gitStateDir), gitUrl: (r) => r.cloneUrl }) };
  return {
    name: `${agent}@${host}`,
    owner: { agent, host, runId: `run-${agent}-${host}` },
    store: new LeaseStore(github, PREFIX, { ...options, ...git }),
    counts,
  };
}

export type Start = "absent" | "released";

export interface Contender {
  name: string;
  owner: LeaseOwner | null;
  /** The claim's answer, or the error it threw, or a same-host lock loss. */
  result: ClaimResult | { error: string } | { lock: string };
}

export interface Trial {
  issue: number;
  start: Start;
  /** The head before the race (null: no ref). */
  base: string | null;
  contenders: Contender[];
}

/** Makes the lease of `issue` free in the given way before a race: absent, or claimed then released. */
export async function prepare(setup: Claimer, issue: number, start: Start): Promise<string | null> {
  if (start === "absent") return null;
  const now = new Date(trialTime(issue).getTime() - 60_000);
  const claimed = await setup.store.claim({ issue, owner: setup.owner, now, termMs: TERM_MS, sessionId: `setup-${issue}` });
  if (!claimed.ok) throw new Error(`setup claim of #${issue} failed: ${claimed.reason}`);
  const released = await setup.store.release(issue, claimed.head, setup.owner, now, { outcome: "success", sessionId: `setup-${issue}` });
  if (!released.ok) throw new Error(`setup release of #${issue} failed`);
  return released.head.sha;
}

/** Everyone claims at once. */
export async function race(claimers: Claimer[], issue: number): Promise<Contender[]> {
  const now = trialTime(issue);
  return Promise.all(
    claimers.map(async (c): Promise<Contender> => {
      try {
        return {
          name: c.name,
          owner: c.owner,
          result: await c.store.claim({ issue, owner: c.owner, now, termMs: TERM_MS, sessionId: `s-${issue}-${c.owner.agent}` }),
        };
      } catch (error) {
        return { name: c.name, owner: c.owner, result: { error: error instanceof Error ? error.message : String(error) } };
      }
    }),
  );
}

const HELD_BY = /held by \S+@\S+ \(run [^)]+\)/;

export interface Verdict {
  winners: number;
  /** More than one contender believes it won. */
  doubleClaim: boolean;
  /** Nobody won although the lease was free. */
  lostIssue: boolean;
  problems: string[];
}

interface LogEntry {
  sha: string;
  parents: string[];
  message: string;
}

/**
 * The ref's history, newest first, as git reads it from the repository (the ref from git's
 * ref storage, each commit through `git cat-file`, not from the fake's memory): the first-parent
 * chain, which is all of `git log` as long as there are no merges (a merge is a problem anyway).
 */
async function history(fake: FakeGitHub, issue: number): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  let sha = await fake.readRef(OWNER, REPO, `refs/${PREFIX}${issue}`);
  while (sha !== null && entries.length < 10_000) {
    const commit = await fake.readCommit(OWNER, REPO, sha);
    entries.push({ sha, parents: commit.parents, message: commit.message.trimEnd() });
    sha = commit.parents[0] ?? null;
  }
  return entries;
}

/**
 * Checks one trial: exactly one winner; every loser names that winner in a
 * "held by agent@host (run …)" answer; the ref's history is one first-parent
 * chain (no merges, every commit's parent the commit before it, each ref change a
 * non-forced step from the previous head) with exactly one new claim commit, the
 * winner's, on top of the head from before the race.
 */
export async function judge(fake: FakeGitHub, trial: Trial): Promise<Verdict> {
  const problems: string[] = [];
  const winners = trial.contenders.filter((c) => "ok" in c.result && c.result.ok);
  const winner = winners[0];
  if (winners.length !== 1) problems.push(`#${trial.issue}: ${winners.length} winners (${winners.map((w) => w.name).join(", ")})`);
  for (const c of trial.contenders) {
    const r = c.result;
    if ("error" in r) problems.push(`#${trial.issue}: ${c.name} threw: ${r.error}`);
    else if ("lock" in r) {
      if (!/held on this host by \S+/.test(r.lock)) problems.push(`#${trial.issue}: ${c.name} lost the lock without saying to whom: ${r.lock}`);
    } else if (!r.ok) {
      if (!HELD_BY.test(r.reason)) problems.push(`#${trial.issue}: ${c.name} lost without a clear holder: ${r.reason}`);
      else if (winner?.owner && !r.reason.includes(describeOwner(winner.owner)))
        problems.push(`#${trial.issue}: ${c.name} names the wrong holder: ${r.reason}`);
    }
  }

  const log = await history(fake, trial.issue);
  const ref = `refs/${PREFIX}${trial.issue}`;
  for (let i = 0; i < log.length; i += 1) {
    const entry = log[i];
    if (!entry) continue;
    const expectedParent = log[i + 1]?.sha;
    if (entry.parents.length > 1) problems.push(`#${trial.issue}: merge commit ${entry.sha}`);
    if (entry.parents[0] !== expectedParent)
      problems.push(`#${trial.issue}: ${entry.sha} has parent ${entry.parents[0] ?? "none"}, not ${expectedParent ?? "none"}`);
  }
  // Every update of the ref, as git logged it (REST writes and pushes alike): each
  // one starts from the head before it, and together they walk the history's chain.
  const changes = await refUpdates(fake, ref);
  const chain = [...log].reverse().map((e) => e.sha);
  let previous = ZERO;
  changes.forEach((c, i) => {
    if (c.from !== previous) problems.push(`#${trial.issue}: ref change ${i} starts at ${c.from}, not at the head before it ${previous}`);
    if (c.to !== chain[i]) problems.push(`#${trial.issue}: ref change ${i} moved to ${c.to}, history has ${chain[i] ?? "nothing"}`);
    previous = c.to;
  });
  if (changes.length !== chain.length) problems.push(`#${trial.issue}: ${changes.length} ref changes for ${chain.length} commits`);

  const baseIndex = trial.base === null ? log.length : log.findIndex((e) => e.sha === trial.base);
  if (baseIndex < 0) problems.push(`#${trial.issue}: the head from before the race ${trial.base ?? ""} is not in the history`);
  const added = log.slice(0, Math.max(0, baseIndex));
  const claims = added.filter((e) => parseLease(e.message).state === "claimed");
  if (claims.length !== 1 || added.length !== 1) problems.push(`#${trial.issue}: ${added.length} new commits, ${claims.length} claims`);
  const won = winner && "ok" in winner.result && winner.result.ok ? winner.result.head.sha : null;
  if (won !== null && log[0]?.sha !== won) problems.push(`#${trial.issue}: the winner holds ${won}, the ref is at ${log[0]?.sha ?? "nothing"}`);

  return { winners: winners.length, doubleClaim: winners.length > 1, lostIssue: winners.length === 0, problems };
}

const ZERO = "0".repeat(40);

/** The ref's reflog in the fake's bare repository: every update, oldest first. */
async function refUpdates(fake: FakeGitHub, ref: string): Promise<Array<{ from: string; to: string }>> {
  const text = await fs.readFile(path.join(fake.repoPath(OWNER, REPO), "logs", ref), "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const [from = "", to = ""] = line.split(" ");
      return { from, to };
    });
}

/** Runs `trials` races on issues `firstIssue…`, half from an absent ref, half from a released one. */
export async function runTrials(
  fake: FakeGitHub,
  claimers: Claimer[],
  setup: Claimer,
  options: { trials: number; firstIssue: number; onTrial?: (trial: Trial, verdict: Verdict) => void },
): Promise<{ verdicts: Verdict[]; problems: string[] }> {
  const verdicts: Verdict[] = [];
  const problems: string[] = [];
  for (let t = 0; t < options.trials; t += 1) {
    const issue = options.firstIssue + t;
    const start: Start = t % 2 === 0 ? "absent" : "released";
    const base = await prepare(setup, issue, start);
    const trial: Trial = { issue, start, base, contenders: await race(claimers, issue) };
    const verdict = await judge(fake, trial);
    verdicts.push(verdict);
    problems.push(...verdict.problems);
    options.onTrial?.(trial, verdict);
  }
  return { verdicts, problems };
}
