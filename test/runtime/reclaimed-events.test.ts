import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { LeaseStore } from "../../src/adapters/github-lease.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { parseConfig } from "../../src/core/config.js";
import { defaultReclaimPolicy } from "../../src/core/reclaim.js";
import type { EventOf, LifecycleEvent } from "../../src/core/lifecycle-events.js";
import { reclaimerStep } from "../../src/runtime/reclaimer.js";
import { LeaseHandle } from "../../src/runtime/lease-handle.js";
import { EventBus } from "../../src/runtime/event-bus.js";
import { reclaimedEvent } from "../../src/runtime/reclaimed-event.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { testOctokit } from "../support/octokit.js";
import { QueueWorker } from "../../src/worker/queue-worker.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { createSandbox } from "../../src/adapters/sandbox/sandbox.js";
import { promptsDir } from "../../src/cli/paths.js";

const OWNER = "octo";
const REPO = "reclaimed";
const config = parseConfig({});
const term = config.lease.termMinutes * 60_000;
const t0 = new Date("2026-11-26T10:00:00.000Z");
let github: FakeGitHub;
let root: string;
let client: GitHubClient;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-reclaimed-"));
  github = await startFakeGitHub({ dir: root });
  await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
  client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
});

afterAll(async () => {
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

describe("the reclaimer's reclaimed events (fake GitHub)", () => {
  it("emits one reclaimed event per lease taken back, with the holder, the attempt and the action; none for a kept lease", async () => {
    const leases = new LeaseStore(client, config.lease.refPrefix);
    const stalled = (await github.createIssue(OWNER, REPO, { title: "stalled", labels: ["harness:running"], user: "ada" })).number;
    const alive = (await github.createIssue(OWNER, REPO, { title: "alive", labels: ["harness:running"], user: "ada" })).number;
    const late = new Date(t0.getTime() + term + defaultReclaimPolicy.graceMs + 1);
    expect((await leases.claim({ issue: stalled, owner: { agent: "agent-dead", host: "h", runId: "r" }, now: t0, termMs: term, sessionId: "s" })).ok).toBe(
      true,
    );
    expect((await leases.claim({ issue: alive, owner: { agent: "agent-alive", host: "h", runId: "r" }, now: late, termMs: term, sessionId: "s" })).ok).toBe(
      true,
    );

    const bus = new EventBus();
    const events: LifecycleEvent[] = [];
    bus.subscribe((e) => events.push(e));
    const runtime = { emit: (e: LifecycleEvent) => bus.emit(e) };
    const step = reclaimerStep({ log: silentLogger(), now: () => late, policy: defaultReclaimPolicy, onReclaimed: reclaimedEvent(runtime, () => late) });
    await step(client, config);

    expect(events).toEqual<EventOf<"reclaimed">[]>([
      {
        type: "reclaimed",
        issue: `${OWNER}/${REPO}#${stalled}`,
        agent: "agent-dead",
        at: late.toISOString(),
        reason: "lease_expired",
        action: "requeued",
        attempt: 1,
      },
    ]);
  });
});

describe("harness worker's reclaimer (fake GitHub)", () => {
  it("emits a reclaimed event on the worker's bus when its queue pass takes back a dead agent's lease", async () => {
    const leases = new LeaseStore(client, config.lease.refPrefix);
    const dead = (await github.createIssue(OWNER, REPO, { title: "dead worker", labels: ["harness:running"], user: "ada" })).number;
    expect((await leases.claim({ issue: dead, owner: { agent: "agent-gone", host: "h2", runId: "r" }, now: t0, termMs: term, sessionId: "s" })).ok).toBe(true);
    const late = new Date(t0.getTime() + term + defaultReclaimPolicy.graceMs + 1);
    const state = new StateDir(path.join(root, "worker-state"));
    const worker = new QueueWorker({
      agents: 1,
      repositories: [{ owner: OWNER, repo: REPO }],
      api: testOctokit({ baseUrl: github.apiUrl, token: github.token }),
      state,
      host: "host-w",
      runId: "run-w",
      // Never started: the only issue ends failed (its last attempt), so nothing is claimed.
      claude: {
        cliPath: "/nonexistent/claude",
        modelEnv: {},
        permissionMode: "dontAsk",
        sandbox: createSandbox("none"),
        forwarderPath: "/nonexistent/forwarder.mjs",
      },
      promptsDir: promptsDir(),
      gitUrl: () => github.gitUrl(OWNER, REPO),
      log: silentLogger(),
      now: () => late,
      once: true,
      maxIssues: null,
      pollMs: 10,
      jitterMs: 0,
      // The dead agent's attempt was the last one: the reclaimer marks the issue failed instead of requeueing it.
      reclaimPolicy: { ...defaultReclaimPolicy, maxAttempts: 1 },
      minFreeDiskMb: 0,
      sessionRetentionMs: 60_000,
    });
    const events: EventOf<"reclaimed">[] = [];
    worker.runtime.events.subscribe((e) => events.push(e as EventOf<"reclaimed">), ["reclaimed"]);
    const summary = await worker.run();

    expect(summary.claimed).toBe(0);
    expect(events).toEqual<EventOf<"reclaimed">[]>([
      {
        type: "reclaimed",
        issue: `${OWNER}/${REPO}#${dead}`,
        agent: "agent-gone",
        at: late.toISOString(),
        reason: "lease_expired",
        action: "failed",
        attempt: 1,
      },
    ]);
    expect(github.getIssue(OWNER, REPO, dead).labelNames).toContain("harness:failed");
  });
});

describe("the heartbeat's lease_renewal results (fake GitHub)", () => {
  it("reports renewed while the lease is ours, then lost once somebody else's head replaces it", async () => {
    const leases = new LeaseStore(client, config.lease.refPrefix);
    const n = (await github.createIssue(OWNER, REPO, { title: "renewed", labels: ["harness:running"], user: "ada" })).number;
    const owner = { agent: "agent-1", host: "h", runId: "r" };
    const now = new Date();
    const claimed = await leases.claim({ issue: n, owner, now, termMs: term, sessionId: "s" });
    if (!claimed.ok) throw new Error("claim failed");
    const results: string[] = [];
    let notify: () => void = () => undefined;
    const next = (): Promise<void> => new Promise<void>((resolve) => (notify = resolve));
    const lost = new Promise<string>((resolve) => {
      const handle = new LeaseHandle({
        leases,
        issue: n,
        owner,
        head: claimed.head,
        // A term of 0: every beat renews (renewMs is a third of the term).
        termMs: 0,
        livenessMs: 10,
        now: () => new Date(),
        beat: async () => undefined,
        onLost: (status) => {
          void handle.stop();
          resolve(status);
        },
        onRenewal: (result) => {
          results.push(result);
          notify();
        },
        log: silentLogger(),
      });
      handle.start();
    });
    await next();
    expect(results[0]).toBe("renewed");
    // The lease expired long ago for the reclaimer (its term was 0): it takes it back, so the next renewal finds a head not ours.
    const taken = await leases.reclaim(n, new Date(Date.now() + 60 * 60_000), { backoffMs: 0 });
    expect(taken.ok).toBe(true);
    expect(await lost).toBe("fenced");
    expect(results.at(-1)).toBe("lost");
    expect(results.slice(0, -1).every((r) => r === "renewed")).toBe(true);
  });
});
