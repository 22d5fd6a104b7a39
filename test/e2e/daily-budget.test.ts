import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runClaude, type RunClaudeOptions } from "../../src/adapters/claude/run-claude.js";
import { GitRepository } from "../../src/adapters/git.js";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { promptsDir } from "../../src/cli/paths.js";
import { parseConfig } from "../../src/core/config.js";
import { parseLease, type LeaseRecord } from "../../src/core/lease.js";
import type { LifecycleEvent } from "../../src/core/lifecycle-events.js";
import { sessionRecordOf, type SessionRecord } from "../../src/core/session-record.js";
import { createSessionReducer } from "../../src/core/session-report.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { startModelServer, type ModelServer, type Scenario } from "../../src/offline/model-server.js";
import { claimIssue } from "../../src/runtime/claim-issue.js";
import { appendRecord } from "../../src/runtime/knowledge-ref.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { workIssue, type WorkResult } from "../../src/runtime/work-issue.js";
import { QueueWorker } from "../../src/worker/queue-worker.js";
import { testOctokit } from "../support/octokit.js";
import { sandboxedClaude } from "../support/sandboxed-claude.js";

/**
 * Daily dollar caps end to end (issue #18 item 5): the real queue worker, the real CLI, the
 * scripted model and the fake GitHub, on a fake clock. Today's session records on
 * refs/harness/knowledge reach the repository's `budget.dailyUsd`: the next queued issue is
 * claimed, but no session starts (the model sees no request), the attempt is not used, the
 * tracking comment and a `budget_wait` event say so, and no pass claims it again that UTC day.
 * After midnight (UTC) the first pass works it.
 */

const OWNER = "octo";
const REPO = "budget";
const CONFIG = "budget:\n  dailyUsd: 5\n  maxIssueUsd: 3\n";
let github: FakeGitHub;
let model: ModelServer;
let root: string;
let otherHost: Parameters<typeof appendRecord>[0];
let clock = Date.parse("2026-12-03T10:00:00.000Z");
const now = (): Date => new Date(clock);

const scenario: Scenario = {
  name: "budget-work",
  match: "[scenario:budget-work]",
  turns: [{ toolCalls: [{ name: "Write", input: { file_path: "{{cwd}}/done.txt", content: "done\n" } }] }, { text: "Wrote done.txt." }],
};

const lease = (issue: number): LeaseRecord =>
  parseLease(
    execFileSync("git", ["--git-dir", github.repoPath(OWNER, REPO), "log", "-1", "--format=%B", `refs/harness/leases/issue-${issue}`], { encoding: "utf8" }),
  );
const labels = (issue: number): string[] => github.getIssue(OWNER, REPO, issue).labelNames.filter((l) => l.startsWith("harness:"));
const lastComment = (issue: number): string => github.listComments(OWNER, REPO, issue).at(-1)?.body ?? "";
const turns = (): number => model.requests.filter((r) => r.kind === "turn" && r.scenario === "budget-work").length;

const claude = () => sandboxedClaude(model.url);

/** One `harness worker --once` on the fake clock; its lifecycle events too. */
async function workerPass(dailyUsd?: number): Promise<{ results: WorkResult[]; events: LifecycleEvent[] }> {
  const worker = new QueueWorker({
    agents: 1,
    repositories: [{ owner: OWNER, repo: REPO }],
    api: testOctokit({ baseUrl: github.apiUrl, token: github.token }),
    state: new StateDir(path.join(root, "state")),
    host: "host-a",
    runId: "run-1",
    claude: claude(),
    promptsDir: promptsDir(),
    gitUrl: () => github.gitUrl(OWNER, REPO),
    log: silentLogger(),
    now,
    once: true,
    maxIssues: null,
    pollMs: 10,
    jitterMs: 0,
    minFreeDiskMb: 0,
    sessionRetentionMs: 24 * 3_600_000,
    ...(dailyUsd !== undefined ? { dailyUsd } : {}),
  });
  const events: LifecycleEvent[] = [];
  const off = worker.runtime.events.subscribe((e) => events.push(e));
  try {
    return { results: (await worker.run()).results, events };
  } finally {
    off();
  }
}

/** A record of an attempt that ended at `at` and cost `costUsd`, as another host would have appended it. */
function spent(issue: number, at: string, costUsd: number, repository = `${OWNER}/${REPO}`): SessionRecord {
  return {
    ...sessionRecordOf({
      repository,
      issue,
      sessionId: `earlier-${issue}`,
      attempt: 1,
      mode: "new",
      branch: `harness/issue-${issue}`,
      report: createSessionReducer().finish({ exitCode: 0, signal: null }),
      pullRequest: null,
      headCommit: null,
      at,
      knowledgeUsed: [],
    }),
    costUsd,
  };
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-budget-"));
  model = await startModelServer({ scenarios: [scenario] });
  github = await startFakeGitHub({ dir: path.join(root, "github") });
  await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n", ".github/harness.yml": CONFIG } });
  // Today's spend, from another host: $2 + $3 = the cap of $5. Yesterday's $100 does not count.
  const other = {
    git: new GitRepository({ cloneDir: path.join(root, "other", "clone.git"), home: path.join(root, "other", "home"), identity: { name: "h", email: "h@x" } }),
    url: github.gitUrl(OWNER, REPO),
    credentials: { token: github.token },
  };
  await other.git.ensureClone();
  otherHost = other;
  await appendRecord(other, spent(101, "2026-12-02T23:59:00.000Z", 100));
  await appendRecord(other, spent(102, "2026-12-03T01:00:00.000Z", 2));
  await appendRecord(other, spent(103, "2026-12-03T09:30:00.000Z", 3));
});

afterAll(async () => {
  await model?.close();
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

describe("daily budget, with the real CLI and the scripted model", () => {
  it("stops new sessions at the repository's cap, without using the attempt, and works the issue the next UTC day", async () => {
    const issue = await github.createIssue(OWNER, REPO, {
      title: "After the cap",
      body: "Add a file. [scenario:budget-work]",
      labels: ["harness:queued"],
      user: "ada",
    });

    // Claimed, but no session: the model is never asked, the attempt is handed back.
    const first = await workerPass();
    expect(first.results.map((r) => [r.issue, r.outcome, r.label])).toEqual([[issue.number, "waiting", "harness:queued"]]);
    expect(first.results[0]?.budgetWait).toEqual({
      kind: "wait",
      scope: "repository",
      capUsd: 5,
      spentUsd: 5,
      reservedUsd: 0,
      until: "2026-12-04T00:00:00.000Z",
    });
    expect(turns()).toBe(0);
    expect(first.events.map((e) => e.type)).not.toContain("session_started");
    const wait = first.events.find((e) => e.type === "budget_wait");
    expect(wait).toMatchObject({ issue: `${OWNER}/${REPO}#${issue.number}`, scope: "repository", spentUsd: 5, capUsd: 5, until: "2026-12-04T00:00:00.000Z" });
    expect(first.events.find((e) => e.type === "issue_done")).toMatchObject({ outcome: "waiting", label: "harness:queued" });
    expect(lastComment(issue.number)).toContain("daily budget reached ($5.00 of $5.00, repository), waits until 2026-12-04T00:00:00.000Z");
    expect(labels(issue.number)).toEqual(["harness:queued"]);
    expect(lease(issue.number)).toMatchObject({ state: "released", attempt: 0, outcome: "budget_wait", notBefore: "2026-12-04T00:00:00.000Z" });

    // Later the same UTC day: the queue offers nothing (no claim, no comment, no request).
    const comments = github.listComments(OWNER, REPO, issue.number).length;
    clock = Date.parse("2026-12-03T23:59:00.000Z");
    const again = await workerPass();
    expect(again.results).toEqual([]);
    expect(again.events.filter((e) => e.type === "claimed")).toEqual([]);
    expect(github.listComments(OWNER, REPO, issue.number)).toHaveLength(comments);
    expect(turns()).toBe(0);

    // The next UTC day the spend starts from zero: the issue is worked, as its first attempt.
    clock = Date.parse("2026-12-04T00:00:01.000Z");
    const next = await workerPass();
    expect(next.results.map((r) => [r.issue, r.outcome])).toEqual([[issue.number, "success"]]);
    expect(next.events.map((e) => e.type)).toContain("session_started");
    expect(turns()).toBeGreaterThan(0);
    expect(lease(issue.number)).toMatchObject({ state: "released", attempt: 1, outcome: "success" });
    expect(labels(issue.number)).toEqual(["harness:done"]);
    github.assertNoViolations();
  }, 180_000);

  it("gives a session a budget:N label's dollars as --max-budget-usd, bounded by budget.maxIssueUsd, and says so in the summary", async () => {
    const config = parseConfig({ budget: { dailyUsd: 5, maxIssueUsd: 3 } });
    const client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
    const state = new StateDir(path.join(root, "state-label"));
    const owner = { agent: "agent-1", host: "host-b", runId: "run-2" };
    const log = silentLogger();
    clock = Date.parse("2026-12-05T08:00:00.000Z");
    const issue = await github.createIssue(OWNER, REPO, {
      title: "Big one",
      body: "Add a file. [scenario:budget-work]",
      labels: ["harness:queued", "budget:50"],
      user: "ada",
    });
    const claimed = await claimIssue({ github: client, config, state, owner, log, now }, issue.number);
    if (!claimed.claimed) throw new Error(claimed.reason);
    const asked: number[] = [];
    const result = await workIssue(
      {
        github: client,
        config,
        state,
        claude: claude(),
        promptsDir: promptsDir(),
        gitUrl: () => github.gitUrl(OWNER, REPO),
        log,
        now,
        runSession: (options: RunClaudeOptions) => {
          asked.push(options.maxBudgetUsd);
          return runClaude(options);
        },
      },
      claimed.claim,
    );
    expect(result.outcome).toBe("success");
    // $50 asked, $3 allowed by budget.maxIssueUsd (the $5 cap has more than that left today).
    expect(asked).toEqual([3]);
    const summary = github
      .listComments(OWNER, REPO, issue.number)
      .map((c) => c.body ?? "")
      .find((b) => b.startsWith("<!-- harness:summary"));
    expect(summary).toContain("Session budget $3.00: from the issue's budget:N label, lowered to budget.maxIssueUsd ($3.00).");
    github.assertNoViolations();
  }, 120_000);

  it("sums the installation's cap (HARNESS_DAILY_USD) over every repository the host has a clone of", async () => {
    clock = Date.parse("2026-12-06T12:00:00.000Z");
    // $2.50 today in this repository (under its own $5 cap), $4 in another one this host works: $6.50 of $6.
    await appendRecord(otherHost, spent(104, "2026-12-06T01:00:00.000Z", 2.5));
    await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: "elsewhere", files: { "README.md": "x\n" } });
    const state = new StateDir(path.join(root, "state"));
    const elsewhere = {
      git: new GitRepository({ cloneDir: state.clone(OWNER, "elsewhere"), home: state.gitHome(), identity: { name: "h", email: "h@x" } }),
      url: github.gitUrl(OWNER, "elsewhere"),
      credentials: { token: github.token },
    };
    await elsewhere.git.ensureClone();
    await appendRecord(elsewhere, spent(1, "2026-12-06T02:00:00.000Z", 4, `${OWNER}/elsewhere`));
    const issue = await github.createIssue(OWNER, REPO, {
      title: "Over the top",
      body: "Add a file. [scenario:budget-work]",
      labels: ["harness:queued"],
      user: "ada",
    });
    const before = turns();

    // Without the installation cap the repository's own $5 is not reached; with $6 it is.
    const pass = await workerPass(6);
    expect(pass.results.map((r) => [r.issue, r.outcome])).toEqual([[issue.number, "waiting"]]);
    expect(pass.results[0]?.budgetWait).toMatchObject({ scope: "installation", capUsd: 6, spentUsd: 6.5, until: "2026-12-07T00:00:00.000Z" });
    expect(lastComment(issue.number)).toContain("daily budget reached ($6.50 of $6.00, installation), waits until 2026-12-07T00:00:00.000Z");
    expect(turns()).toBe(before);
    expect(lease(issue.number)).toMatchObject({ attempt: 0, notBefore: "2026-12-07T00:00:00.000Z" });
    github.assertNoViolations();
  }, 120_000);
});
