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
import { reclaimRepository } from "../../src/runtime/reclaimer.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { testOctokit } from "../support/octokit.js";

const OWNER = "octo";
const REPO = "reclaim";
let github: FakeGitHub;
let root: string;
let client: GitHubClient;
const config = parseConfig({});
const t0 = new Date("2026-11-26T10:00:00.000Z");
const term = config.lease.termMinutes * 60_000;
const dead = { agent: "agent-dead", host: "host-x", runId: "run-x" };

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-reclaim-"));
  github = await startFakeGitHub({ dir: root });
  await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
  client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
});

afterAll(async () => {
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

async function runningIssue(): Promise<number> {
  const issue = await github.createIssue(OWNER, REPO, { title: "t", body: "b", labels: ["harness:running", "bug"], user: "ada" });
  return issue.number;
}

function reclaim(now: Date) {
  return reclaimRepository({
    github: client,
    config,
    policy: defaultReclaimPolicy,
    cache: new EtagCache(),
    log: silentLogger(),
    now: () => now,
    random: () => 0,
  });
}

function labels(n: number): string[] {
  return github.getIssue(OWNER, REPO, n).labels.map((l) => l.name);
}

describe("reclaimRepository", () => {
  it("keeps a lease within its term plus grace, and requeues one that a dead agent stopped renewing", async () => {
    const leases = new LeaseStore(client, config.lease.refPrefix);
    const n = await runningIssue();
    const claimed = await leases.claim({ issue: n, owner: dead, now: t0, termMs: term, sessionId: "s-1" });
    expect(claimed.ok).toBe(true);

    const early = await reclaim(new Date(t0.getTime() + term + defaultReclaimPolicy.graceMs));
    expect(early.find((r) => r.issue === n)?.action).toBe("kept");
    expect(labels(n)).toContain("harness:running");

    const late = new Date(t0.getTime() + term + defaultReclaimPolicy.graceMs + 1);
    const results = await reclaim(late);
    expect(results.find((r) => r.issue === n)).toMatchObject({ action: "requeued" });
    const head = await leases.read(n);
    expect(head?.record).toMatchObject({ state: "reclaimed", outcome: "stalled", notBefore: new Date(late.getTime() + 96_000).toISOString() });
    expect(labels(n).sort()).toEqual(["bug", "harness:queued"]);
    const comment = github.listComments(OWNER, REPO, n).at(-1)?.body ?? "";
    expect(comment).toContain("Reclaimed");
    expect(comment).toContain("agent-dead@host-x");
    expect(comment).toContain("attempt 1 of 3");
    // A lost runner is a transient failure: the comment says it is retried, when, and why.
    expect(comment).toContain("Retrying automatically in ~2 min (attempt 2 of 3): the agent's runner was lost");

    // A second pass changes nothing: the lease is no longer a claim.
    expect((await reclaim(new Date(late.getTime() + 60_000))).find((r) => r.issue === n)?.action).toBe("kept");
    expect(github.listComments(OWNER, REPO, n)).toHaveLength(1);
  });

  it("marks the issue failed after the last attempt, listing every attempt", async () => {
    const leases = new LeaseStore(client, config.lease.refPrefix);
    const n = await runningIssue();
    let now = t0;
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const claimed = await leases.claim({ issue: n, owner: { ...dead, agent: `agent-${attempt}` }, now, termMs: term, sessionId: null });
      expect(claimed.ok).toBe(true);
      now = new Date(now.getTime() + term + defaultReclaimPolicy.graceMs + 1);
      const [result] = (await reclaim(now)).filter((r) => r.issue === n);
      expect(result?.action).toBe(attempt < 3 ? "requeued" : "failed");
      now = new Date(now.getTime() + defaultReclaimPolicy.backoffMaxMs);
    }
    expect(labels(n).sort()).toEqual(["bug", "harness:failed"]);
    const last = github.listComments(OWNER, REPO, n).at(-1)?.body ?? "";
    expect(last).toContain("last attempt");
    expect(last).toContain("| 1 | `agent-1@host-x` | stalled |");
    expect(last).toContain("| 3 | `agent-3@host-x` | stalled |");
    github.assertNoViolations();
  });
});
