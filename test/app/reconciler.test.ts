import { generateKeyPairSync } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Probot } from "probot";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { GitHubApi } from "../../src/adapters/github-client.js";
import { createProbotInstance } from "../../src/app/start-server.js";
import { IssueIntake } from "../../src/app/issue-intake.js";
import { startReconciler } from "../../src/app/reconciler.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { serializeLease, type LeaseRecord } from "../../src/core/lease.js";
import { AgentPool } from "../../src/runtime/agent-pool.js";
import { claimIssue } from "../../src/runtime/claim-issue.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { testOctokit } from "../support/octokit.js";

const OWNER = "octo-org";
const log = silentLogger();

/** An intake whose jobs only record which issue they were given, in order. */
function recordingIntake(): { intake: IssueIntake; worked: string[]; pool: AgentPool } {
  const worked: string[] = [];
  const pool = new AgentPool({ agents: 1, log });
  const intake = new IssueIntake({
    pool,
    log,
    job: async ({ github, issueNumber }) => {
      worked.push(`${github.repo}#${issueNumber}`);
    },
  });
  return { intake, worked, pool };
}

describe("the reconciler's schedule (fake timers)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("walks every `minutes` (default 5), not before, and never after stop", async () => {
    vi.useFakeTimers();
    const { intake } = recordingIntake();
    let passes = 0;
    const probot = {
      auth: async (): Promise<unknown> => {
        passes += 1;
        return {};
      },
    };
    const reconciler = startReconciler({ probot, intake, repositories: [], log });
    await vi.advanceTimersByTimeAsync(5 * 60_000 - 1);
    expect(passes).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(passes).toBe(1);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(passes).toBe(3);
    await reconciler.stop();
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(passes).toBe(3);
  });

  it("takes its period from `minutes` and can walk at start", async () => {
    vi.useFakeTimers();
    const { intake } = recordingIntake();
    let passes = 0;
    const probot = { auth: async (): Promise<unknown> => (passes += 1) };
    const reconciler = startReconciler({ probot, intake, repositories: [], minutes: 2, runAtStart: true, log });
    await vi.advanceTimersByTimeAsync(0);
    expect(passes).toBe(1);
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    expect(passes).toBe(2);
    await reconciler.stop();
  });

  it("refuses to start without the app's intake", () => {
    expect(() => startReconciler({ probot: { auth: async () => ({}) }, log })).toThrow(/not loaded/);
  });

  it("a failing pass is logged and the next one still runs", async () => {
    vi.useFakeTimers();
    const { intake } = recordingIntake();
    let passes = 0;
    const probot = {
      auth: async (): Promise<unknown> => {
        passes += 1;
        throw new Error("network down");
      },
    };
    const reconciler = startReconciler({ probot, intake, repositories: ["o/r"], minutes: 1, log });
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    expect(passes).toBe(2);
    await reconciler.stop();
  });
});

describe("the reconciler against the fake GitHub", () => {
  let github: FakeGitHub;
  let tester: ReturnType<typeof testOctokit>;
  const probot = { auth: async (): Promise<unknown> => tester };

  beforeAll(async () => {
    github = await startFakeGitHub();
    tester = testOctokit({ baseUrl: github.apiUrl, token: github.token });
  });
  afterAll(async () => {
    await github?.close();
  });

  function writeLease(repo: string, record: LeaseRecord): Promise<unknown> {
    return (async () => {
      const { data: commit } = await tester.rest.git.createCommit({
        owner: OWNER,
        repo,
        message: serializeLease(record),
        tree: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        parents: [],
      });
      await tester.rest.git.createRef({ owner: OWNER, repo, ref: `refs/harness/leases/issue-${record.issue}`, sha: commit.sha });
    })();
  }

  const lease = (issue: number, over: Partial<LeaseRecord>): LeaseRecord => ({
    issue,
    state: "reclaimed",
    owner: { agent: "agent-1", host: "elsewhere", runId: "r" },
    epoch: 1,
    attempt: 1,
    leaseUntil: "2025-01-01T00:00:00.000Z",
    notBefore: null,
    sessionId: null,
    outcome: null,
    ...over,
  });

  it("hands over claimable issues in queue order; skips pull requests, blocked, backing-off and held issues", async () => {
    await github.createRepo({
      collaborators: { ada: "write" },
      owner: OWNER,
      name: "mixed",
      files: { "README.md": "x\n", ".github/harness.yml": "priorityLabels:\n  high: urgent\n" },
    });
    const make = async (title: string, labels: string[], body = ""): Promise<number> =>
      (await github.createIssue(OWNER, "mixed", { title, body, labels, user: "ada" })).number;
    const blocker = await make("blocker", []);
    const plain = await make("plain", ["harness:queued"]);
    const urgent = await make("urgent", ["harness:queued", "urgent"]);
    const low = await make("low", ["harness:queued", "priority:low"]);
    const textBlocked = await make("text", ["harness:queued"], `Depends on #${blocker}`);
    const apiBlocked = await make("api", ["harness:queued", "urgent"]);
    const backoff = await make("backoff", ["harness:queued"]);
    const held = await make("held", ["harness:queued"]);
    const { data: b } = await tester.rest.issues.get({ owner: OWNER, repo: "mixed", issue_number: blocker });
    await tester.rest.issues.addBlockedByDependency({ owner: OWNER, repo: "mixed", issue_number: apiBlocked, issue_id: b.id });
    await writeLease("mixed", lease(backoff, { notBefore: "2099-01-01T00:00:00.000Z" }));
    await writeLease("mixed", lease(held, { state: "claimed", leaseUntil: "2099-01-01T00:00:00.000Z" }));
    // A pull request carrying the label: the issues API lists it, the queue ignores it.
    await tester.rest.git.createRef({
      owner: OWNER,
      repo: "mixed",
      ref: "refs/heads/feature",
      sha: (await tester.rest.git.getRef({ owner: OWNER, repo: "mixed", ref: "heads/main" })).data.object.sha,
    });
    const { data: pr } = await tester.rest.pulls
      .create({ owner: OWNER, repo: "mixed", head: "feature", base: "main", title: "pr" })
      .catch(async () => ({ data: { number: 0 } }));
    if (pr.number > 0) await tester.rest.issues.addLabels({ owner: OWNER, repo: "mixed", issue_number: pr.number, labels: ["harness:queued"] });

    const { intake, worked, pool } = recordingIntake();
    const reconciler = startReconciler({ probot, intake, repositories: [`${OWNER}/mixed`], minutes: 60, log });
    const pass = await reconciler.runOnce();
    await pool.idle();
    const repo = pass.repositories[0]!;
    expect(repo.submitted).toEqual([urgent, plain, low]);
    expect(worked).toEqual([`mixed#${urgent}`, `mixed#${plain}`, `mixed#${low}`]);
    expect(repo.waiting).toEqual([
      { issue: apiBlocked, reason: `blocked by #${blocker}` },
      { issue: textBlocked, reason: `blocked by #${blocker}` },
      { issue: backoff, reason: "backing off until 2099-01-01T00:00:00.000Z" },
      { issue: held, reason: "held by agent-1@elsewhere until 2099-01-01T00:00:00.000Z" },
    ]);

    // The blocker closes: both blocked issues are handed over on the next pass, in order.
    await tester.rest.issues.update({ owner: OWNER, repo: "mixed", issue_number: blocker, state: "closed" });
    worked.length = 0;
    const next = await reconciler.runOnce();
    await pool.idle();
    expect(next.repositories[0]!.submitted).toEqual([urgent, apiBlocked, plain, textBlocked, low]);
    await reconciler.stop();
    github.assertNoViolations();
  });

  it("claims an issue within one reconcile tick after its last blocker closes, cross-repository, without webhooks", async () => {
    await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: "deps-a", files: { "README.md": "x\n" } });
    await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: "deps-b", files: { "README.md": "x\n" } });
    const here = (await github.createIssue(OWNER, "deps-a", { title: "blocker here", user: "ada" })).number;
    const there = (await github.createIssue(OWNER, "deps-b", { title: "blocker there", user: "ada" })).number;
    // One blocker recorded through GitHub's dependencies, one named in the body in another repository.
    const target = (
      await github.createIssue(OWNER, "deps-a", { title: "target", labels: ["harness:queued"], body: `Depends on ${OWNER}/deps-b#${there}`, user: "ada" })
    ).number;
    const { data: blocker } = await tester.rest.issues.get({ owner: OWNER, repo: "deps-a", issue_number: here });
    await tester.rest.issues.addBlockedByDependency({ owner: OWNER, repo: "deps-a", issue_number: target, issue_id: blocker.id });

    let clock = Date.parse("2030-06-01T00:00:00Z");
    const now = (): Date => new Date(clock);
    const state = new StateDir(await fs.mkdtemp(path.join(os.tmpdir(), "harness-deps-")));
    const claims: { issue: number; claimed: boolean; at: number }[] = [];
    const pool = new AgentPool({ agents: 1, log });
    // The real claim (lock, gate, lease CAS, labels, tracking comment) on the fake clock.
    const intake = new IssueIntake({
      pool,
      log,
      job: async ({ github: client, config, issueNumber }) => {
        const outcome = await claimIssue({ github: client, config, state, owner: { agent: "agent-1", host: "h", runId: "r" }, log, now }, issueNumber);
        if (outcome.claimed) await outcome.claim.releaseLock();
        claims.push({ issue: issueNumber, claimed: outcome.claimed, at: clock });
      },
    });
    const tickMs = 5 * 60_000;
    const reconciler = startReconciler({ probot, intake, repositories: [`${OWNER}/deps-a`], minutes: 5, log, now });
    const tick = async (): Promise<string[]> => {
      const pass = await reconciler.tick();
      await pool.idle();
      clock += tickMs;
      return pass.repositories[0]!.waiting.filter((w) => w.issue === target).map((w) => w.reason);
    };
    expect(await tick()).toEqual([`blocked by #${here}, ${OWNER}/deps-b#${there}`]);
    // No webhook is configured: GitHub tells nobody that the blockers close.
    await tester.rest.issues.update({ owner: OWNER, repo: "deps-a", issue_number: here, state: "closed" });
    expect(await tick()).toEqual([`blocked by ${OWNER}/deps-b#${there}`]);
    expect(claims).toEqual([]);
    const closedAt = clock;
    await tester.rest.issues.update({ owner: OWNER, repo: "deps-b", issue_number: there, state: "closed" });
    expect(await tick()).toEqual([]);
    expect(claims).toEqual([{ issue: target, claimed: true, at: closedAt }]);
    expect(claims[0]!.at - closedAt).toBeLessThanOrEqual(tickMs);
    expect(github.getIssue(OWNER, "deps-a", target).labelNames).toContain("harness:running");
    await reconciler.stop();
    await fs.rm(state.root, { recursive: true, force: true });
    github.assertNoViolations();
  });

  it("a backoff that ends wakes the reconciler before the next tick", async () => {
    await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: "backoff", files: { "README.md": "x\n" } });
    const n = (await github.createIssue(OWNER, "backoff", { title: "t", labels: ["harness:queued"], user: "ada" })).number;
    let clock = Date.parse("2030-01-01T00:00:00Z");
    await writeLease("backoff", lease(n, { notBefore: new Date(clock + 90_000).toISOString() }));
    const { intake, worked, pool } = recordingIntake();
    const reconciler = startReconciler({ probot, intake, repositories: [`${OWNER}/backoff`], minutes: 60, log, now: () => new Date(clock) });
    const first = await reconciler.runOnce();
    expect(first.repositories[0]!.waiting.map((w) => w.issue)).toEqual([n]);
    clock += 90_000;
    const second = await reconciler.runOnce();
    await pool.idle();
    expect(second.repositories[0]!.submitted).toEqual([n]);
    expect(worked).toEqual([`backoff#${n}`]);
    await reconciler.stop();
  });

  it("an unchanged queue costs only 304s; a repository without a config file is not re-read until there is work", async () => {
    await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: "quiet", files: { "README.md": "x\n" } });
    // Issue #18: a blocker that cannot be read holds its issue, so the one handed over and the one naming it are two issues now.
    const n = (await github.createIssue(OWNER, "quiet", { title: "t", labels: ["harness:queued", "priority:high"], user: "ada" })).number;
    const m = (
      await github.createIssue(OWNER, "quiet", { title: "u", labels: ["harness:queued", "priority:high"], body: "Depends on other-org/missing#3", user: "ada" })
    ).number;
    await github.createRepo({
      collaborators: { ada: "write" },
      owner: OWNER,
      name: "withconfig",
      files: { "README.md": "x\n", ".github/harness.yml": "reconcileMinutes: 5\n" },
    });
    const { intake, pool } = recordingIntake();
    const reconciler = startReconciler({ probot, intake, repositories: [`${OWNER}/quiet`, `${OWNER}/withconfig`], minutes: 60, log });
    const first = await reconciler.runOnce();
    await pool.idle();
    expect(first.repositories.map((r) => r.submitted)).toEqual([[n], []]);
    expect(first.repositories[0]!.waiting).toEqual([
      { issue: m, reason: "blocked by other-org/missing#3 (state unreadable: deleted, or not visible to the harness)" },
    ]);
    const before = github.requestLog.length;
    const second = await reconciler.runOnce();
    await pool.idle();
    const requests = github.requestLog.slice(before);
    // The issue is still queued (the recording job does not claim), so the pass hands it over again,
    // re-reading the missing config first (then the queue once more). A 404 has no ETag: the missing
    // config and the blocker that cannot be read are the only counted requests.
    expect(second.repositories.map((r) => r.submitted)).toEqual([[n], []]);
    expect(requests.filter((r) => r.status !== 304).map((r) => `${r.operationId} ${r.status}`)).toEqual([
      "issues/get 404",
      "repos/get-content 404",
      "issues/get 404",
    ]);

    // Without work to hand over, the pass costs nothing at all.
    await tester.rest.issues.removeLabel({ owner: OWNER, repo: "quiet", issue_number: n, name: "harness:queued" });
    await tester.rest.issues.removeLabel({ owner: OWNER, repo: "quiet", issue_number: m, name: "harness:queued" });
    await reconciler.runOnce();
    const quietFrom = github.requestLog.length;
    const quiet = await reconciler.runOnce();
    expect(quiet.fresh).toBe(0);
    expect(github.requestLog.slice(quietFrom).every((r) => r.status === 304)).toBe(true);
    await reconciler.stop();
  });

  it("walks a repository no more often than its reconcileMinutes", async () => {
    await github.createRepo({
      collaborators: { ada: "write" },
      owner: OWNER,
      name: "slow",
      files: { "README.md": "x\n", ".github/harness.yml": "reconcileMinutes: 15\n" },
    });
    await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: "fast", files: { "README.md": "x\n" } });
    let clock = Date.parse("2030-01-01T00:00:00Z");
    const { intake } = recordingIntake();
    const reconciler = startReconciler({ probot, intake, repositories: [`${OWNER}/slow`, `${OWNER}/fast`], minutes: 5, log, now: () => new Date(clock) });
    const walked: string[][] = [];
    for (let tick = 0; tick < 7; tick += 1) {
      const pass = await reconciler.tick();
      walked.push(pass.repositories.filter((r) => r.skipped === undefined).map((r) => r.repository.split("/")[1]!));
      clock += 5 * 60_000;
    }
    // Ticks every 5 minutes: `fast` (default 5) each time, `slow` (15) at 0, 15 and 30 minutes.
    expect(walked).toEqual([["slow", "fast"], ["fast"], ["fast"], ["slow", "fast"], ["fast"], ["fast"], ["slow", "fast"]]);
    // A forced pass walks everything.
    expect((await reconciler.runOnce()).repositories.every((r) => r.skipped === undefined)).toBe(true);
    await reconciler.stop();
  });
});

describe("the reconciler in App mode against the fake GitHub (GET /installation/repositories)", () => {
  let github: FakeGitHub;
  let probot: Probot;

  beforeAll(async () => {
    const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const appId = 515151;
    github = await startFakeGitHub({ appKeys: { appId, publicKeyPem: keys.publicKey.export({ type: "spki", format: "pem" }).toString() } });
    probot = createProbotInstance({
      appId: String(appId),
      privateKey: keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      webhookSecret: "s3cret",
      baseUrl: github.apiUrl,
      log,
      plainOctokit: true,
    });
  });
  afterAll(async () => {
    await github?.close();
  });

  const listings = (from: number): Array<{ actor: string | null; path: string; status: number }> =>
    github.requestLog
      .slice(from)
      .filter((e) => e.operationId === "apps/list-repos-accessible-to-installation")
      .map((e) => ({ actor: e.actor, path: e.path, status: e.status }));

  it("walks every repository of every installation, page by page, and follows repositories added and removed between passes", async () => {
    // Two installations: one on an organization limited to selected repositories, one on a user (all of its repositories).
    const names = ["r1", "r2", "r3", "r4", "r5"];
    for (const name of names) await github.createRepo({ owner: "app-org", name, ownerType: "Organization", files: { "README.md": "x\n" } });
    await github.createRepo({ owner: "app-user", name: "solo", files: { "README.md": "x\n" } });
    const queued: Record<string, number> = {};
    for (const name of names) queued[name] = (await github.createIssue("app-org", name, { title: `t ${name}`, labels: ["harness:queued"] })).number;
    queued.solo = (await github.createIssue("app-user", "solo", { title: "t solo", labels: ["harness:queued"] })).number;
    github.setInstallationRepositories("app-org", ["r1", "r2", "r3", "r5"]);

    const { intake, worked, pool } = recordingIntake();
    // Two repositories a page: the organization's four selected ones take two pages.
    const reconciler = startReconciler({ probot, intake, pageSize: 2, minutes: 60, log });
    const from = github.requestLog.length;
    const first = await reconciler.runOnce();
    await pool.idle();
    expect(first.repositories.map((r) => r.repository).sort()).toEqual(["app-org/r1", "app-org/r2", "app-org/r3", "app-org/r5", "app-user/solo"]);
    expect(first.repositories.every((r) => r.submitted.length === 1 && r.skipped === undefined)).toBe(true);
    expect(worked.sort()).toEqual(["r1#1", "r2#1", "r3#1", "r5#1", "solo#1"]);
    // Each installation lists its repositories with its own installation token (its bot), never with the App's JWT.
    const firstListings = listings(from);
    expect(firstListings.filter((l) => l.status === 200)).toHaveLength(3); // app-org: 2 pages; app-user: 1
    expect(new Set(firstListings.map((l) => l.actor))).toEqual(new Set([github.botLogin]));

    // Between passes: r4 added to the installation, r2 removed from it.
    github.setInstallationRepositories("app-org", ["r1", "r3", "r4", "r5"]);
    worked.length = 0;
    const second = await reconciler.runOnce();
    await pool.idle();
    expect(second.repositories.map((r) => r.repository).sort()).toEqual(["app-org/r1", "app-org/r3", "app-org/r4", "app-org/r5", "app-user/solo"]);
    // Still queued (the recording job does not claim): handed over again, r4 for the first time, r2 not at all.
    expect(worked.sort()).toEqual(["r1#1", "r3#1", "r4#1", "r5#1", "solo#1"]);

    // Back to all of the organization's repositories: five of them, three pages.
    github.setInstallationRepositories("app-org", "all");
    const before = github.requestLog.length;
    const third = await reconciler.runOnce();
    await pool.idle();
    expect(third.repositories.filter((r) => r.repository.startsWith("app-org/"))).toHaveLength(5);
    expect(listings(before).filter((l) => l.path === "/installation/repositories")).toHaveLength(4);
    await reconciler.stop();
  });

  it("hands over in one queue order across repositories: a high issue of the repository walked second goes before the low ones of the first", async () => {
    await github.createRepo({ owner: "prio-org", name: "a-low", ownerType: "Organization", files: { "README.md": "x\n" } });
    await github.createRepo({ owner: "prio-org", name: "b-high", ownerType: "Organization", files: { "README.md": "x\n" } });
    await github.createIssue("prio-org", "a-low", { title: "low 1", labels: ["harness:queued", "priority:low"] });
    await github.createIssue("prio-org", "a-low", { title: "low 2", labels: ["harness:queued", "priority:low"] });
    await github.createIssue("prio-org", "b-high", { title: "high", labels: ["harness:queued", "priority:high"] });
    await github.createIssue("prio-org", "b-high", { title: "plain", labels: ["harness:queued"] });

    const { intake, worked, pool } = recordingIntake();
    const reconciler = startReconciler({ probot, intake, minutes: 60, log });
    const pass = await reconciler.runOnce();
    await pool.idle();
    // The repositories are walked in the listing's order, a-low first ...
    const walked = pass.repositories.map((r) => r.repository).filter((r) => r.startsWith("prio-org/"));
    expect(walked).toEqual(["prio-org/a-low", "prio-org/b-high"]);
    // ... but the pool gets them by priority over both (the other installations' issues are medium).
    expect(worked.filter((w) => w.startsWith("a-low#") || w.startsWith("b-high#"))).toEqual(["b-high#1", "b-high#2", "a-low#1", "a-low#2"]);
    expect(worked[0]).toBe("b-high#1");
    await reconciler.stop();
    github.assertNoViolations();
  });

  it("answers the listing with total_count, a Link header and GitHub's page cap", async () => {
    const { data: installations } = await (await probot.auth()).request("GET /app/installations");
    const org = (installations as Array<{ id: number; account: { login: string } }>).find((i) => i.account.login === "app-org");
    expect(org).toBeDefined();
    const octokit = (await probot.auth(org!.id)) as unknown as GitHubApi;
    github.setInstallationRepositories("app-org", ["r1", "r2", "r3"]);
    const page1 = await octokit.rest.apps.listReposAccessibleToInstallation({ per_page: 2, page: 1 });
    expect(page1.data.total_count).toBe(3);
    expect(page1.data.repository_selection).toBe("selected");
    expect(page1.data.repositories.map((r) => r.full_name)).toEqual(["app-org/r1", "app-org/r2"]);
    expect(page1.headers.link).toContain('rel="next"');
    const page2 = await octokit.rest.apps.listReposAccessibleToInstallation({ per_page: 2, page: 2 });
    expect(page2.data.repositories.map((r) => r.full_name)).toEqual(["app-org/r3"]);
    expect(page2.headers.link ?? "").not.toContain('rel="next"');
    // A token that is not an installation's cannot list an installation's repositories.
    const user = testOctokit({ baseUrl: github.apiUrl, token: github.token });
    await expect(user.rest.apps.listReposAccessibleToInstallation()).rejects.toMatchObject({ status: 403 });
    github.setInstallationRepositories("app-org", "all");
  });
});
