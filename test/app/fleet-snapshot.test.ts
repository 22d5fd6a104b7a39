import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { IssueIntake } from "../../src/app/issue-intake.js";
import { startReconciler } from "../../src/app/reconciler.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { serializeLease, type LeaseRecord } from "../../src/core/lease.js";
import type { FleetSnapshot } from "../../src/core/fleet.js";
import { AgentPool } from "../../src/runtime/agent-pool.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { testOctokit } from "../support/octokit.js";

const OWNER = "octo-org";
const REPO = "fleet";
const log = silentLogger();

describe("the reconciler's fleet snapshot (fake GitHub)", () => {
  let github: FakeGitHub;
  let tester: ReturnType<typeof testOctokit>;
  let failing = false;
  const probot = {
    auth: async (): Promise<unknown> => {
      if (failing) throw new Error("GitHub is unreachable");
      return tester;
    },
  };

  beforeAll(async () => {
    github = await startFakeGitHub();
    tester = testOctokit({ baseUrl: github.apiUrl, token: github.token });
    await github.createRepo({ owner: OWNER, name: REPO, collaborators: { ada: "write" }, files: { "README.md": "# fleet\n" } });
  });
  afterAll(async () => {
    await github?.close();
  });

  async function writeLease(record: LeaseRecord): Promise<void> {
    const { data: commit } = await tester.rest.git.createCommit({
      owner: OWNER,
      repo: REPO,
      message: serializeLease(record),
      tree: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
      parents: [],
    });
    await tester.rest.git.createRef({ owner: OWNER, repo: REPO, ref: `refs/harness/leases/issue-${record.issue}`, sha: commit.sha });
  }

  it("lists every harness state with priorities and lease heads, costs 304s when unchanged, keeps the last good read on a failure", async () => {
    const make = async (title: string, labels: string[]): Promise<number> => (await github.createIssue(OWNER, REPO, { title, labels, user: "ada" })).number;
    const queuedHigh = await make("queued high", ["harness:queued", "priority:high"]);
    const running = await make("running", ["harness:running"]);
    const failed = await make("failed", ["harness:failed", "priority:low"]);
    const done = await make("done", ["harness:done"]);
    await make("not ours", ["bug"]);
    const until = new Date(Date.now() + 10 * 60_000).toISOString();
    await writeLease({
      issue: running,
      state: "claimed",
      owner: { agent: "agent-1", host: "h", runId: "r" },
      epoch: 1,
      attempt: 1,
      leaseUntil: until,
      notBefore: null,
      sessionId: "s",
    } as LeaseRecord);

    const pool = new AgentPool({ agents: 1, log });
    // The intake's jobs never run anything here: the pool only records the queued issue.
    const intake = new IssueIntake({ pool, log, job: async () => undefined });
    const reconciler = startReconciler({ probot, intake, repositories: [`${OWNER}/${REPO}`], minutes: 60, log });
    const seen: FleetSnapshot[] = [];
    const off = reconciler.onSnapshot((s) => seen.push(s));
    try {
      expect(reconciler.snapshot().issues).toEqual([]);
      expect(reconciler.lastPass()).toBeNull();

      const first = await reconciler.runOnce();
      expect(first.repositories[0]?.skipped).toBeUndefined();
      const snap = reconciler.snapshot();
      expect(seen).toHaveLength(1);
      expect(seen[0]).toBe(snap);
      const byNumber = new Map(snap.issues.map((i) => [i.number, i]));
      expect(snap.issues).toHaveLength(4);
      expect(byNumber.get(queuedHigh)).toMatchObject({ state: "queued", priority: "high", repository: `${OWNER}/${REPO}`, title: "queued high" });
      expect(byNumber.get(running)).toMatchObject({ state: "running", priority: "none" });
      expect(byNumber.get(running)?.lease).toMatchObject({ state: "claimed", leaseUntil: until, owner: { agent: "agent-1" } });
      expect(byNumber.get(failed)).toMatchObject({ state: "failed", priority: "low", lease: null });
      expect(byNumber.get(done)).toMatchObject({ state: "done" });
      expect(byNumber.get(done)?.url).toMatch(new RegExp(`/${OWNER}/${REPO}/issues/${done}$`));
      expect(snap.repositories).toEqual([{ repository: `${OWNER}/${REPO}`, readAt: expect.any(String), error: null }]);
      expect(reconciler.lastPass()).toMatchObject({ reachedGitHub: true, lastSuccessAt: expect.any(String) });

      // Nothing changed: every listing is answered 304.
      const second = await reconciler.runOnce();
      expect(second.fresh).toBe(0);
      expect(second.notModified).toBeGreaterThan(0);
      expect(reconciler.snapshot().issues).toHaveLength(4);

      // GitHub unreachable: the last good read stays, the pass says so.
      const lastSuccessAt = reconciler.lastPass()?.lastSuccessAt;
      failing = true;
      await reconciler.runOnce();
      expect(reconciler.lastPass()).toMatchObject({ reachedGitHub: false, lastSuccessAt });
      expect(
        reconciler
          .snapshot()
          .issues.map((i) => i.number)
          .sort(),
      ).toEqual([queuedHigh, running, failed, done].sort());
    } finally {
      failing = false;
      off();
      await reconciler.stop();
    }
  });

  it("queuedAt: the queued label's time for the issues that can be the oldest queued, found in order of opening", async () => {
    const other = "queued-at";
    await github.createRepo({ owner: OWNER, name: other, collaborators: { ada: "write" }, files: { "README.md": "# q\n" } });
    const now = Date.now();
    const hours = (h: number): number => now - h * 3_600_000;
    // Only Date is faked: the fake GitHub stamps issues and label events with it, the servers run as usual.
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const open = async (title: string, at: number): Promise<number> => {
        vi.setSystemTime(at);
        return (await github.createIssue(OWNER, other, { title, user: "ada" })).number;
      };
      const queue = async (number: number, at: number): Promise<void> => {
        vi.setSystemTime(at);
        await github.addLabel(OWNER, other, number, "harness:queued", { sender: "ada" });
      };
      const a = await open("opened 5 h ago, queued 1 h ago", hours(5));
      const b = await open("opened 4 h ago, queued then", hours(4));
      await queue(b, hours(4));
      const c = await open("opened 2 h ago, queued then", hours(2));
      await queue(c, hours(2));
      await queue(a, hours(1));
      vi.setSystemTime(now);
    } finally {
      vi.useRealTimers();
    }
    const pool = new AgentPool({ agents: 1, log });
    const intake = new IssueIntake({ pool, log, job: async () => undefined });
    const reconciler = startReconciler({ probot, intake, repositories: [`${OWNER}/${other}`], minutes: 60, log });
    try {
      await reconciler.runOnce();
      const queuedAt = Object.fromEntries(reconciler.snapshot().issues.map((i) => [i.title, i.queuedAt]));
      expect(queuedAt).toEqual({
        "opened 5 h ago, queued 1 h ago": new Date(hours(1)).toISOString(),
        "opened 4 h ago, queued then": new Date(hours(4)).toISOString(),
        // Opened after the oldest label time found (4 h ago): it cannot be the oldest, so it is not read.
        "opened 2 h ago, queued then": null,
      });
    } finally {
      await reconciler.stop();
    }
  });

  it("a repository whose read fails keeps its issues, with the error set", async () => {
    const pool = new AgentPool({ agents: 1, log });
    const intake = new IssueIntake({ pool, log, job: async () => undefined });
    const reconciler = startReconciler({ probot, intake, repositories: [`${OWNER}/${REPO}`], minutes: 60, log });
    try {
      await reconciler.runOnce();
      const before = reconciler.snapshot().issues.length;
      expect(before).toBeGreaterThan(0);
      // Every request to the repository answers 500 (the harness's own retries are off here).
      github.setFaults({ rate: 1, kinds: ["5xx"], seed: 1, match: (r) => r.path.startsWith(`/repos/${OWNER}/${REPO}/issues`) });
      try {
        await reconciler.runOnce();
      } finally {
        github.setFaults(null);
      }
      const after = reconciler.snapshot();
      expect(after.issues).toHaveLength(before);
      expect(after.repositories[0]?.error).toEqual(expect.any(String));
      expect(reconciler.lastPass()?.reachedGitHub).toBe(false);
    } finally {
      await reconciler.stop();
    }
  });
});
