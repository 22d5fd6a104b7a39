import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { LeaseStore } from "../../src/adapters/github-lease.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { parseConfig } from "../../src/core/config.js";
import { EtagCache } from "../../src/core/etag-cache.js";
import { defaultReclaimPolicy } from "../../src/core/reclaim.js";
import { mapConcurrent, readRepositoryQueue } from "../../src/runtime/read-queue.js";
import { reclaimRepository } from "../../src/runtime/reclaimer.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { testOctokit } from "../support/octokit.js";

const OWNER = "octo";
const REPO = "queue-read";
let github: FakeGitHub;
let root: string;
let client: GitHubClient;
const config = parseConfig({});
const now = new Date("2026-11-26T10:00:00.000Z");
const owner = { agent: "agent-1", host: "host-1", runId: "run-1" };

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-read-queue-"));
  github = await startFakeGitHub({ dir: root });
  await github.createRepo({ owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
  client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
});

afterAll(async () => {
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

function listings(since: number): number {
  return github.requestLog.slice(since).filter((r) => r.operationId === "git/list-matching-refs").length;
}

describe("mapConcurrent", () => {
  it("keeps the items' order and never runs more than the limit at once", async () => {
    let running = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const done = mapConcurrent([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => releases.push(resolve));
      running -= 1;
      return n * 10;
    });
    // Release whatever is waiting, newest first, until all seven have run.
    for (let released = 0; released < 7; released += 1) {
      while (releases.length === 0) await new Promise((resolve) => setImmediate(resolve));
      releases.pop()?.();
    }
    expect(await done).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(most).toBe(3);
  });

  it("rejects with the first failure", async () => {
    await expect(mapConcurrent([1, 2], 2, (n) => (n === 2 ? Promise.reject(new Error("two")) : Promise.resolve(n)))).rejects.toThrow("two");
  });
});

describe("readRepositoryQueue", () => {
  it("plans on the lease heads it is given (the reclaimer's listing) without listing the refs again", async () => {
    const leases = new LeaseStore(client, config.lease.refPrefix);
    const held = await github.createIssue(OWNER, REPO, { title: "held", body: "b", labels: [config.labels.queued] });
    const free = await github.createIssue(OWNER, REPO, { title: "free", body: "b", labels: [config.labels.queued] });
    expect((await leases.claim({ issue: held.number, owner, now, termMs: 60 * 60_000, sessionId: "s-1" })).ok).toBe(true);
    const cache = new EtagCache();
    const log = silentLogger();

    const before = github.requestLog.length;
    const heads = await client.listRefHeads(config.lease.refPrefix, cache);
    const results = await reclaimRepository({ github: client, config, policy: defaultReclaimPolicy, cache, log, now: () => now, heads });
    expect(results).toEqual([{ issue: held.number, action: "kept", reason: expect.any(String) as string }]);
    const plan = await readRepositoryQueue({ github: client, config, cache, now, log, leaseHeads: Promise.resolve(heads) });
    expect(listings(before)).toBe(1);
    expect(plan.ready.map((r) => r.issue)).toEqual([free.number]);
    expect(plan.waiting.map((w) => w.issue)).toEqual([held.number]);

    // Without a listing given, it lists the refs itself.
    const alone = github.requestLog.length;
    const again = await readRepositoryQueue({ github: client, config, cache, now, log });
    expect(listings(alone)).toBe(1);
    expect(again.ready.map((r) => r.issue)).toEqual([free.number]);
  });
});

describe("readRepositoryQueue: aging", () => {
  it("reads when the queued label was last added only for issues old enough to age and not high, and ages them one class", async () => {
    await github.createRepo({ owner: OWNER, name: "aging", collaborators: { ada: "write" }, files: { "README.md": "x\n" } });
    const aging = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: "aging" });
    const low = await github.createIssue(OWNER, "aging", { title: "low", labels: ["priority:low"], user: "ada" });
    await github.addLabel(OWNER, "aging", low.number, "harness:queued", { sender: "ada" });
    // Taken off and put back: the newest `labeled` event is the one that counts.
    await github.removeLabel(OWNER, "aging", low.number, "harness:queued", { sender: "ada" });
    await github.addLabel(OWNER, "aging", low.number, "harness:queued", { sender: "ada" });
    const high = await github.createIssue(OWNER, "aging", { title: "high", labels: ["harness:queued", "priority:high"], user: "ada" });
    const events = await aging.labelEvents(low.number);
    const lastAdded = events.filter((e) => e.event === "labeled" && e.label === "harness:queued").at(-1)?.at ?? "";
    expect(await aging.labelAddedAt(low.number, "harness:queued", new EtagCache())).toBe(lastAdded);

    // Where the label's time was not read (too young to age, or high), the wait is measured from creation.
    const createdAt = async (n: number): Promise<string> => (await aging.issueWithId(n))?.createdAt ?? "";
    const lowCreated = await createdAt(low.number);
    const highCreated = await createdAt(high.number);

    const cache = new EtagCache();
    const read = async (at: Date) => {
      const from = github.requestLog.length;
      const plan = await readRepositoryQueue({ github: aging, config, cache, now: at, log: silentLogger() });
      return { plan, events: github.requestLog.slice(from).filter((r) => r.operationId === "issues/list-events") };
    };
    // A day after: nothing can have aged, so no issue's events are read.
    const young = await read(new Date(Date.parse(lastAdded) + 24 * 3_600_000));
    expect(young.events).toEqual([]);
    expect(young.plan.ready).toEqual([
      { issue: high.number, priority: "high", waitingSince: highCreated },
      { issue: low.number, priority: "low", waitingSince: lowCreated },
    ]);
    // Fifty hours after: the low issue's events are read (not the high one's) and it moves up to medium, once.
    const old = await read(new Date(Date.parse(lastAdded) + 50 * 3_600_000));
    expect(old.events.map((r) => r.issueNumber)).toEqual([low.number]);
    expect(old.plan.ready).toEqual([
      { issue: high.number, priority: "high", waitingSince: highCreated },
      { issue: low.number, priority: "medium", agedFrom: "low", waitingSince: lastAdded },
    ]);
    // Unchanged events cost a 304 the next time.
    const again = await read(new Date(Date.parse(lastAdded) + 500 * 3_600_000));
    expect(again.events.map((r) => r.status)).toEqual([304]);
    expect(again.plan.ready.find((e) => e.issue === low.number)).toEqual({ issue: low.number, priority: "medium", agedFrom: "low", waitingSince: lastAdded });
    github.assertNoViolations();
  });
});
