import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/adapters/logger.js";
import { promptsDir } from "../../src/cli/paths.js";
import { parseLease, type LeaseRecord } from "../../src/core/lease.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { loadScenario, startModelServer, type ModelServer, type Scenario } from "../../src/offline/model-server.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import type { WorkResult } from "../../src/runtime/work-issue.js";
import { QueueWorker } from "../../src/worker/queue-worker.js";
import { testOctokit } from "../support/octokit.js";
import { sandboxedClaude } from "../support/sandboxed-claude.js";

/**
 * Smart retries end to end (issue #18): the real queue worker, the real CLI, the
 * scripted model and the fake GitHub, on a fake clock. A model that answers 529
 * overloaded is a transient failure: the issue goes back to the queue with a
 * backoff on its lease, no pass claims it before the backoff ends, and the first
 * pass after it works it again. A session that hits max turns is deterministic:
 * it waits for a person's /retry, however long the clock runs.
 */

const OWNER = "octo";
const REPO = "retries";
const MIN = 60_000;
let github: FakeGitHub;
let model: ModelServer;
let root: string;
/** The model server reads this list on every request: replacing an entry changes how the model answers. */
let scenarios: Scenario[];
/** The fake clock every part of the worker reads. */
let clock = Date.parse("2026-12-01T09:00:00.000Z");
const now = (): Date => new Date(clock);

function lease(issue: number): LeaseRecord {
  const message = execFileSync("git", ["--git-dir", github.repoPath(OWNER, REPO), "log", "-1", "--format=%B", `refs/harness/leases/issue-${issue}`], {
    encoding: "utf8",
  });
  return parseLease(message);
}

const labels = (issue: number): string[] => github.getIssue(OWNER, REPO, issue).labelNames.filter((l) => l.startsWith("harness:"));
const lastComment = (issue: number): string => github.listComments(OWNER, REPO, issue).at(-1)?.body ?? "";
const turnsOf = (scenario: string): number => model.requests.filter((r) => r.kind === "turn" && r.scenario === scenario).length;

/** One `harness worker --once` on the fake clock: claims what the queue offers now, works it, stops when nothing is left. */
async function workerPass(): Promise<WorkResult[]> {
  const worker = new QueueWorker({
    agents: 1,
    repositories: [{ owner: OWNER, repo: REPO }],
    api: testOctokit({ baseUrl: github.apiUrl, token: github.token }),
    state: new StateDir(path.join(root, "state")),
    host: "host-a",
    runId: "run-1",
    claude: sandboxedClaude(model.url),
    promptsDir: promptsDir(),
    gitUrl: () => github.gitUrl(OWNER, REPO),
    log: silentLogger(),
    now,
    once: true,
    maxIssues: null,
    pollMs: 10,
    jitterMs: 0,
    minFreeDiskMb: 0,
    sessionRetentionMs: 24 * 60 * MIN,
  });
  return (await worker.run()).results;
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-retries-"));
  scenarios = await Promise.all(["overloaded.yaml", "many-turns.yaml"].map((f) => loadScenario(path.resolve("test/fixtures/scenarios", f))));
  model = await startModelServer({ scenarios });
  github = await startFakeGitHub({ dir: path.join(root, "github") });
  // Three turns: many-turns.yaml needs six, so that session ends as max_turns.
  await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n", ".github/harness.yml": "maxTurns: 3\n" } });
});

afterAll(async () => {
  await model?.close();
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

describe("smart retries, with the real CLI and the scripted model", () => {
  it("requeues a 529 overloaded session with a backoff and works it again after it; leaves a max-turns session for /retry", async () => {
    const overloaded = await github.createIssue(OWNER, REPO, {
      title: "Busy model",
      body: "Add a file. [scenario:overloaded]",
      labels: ["harness:queued"],
      user: "ada",
    });
    const maxTurns = await github.createIssue(OWNER, REPO, {
      title: "Too long",
      body: "Do five steps. [scenario:many-turns]",
      labels: ["harness:queued"],
      user: "ada",
    });

    // First pass: both issues are worked once.
    const first = await workerPass();
    expect(first.map((r) => [r.issue, r.outcome]).sort()).toEqual(
      [
        [overloaded.number, "api_error"],
        [maxTurns.number, "max_turns"],
      ].sort(),
    );
    const releasedAt = clock;

    // The overloaded one: back in the queue, its lease holding every host off for 2 min ±20 %.
    const backingOff = lease(overloaded.number);
    expect(backingOff).toMatchObject({ state: "released", attempt: 1, outcome: "api_error" });
    const wait = Date.parse(backingOff.notBefore ?? "") - releasedAt;
    expect(wait).toBeGreaterThanOrEqual(1.6 * MIN);
    expect(wait).toBeLessThanOrEqual(2.4 * MIN);
    expect(labels(overloaded.number)).toEqual(["harness:queued"]);
    expect(lastComment(overloaded.number)).toContain("Retrying automatically in ~2 min (attempt 2 of 3): the model API was overloaded (HTTP 529).");

    // The max-turns one: failed, not requeued, and the comment says why and what to do.
    expect(lease(maxTurns.number)).toMatchObject({ state: "released", attempt: 1, outcome: "max_turns", notBefore: null });
    expect(labels(maxTurns.number)).toEqual(["harness:failed"]);
    expect(lastComment(maxTurns.number)).toContain("Not retried automatically: the session hit max turns; comment `/retry` to try again.");

    // The model API recovers (the same issue now gets a working session).
    const recovered: Scenario = {
      name: "recovered",
      match: "[scenario:overloaded]",
      turns: [{ toolCalls: [{ name: "Write", input: { file_path: "{{cwd}}/done.txt", content: "done\n" } }] }, { text: "Wrote done.txt." }],
    };
    scenarios[0] = recovered;
    const maxTurnsRequests = turnsOf("many-turns");

    // Before the backoff ends, a pass claims nothing.
    clock = Date.parse(backingOff.notBefore ?? "") - 1_000;
    expect(await workerPass()).toEqual([]);
    expect(lease(overloaded.number).attempt).toBe(1);

    // After it, the first pass works it again: attempt 2, a success.
    clock = Date.parse(backingOff.notBefore ?? "") + 1;
    const second = await workerPass();
    expect(second.map((r) => [r.issue, r.outcome])).toEqual([[overloaded.number, "success"]]);
    expect(lease(overloaded.number)).toMatchObject({ state: "released", attempt: 2, outcome: "success" });
    expect(labels(overloaded.number)).toEqual(["harness:done"]);
    expect(turnsOf("recovered")).toBeGreaterThan(0);

    // The max-turns issue is never worked again without a person, however late it gets.
    clock += 24 * 60 * MIN;
    expect(await workerPass()).toEqual([]);
    expect(turnsOf("many-turns")).toBe(maxTurnsRequests);
    expect(lease(maxTurns.number).attempt).toBe(1);
    github.assertNoViolations();
  }, 180_000);
});
