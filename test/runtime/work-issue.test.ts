import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { LeaseStore } from "../../src/adapters/github-lease.js";
import { createLogger, silentLogger, type Logger } from "../../src/adapters/logger.js";
import { parseConfig, type HarnessConfig } from "../../src/core/config.js";
import { HarnessError } from "../../src/core/errors.js";
import { serializeLease, type LeaseRecord } from "../../src/core/lease.js";
import { promptsDir } from "../../src/cli/paths.js";
import { claimIssue } from "../../src/runtime/claim-issue.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { workIssue, type WorkDeps } from "../../src/runtime/work-issue.js";
import { reclaimRepository } from "../../src/runtime/reclaimer.js";
import { reclaimPolicyOf } from "../../src/core/reclaim.js";
import { EtagCache } from "../../src/core/etag-cache.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { loadScenario, startModelServer, type ModelServer } from "../../src/offline/model-server.js";
import { testOctokit } from "../support/octokit.js";
import { EventBus } from "../../src/runtime/event-bus.js";
import { sandboxedClaude } from "../support/sandboxed-claude.js";

const OWNER = "octo";
const REPO = "fenced";
let github: FakeGitHub;
let model: ModelServer;
let root: string;

function git(...args: string[]): string {
  return execFileSync("git", ["--git-dir", github.repoPath(OWNER, REPO), ...args], { encoding: "utf8" }).trim();
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-worker-"));
  model = await startModelServer({
    scenarios: [
      await loadScenario(path.resolve("test/fixtures/scenarios/slow.yaml")),
      await loadScenario(path.resolve("test/fixtures/scenarios/long.yaml")),
      await loadScenario(path.resolve("test/fixtures/scenarios/write-and-finish.yaml")),
      await loadScenario(path.resolve("test/fixtures/scenarios/gated.yaml")),
    ],
  });
  github = await startFakeGitHub({ dir: root });
  await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
});

afterAll(async () => {
  await model?.close();
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

/** A worker against the fake GitHub and the scripted model, beating every 50 ms. */
function workDeps(client: GitHubClient, config: HarnessConfig, state: StateDir, log: Logger): WorkDeps {
  return {
    github: client,
    config,
    state,
    claude: sandboxedClaude(model.url),
    promptsDir: promptsDir(),
    gitUrl: () => github.gitUrl(OWNER, REPO),
    log,
    now: () => new Date(),
    progressIntervalMs: 60_000,
    livenessMs: 50,
  };
}

describe("workIssue, fenced mid-session", () => {
  it("stops the session when a renewal finds the lease taken, and writes nothing more", async () => {
    // A lease term of 0.6 s renews every 0.2 s; liveness ticks every 50 ms.
    const config = parseConfig({ lease: { termMinutes: 0.01 } });
    const client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
    const state = new StateDir(path.join(root, "state"));
    const owner = { agent: "agent-1", host: "host-a", runId: "run-1" };
    const log = silentLogger();
    const now = () => new Date();
    const issue = await github.createIssue(OWNER, REPO, { title: "slow", body: "[scenario:slow] go", labels: ["harness:queued"], user: "ada" });

    const claimed = await claimIssue({ github: client, config, state, owner, log, now }, issue.number);
    if (!claimed.claimed) throw new Error(claimed.reason);
    const working = workIssue(workDeps(client, config, state, log), claimed.claim);

    // While the model thinks over its second turn, the reclaimer takes the lease.
    const deadline = Date.now() + 30_000;
    while (!model.requests.some((r) => r.scenario === "slow" && r.turn === 1) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const ref = `refs/harness/leases/issue-${issue.number}`;
    const head = git("rev-parse", ref);
    const reclaimed: LeaseRecord = { ...claimed.claim.lease.record, state: "reclaimed", owner: { agent: "reclaimer", host: "host-r", runId: "r" } };
    // Renewals may have advanced the head meanwhile: build on whatever it is now.
    const taken = git("commit-tree", "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "-p", head, "-m", serializeLease(reclaimed));
    git("update-ref", ref, taken, head);
    // Writes other than the lease's own CAS attempts (a renewal in flight may still
    // write an orphan commit and lose its PATCH: that is how it learns it is fenced).
    const publishing = () => github.requestLog.filter((e) => e.write && !(e.operationId ?? "").startsWith("git/")).map((e) => `${e.method} ${e.path}`);
    const writesBefore = publishing();

    const result = await working;
    expect(result.error?.code).toBe("EHARNESS_LEASE_LOST");
    expect(result.report?.outcome).toBe("interrupted");
    expect(result.pushed).toBe(false);
    // Nothing written after the lease was taken: no push, no PR, no comment, no label, no release.
    expect(publishing()).toEqual(writesBefore);
    expect(git("rev-parse", ref)).toBe(taken);
    expect(() => git("rev-parse", "--verify", "--quiet", `refs/heads/harness/issue-${issue.number}`)).toThrow();
    expect(github.getIssue(OWNER, REPO, issue.number).labels.map((l) => l.name)).toEqual(["harness:running"]);
    // The session really ended early, and the worktree is cleaned up.
    expect(await fs.stat(state.worktree(OWNER, REPO, issue.number)).catch(() => null)).toBeNull();
  });

  it("is never reclaimed while it keeps renewing, however long the session runs past its first term", async () => {
    // Term 3 s (renewed every second), no grace. Time is a clock the test moves, shared by the
    // worker and the reclaimer: each step moves it one renewal period, waits for the heartbeat's
    // renewal, then runs a reclaim pass. The session's last turn is held at a gate until six
    // periods (two terms) have passed, so the session outlives its first term by construction,
    // whatever the machine's load: a reclaim here means the renewals did not keep the lease.
    const config = parseConfig({ lease: { termMinutes: 0.05 }, reclaim: { graceMinutes: 0 } });
    const renewMs = 1000;
    const client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
    const state = new StateDir(path.join(root, "state-long"));
    const owner = { agent: "agent-2", host: "host-b", runId: "run-2" };
    const log = process.env.DEBUG_LONG ? createLogger({ level: "debug" }) : silentLogger();
    let clock = Date.parse("2026-12-01T12:00:00.000Z");
    const now = () => new Date(clock);
    const events = new EventBus();
    let renewals = 0;
    events.subscribe(
      (event) => {
        if (event.result === "renewed") renewals += 1;
      },
      ["lease_renewal"],
    );
    const issue = await github.createIssue(OWNER, REPO, { title: "long", body: "[scenario:gated] go", labels: ["harness:queued"], user: "ada" });
    const claimed = await claimIssue({ github: client, config, state, owner, log, now }, issue.number);
    if (!claimed.claimed) throw new Error(claimed.reason);
    const working = workIssue({ ...workDeps(client, config, state, log), now, events }, claimed.claim);
    let ended = false; // a session fenced by a reclaim ends early: the passes below then say so
    void working.finally(() => (ended = true));
    const passes: string[] = [];
    for (let step = 1; step <= 6; step += 1) {
      clock += renewMs;
      await until(() => renewals >= step || ended, `renewal ${step}`);
      const results = await reclaimRepository({ github: client, config, policy: reclaimPolicyOf(config), cache: new EtagCache(), log, now });
      passes.push(results.find((r) => r.issue === issue.number)?.action ?? "none");
    }
    model.open("gated");
    const result = await working;
    expect(passes).toEqual(["kept", "kept", "kept", "kept", "kept", "kept"]);
    expect(result.outcome).toBe("success");
    expect(github.getIssue(OWNER, REPO, issue.number).labels.map((l) => l.name)).toEqual(["harness:done"]);
    expect(leaseHead(issue.number).state).toBe("released");
  });

  it("releases its lease even with renewals running back to back as it publishes (lease by git push)", async () => {
    // Term 0.3 s: a renewal is due at every 50 ms beat, so one is in flight whenever the
    // release comes. A renewal that landed first used to make the release miss (about one
    // issue in two): the issue was done, its lease still claimed, and the reclaimer gave
    // it out again. Three agents at once, each must end released.
    const config = parseConfig({ lease: { termMinutes: 0.005 } });
    const log = silentLogger();
    const now = () => new Date();
    const one = async (n: number): Promise<{ issue: number; owner: LeaseRecord["owner"] }> => {
      const client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
      const state = new StateDir(path.join(root, `state-release-${n}`));
      const owner = { agent: `agent-r${n}`, host: `host-r${n}`, runId: `run-r${n}` };
      const issue = await github.createIssue(OWNER, REPO, { title: `release ${n}`, body: "[scenario:long] go", labels: ["harness:queued"], user: "ada" });
      const claimed = await claimIssue({ github: client, config, state, owner, log, now, gitUrl: () => github.gitUrl(OWNER, REPO) }, issue.number);
      if (!claimed.claimed) throw new Error(claimed.reason);
      const result = await workIssue(workDeps(client, config, state, log), claimed.claim);
      expect(result.outcome, `#${issue.number}: ${result.error?.code ?? ""} ${result.error?.message ?? ""}`).toBe("success");
      expect(claimed.claim.leases.writesByPush).toBe(true);
      return { issue: issue.number, owner };
    };
    const done = await Promise.all([1, 2, 3].map(one));
    for (const { issue, owner } of done) {
      const history = git("log", "--format=%s", `refs/harness/leases/issue-${issue}`).split("\n");
      expect(history.length, `#${issue}`).toBeGreaterThan(3); // renewed, by push, many times
      expect(leaseHead(issue), `#${issue}`).toMatchObject({ state: "released", outcome: "success", owner });
    }
  });
});

/** Resolves once `condition` holds (checked every 20 ms); fails after a minute naming `what`. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The lease record at the head of the issue's lease ref in the fake's repository. */
function leaseHead(issue: number): LeaseRecord {
  return JSON.parse(git("log", "-1", "--format=%B", `refs/harness/leases/issue-${issue}`)) as LeaseRecord;
}

describe("workIssue, an attempt that fails with a coded error (smart retries)", () => {
  async function failWith(code: "EHARNESS_SANDBOX" | "EHARNESS_GIT", title: string) {
    const config = parseConfig({});
    const client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
    const state = new StateDir(path.join(root, `state-${code}`));
    const owner = { agent: "agent-1", host: "host-a", runId: "run-1" };
    const log = silentLogger();
    const at = new Date("2026-12-01T12:00:00.000Z");
    const now = () => at;
    const issue = await github.createIssue(OWNER, REPO, { title, body: "anything", labels: ["harness:queued"], user: "ada" });
    const claimed = await claimIssue({ github: client, config, state, owner, log, now }, issue.number);
    if (!claimed.claimed) throw new Error(claimed.reason);
    const deps: WorkDeps = {
      ...workDeps(client, config, state, log),
      now,
      // The session never starts: what the sandbox (or another step) throws before the CLI runs.
      runSession: async () => {
        throw new HarnessError(code, { message: `scripted ${code}`, fix: "none needed" });
      },
    };
    const result = await workIssue(deps, claimed.claim);
    const head = await new LeaseStore(client, config.lease.refPrefix).read(issue.number);
    const labels = github.getIssue(OWNER, REPO, issue.number).labelNames;
    const comment = github.listComments(OWNER, REPO, issue.number).at(-1)?.body ?? "";
    return { result, record: head?.record, labels, comment, at };
  }

  it("requeues a sandbox that failed to start, with the backoff on the lease", async () => {
    const { result, record, labels, comment, at } = await failWith("EHARNESS_SANDBOX", "sandbox");
    expect(result).toMatchObject({ outcome: "error", label: "harness:queued" });
    expect(labels).toEqual(["harness:queued"]);
    expect(record).toMatchObject({ state: "released", attempt: 1, outcome: "error" });
    const wait = Date.parse(record?.notBefore ?? "") - at.getTime();
    expect(wait).toBeGreaterThanOrEqual(1.6 * 60_000);
    expect(wait).toBeLessThanOrEqual(2.4 * 60_000);
    expect(comment).toContain("EHARNESS_SANDBOX");
    expect(comment).toContain("Retrying automatically in ~2 min (attempt 2 of 3): the sandbox failed to start.");
  });

  it("retries a transient failure on schedule up to reclaim.maxAttempts, and not beyond", async () => {
    const config = parseConfig({});
    const client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
    const state = new StateDir(path.join(root, "state-cap"));
    const owner = { agent: "agent-1", host: "host-a", runId: "run-1" };
    const log = silentLogger();
    let clock = Date.parse("2026-12-02T12:00:00.000Z");
    const now = () => new Date(clock);
    const issue = await github.createIssue(OWNER, REPO, { title: "cap", body: "anything", labels: ["harness:queued"], user: "ada" });
    const leases = new LeaseStore(client, config.lease.refPrefix);
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      const claimed = await claimIssue({ github: client, config, state, owner, log, now }, issue.number);
      if (attempt === 4) {
        // After the last attempt the issue is failed, not queued: there is nothing to claim.
        expect(claimed.claimed).toBe(false);
        break;
      }
      if (!claimed.claimed) throw new Error(claimed.reason);
      expect(claimed.claim.lease.record.attempt).toBe(attempt);
      await workIssue(
        {
          ...workDeps(client, config, state, log),
          now,
          runSession: async () => {
            throw new HarnessError("EHARNESS_SANDBOX", { message: "scripted", fix: "none needed" });
          },
        },
        claimed.claim,
      );
      const record = (await leases.read(issue.number))?.record;
      if (record?.notBefore) {
        waits.push(Date.parse(record.notBefore) - clock);
        // Before the backoff ends nobody may claim it.
        clock = Date.parse(record.notBefore) - 1;
        expect((await claimIssue({ github: client, config, state, owner, log, now }, issue.number)).claimed).toBe(false);
        clock += 2;
      }
    }
    // Two automatic retries (after attempts 1 and 2: 2 and 8 minutes ±20 %), none after attempt 3.
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(1.6 * 60_000);
    expect(waits[0]).toBeLessThanOrEqual(2.4 * 60_000);
    expect(waits[1]).toBeGreaterThanOrEqual(6.4 * 60_000);
    expect(waits[1]).toBeLessThanOrEqual(9.6 * 60_000);
    expect(github.getIssue(OWNER, REPO, issue.number).labelNames).toEqual(["harness:failed"]);
    expect(github.listComments(OWNER, REPO, issue.number).at(-1)?.body).toContain(
      "Not retried automatically: the sandbox failed to start, and that was attempt 3 of 3; comment `/retry` to try again.",
    );
  });

  it("leaves another coded error for a person's /retry", async () => {
    const { result, record, labels, comment } = await failWith("EHARNESS_GIT", "git");
    expect(result).toMatchObject({ outcome: "error", label: "harness:failed" });
    expect(labels).toEqual(["harness:failed"]);
    expect(record).toMatchObject({ state: "released", notBefore: null });
    expect(comment).toContain("Not retried automatically: the attempt failed with EHARNESS_GIT; comment `/retry` to try again.");
    github.assertNoViolations();
  });
});

describe("workIssue, a pull request lookup that fails while publishing", () => {
  it("still pushes the branch, then fails the attempt with the work on the remote", async () => {
    const config = parseConfig({});
    const client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
    const state = new StateDir(path.join(root, "state-find-pull"));
    const owner = { agent: "agent-1", host: "host-a", runId: "run-1" };
    const log = silentLogger();
    const issue = await github.createIssue(OWNER, REPO, {
      title: "[scenario:write-and-finish] lookup",
      body: "write it",
      labels: ["harness:queued"],
      user: "ada",
    });
    const claimed = await claimIssue({ github: client, config, state, owner, log, now: () => new Date() }, issue.number);
    if (!claimed.claimed) throw new Error(claimed.reason);
    // Every lookup of the branch's open pull request fails (testOctokit does not retry).
    github.setFaults({ rate: 1, kinds: ["5xx"], seed: 1, match: (request) => request.operationId === "pulls/list" });
    let result;
    try {
      result = await workIssue(workDeps(client, config, state, log), claimed.claim);
    } finally {
      github.setFaults(null);
    }
    expect(result.outcome).toBe("error");
    // The session's commit is on the remote branch, not only on the host.
    const pushed = git("show", `refs/heads/harness/issue-${issue.number}:done.txt`);
    expect(pushed).toBe("done");
    expect((await github.listPulls(OWNER, REPO)).filter((pull) => pull.head.ref === `harness/issue-${issue.number}`)).toHaveLength(0);
  });
});
