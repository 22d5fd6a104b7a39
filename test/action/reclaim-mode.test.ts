import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main, type ActionSettings } from "../../src/action/main.js";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { LeaseStore } from "../../src/adapters/github-lease.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { parseConfig } from "../../src/core/config.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { testOctokit } from "../support/octokit.js";
import { fakeCore } from "./fake-core.js";
import { createSandbox } from "../../src/adapters/sandbox/sandbox.js";

/**
 * Mode reclaim through main(), against the stateful fake GitHub: leases written
 * by the real LeaseStore with a claim time long past (as in the reclaimer's and
 * `harness reclaim`'s tests), the Action's real reclaim pass over them.
 */
const OWNER = "octo-org";
const { refPrefix } = parseConfig({}).lease;
const dead = { agent: "agent-dead", host: "host-x", runId: "run-x" };
const DAY = 24 * 3600_000;

let github: FakeGitHub;
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-action-reclaim-"));
  github = await startFakeGitHub({ dir: root });
  await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: "widgets", files: { "README.md": "x\n" } });
  // One attempt only: the first stalled lease is the last one.
  await github.createRepo({
    collaborators: { ada: "write" },
    owner: OWNER,
    name: "once",
    files: { "README.md": "x\n", ".github/harness.yml": "reclaim:\n  maxAttempts: 1\n" },
  });
});

afterAll(async () => {
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

function settings(repo: string, overrides: Partial<ActionSettings> = {}): ActionSettings {
  return {
    mode: "reclaim",
    issue: null,
    githubToken: github.token,
    apiUrl: github.apiUrl,
    repository: { owner: OWNER, repo },
    claudePath: null,
    modelEnv: {},
    sandbox: createSandbox("none"),
    forwarderPath: path.join(root, "no-forwarder"),
    stateDir: path.join(root, "state-never-used"),
    maxIssues: 10,
    agentId: "reclaimer",
    host: "host-a",
    runId: "1-1",
    promptsDir: path.join(root, "no-prompts"),
    permissionMode: "dontAsk",
    progressIntervalMs: 60_000,
    sessionRetentionMs: 7 * 24 * 60 * 60_000,
    ...overrides,
  };
}

async function runReclaim(repo: string, overrides: Partial<ActionSettings> = {}) {
  const core = fakeCore();
  await main({ core, now: () => new Date(), log: silentLogger(), createApi: (token, baseUrl) => testOctokit({ token, baseUrl }) }, settings(repo, overrides));
  return core;
}

function leases(repo: string): LeaseStore {
  return new LeaseStore(new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo }), refPrefix);
}

/** An issue labeled running whose lease was claimed `ago` milliseconds ago with a one-minute term. */
async function runningIssue(repo: string, ago: number, owner = dead): Promise<number> {
  const issue = await github.createIssue(OWNER, repo, { title: "t", body: "b", labels: ["harness:running", "bug"], user: "ada" });
  const claimed = await leases(repo).claim({ issue: issue.number, owner, now: new Date(Date.now() - ago), termMs: 60_000, sessionId: null });
  expect(claimed.ok).toBe(true);
  return issue.number;
}

function labels(repo: string, issue: number): string[] {
  return github
    .getIssue(OWNER, repo, issue)
    .labels.map((l) => l.name)
    .sort();
}

describe("mode reclaim", () => {
  it("takes back an expired lease, requeues its issue, leaves a live lease alone; outputs and summary say so", async () => {
    const stalled = await runningIssue("widgets", DAY);
    const live = await runningIssue("widgets", 0, { agent: "agent-live", host: "host-y", runId: "run-y" });
    const before = await leases("widgets").read(stalled);

    const core = await runReclaim("widgets");

    expect(core.failed).toEqual([]);
    expect(core.outputs).toEqual({ outcome: "reclaimed", reclaimed: String(stalled), "pr-number": "", "cost-usd": "", "session-id": "" });
    expect(core.notices).toEqual([`Took back 1 stalled lease in ${OWNER}/widgets: #${stalled} requeued.`]);

    // The lease is reclaimed with a backoff, the issue is queued again and says why.
    const after = await leases("widgets").read(stalled);
    expect(after?.record).toMatchObject({ state: "reclaimed", outcome: "stalled" });
    const notBefore = after!.record.notBefore!;
    expect(Date.parse(notBefore)).toBeGreaterThan(Date.now() - 60_000);
    expect(labels("widgets", stalled)).toEqual(["bug", "harness:queued"]);
    expect(github.listComments(OWNER, "widgets", stalled).at(-1)?.body).toContain("agent-dead@host-x");
    expect((await leases("widgets").read(live))?.record.state).toBe("claimed");
    expect(labels("widgets", live)).toEqual(["bug", "harness:running"]);

    // The job summary: one row per lease taken back.
    expect(core.written).toBe(1);
    expect(core.tables).toEqual([
      [
        ["Issue", "Previous holder", "Renewed until", "What happened"].map((data) => ({ data, header: true })),
        [
          `${OWNER}/widgets#${stalled}`,
          "agent-dead@host-x (run run-x)",
          before!.record.leaseUntil,
          `requeued after attempt 1 of 3, claimable again from ${notBefore}`,
        ],
      ],
    ]);
    github.assertNoViolations();
  });

  it("a pass with every lease live: outcome none, no table, a line that says so", async () => {
    const core = await runReclaim("widgets");
    expect(core.failed).toEqual([]);
    expect(core.outputs).toMatchObject({ outcome: "none", reclaimed: "" });
    expect(core.notices).toEqual([]);
    expect(core.tables).toEqual([]);
    expect(core.text.join("\n")).toMatch(
      /Every lease was live or already free: none in octo-org\/widgets had run out \(term plus grace\), so nothing was taken back \(2 leases checked\)\./,
    );
  });

  it("after the last attempt the issue is marked failed", async () => {
    const issue = await runningIssue("once", DAY);
    const core = await runReclaim("once");
    expect(core.outputs).toMatchObject({ outcome: "reclaimed", reclaimed: String(issue) });
    expect(labels("once", issue)).toEqual(["bug", "harness:failed"]);
    expect(core.tables[0]?.[1]).toEqual([
      `${OWNER}/once#${issue}`,
      "agent-dead@host-x (run run-x)",
      expect.any(String),
      "failed after attempt 1 of 1 (the last)",
    ]);
    expect(core.notices).toEqual([`Took back 1 stalled lease in ${OWNER}/once: #${issue} failed.`]);
  });

  it("a pass that cannot run fails the step with a coded error and a fix; outcome error", async () => {
    const core = await runReclaim("widgets", { githubToken: "ghs_not_a_token" });
    expect(core.outputs).toMatchObject({ outcome: "error", reclaimed: "" });
    expect(core.failed).toHaveLength(1);
    expect(core.failed[0]).toMatch(
      /^EHARNESS_GITHUB: Bad credentials.* Fix: Pass `github-token: \$\{\{ secrets\.GITHUB_TOKEN \}\}` and give the job `permissions: contents: write`/,
    );
    expect(core.text.join("\n")).toContain("The reclaimer did not finish its pass over octo-org/widgets.");
    expect(core.written).toBe(1);
  });
});
