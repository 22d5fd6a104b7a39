import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runClaude, type RunClaudeOptions } from "../../src/adapters/claude/run-claude.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { promptsDir } from "../../src/cli/paths.js";
import { parseLedger } from "../../src/core/daily-budget.js";
import { parseLease, type LeaseRecord } from "../../src/core/lease.js";
import type { LifecycleEvent } from "../../src/core/lifecycle-events.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { startModelServer, type ModelServer, type Scenario } from "../../src/offline/model-server.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import type { WorkResult } from "../../src/runtime/work-issue.js";
import { QueueWorker } from "../../src/worker/queue-worker.js";
import { testOctokit } from "../support/octokit.js";
import { sandboxedClaude } from "../support/sandboxed-claude.js";

/**
 * Sessions in flight count against the daily cap (issue #18 item 5): two agents of the real
 * queue worker claim two queued issues in the same pass; the repository's cap ($3) fits one
 * session's `--max-budget-usd` ($3) but not two. The first reserves its $3 on
 * refs/harness/budget/ledger and runs (held in its session until the second has decided);
 * the second sees the reservation, its lease held, and waits (`budget_wait`) ten minutes,
 * not until midnight. When the first has ended (its record replaced the reservation, its lease
 * released), the next pass works the second with what is left.
 */

const OWNER = "octo";
const REPO = "reserve";
const CONFIG = "maxBudgetUsd: 3\nbudget:\n  dailyUsd: 3\n";
let github: FakeGitHub;
let model: ModelServer;
let root: string;
let clock = Date.parse("2026-12-03T10:00:00.000Z");
const now = (): Date => new Date(clock);

const scenario: Scenario = {
  name: "reserve-work",
  match: "[scenario:reserve-work]",
  turns: [{ toolCalls: [{ name: "Write", input: { file_path: "{{cwd}}/done.txt", content: "done\n" } }] }, { text: "Wrote done.txt." }],
};

const git = (...args: string[]): string => execFileSync("git", ["--git-dir", github.repoPath(OWNER, REPO), ...args], { encoding: "utf8" });
const lease = (issue: number): LeaseRecord => parseLease(git("log", "-1", "--format=%B", `refs/harness/leases/issue-${issue}`));

const claude = () => sandboxedClaude(model.url);

async function workerPass(
  runSession?: (options: RunClaudeOptions) => ReturnType<typeof runClaude>,
  onEvent?: (event: LifecycleEvent) => void,
): Promise<{ results: WorkResult[]; events: LifecycleEvent[] }> {
  const events: LifecycleEvent[] = [];
  const worker = new QueueWorker({
    agents: 2,
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
    ...(runSession ? { runSession } : {}),
  });
  const off = worker.runtime.events.subscribe((e) => {
    events.push(e);
    onEvent?.(e);
  });
  try {
    return { results: (await worker.run()).results, events };
  } finally {
    off();
  }
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-reserve-"));
  model = await startModelServer({ scenarios: [scenario] });
  github = await startFakeGitHub({ dir: path.join(root, "github") });
  await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n", ".github/harness.yml": CONFIG } });
});

afterAll(async () => {
  await model?.close();
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

describe("daily budget reservations, two agents in parallel with the real CLI", () => {
  it("runs one session of two when the cap fits one bound, the other waits for the reservation, then runs", async () => {
    const a = await github.createIssue(OWNER, REPO, { title: "One", body: "Add a file. [scenario:reserve-work]", labels: ["harness:queued"], user: "ada" });
    const b = await github.createIssue(OWNER, REPO, { title: "Two", body: "Add a file. [scenario:reserve-work]", labels: ["harness:queued"], user: "ada" });

    // A session is held until the other agent has decided: a budget_wait, or a second session (the cap overrun).
    let release!: () => void;
    const decided = new Promise<void>((resolve) => (release = resolve));
    const asked: number[] = [];
    const events: LifecycleEvent[] = [];
    const runSession = async (options: RunClaudeOptions): ReturnType<typeof runClaude> => {
      asked.push(options.maxBudgetUsd ?? -1);
      if (asked.length >= 2) release();
      await decided;
      return runClaude(options);
    };
    const pass = await workerPass(runSession, (e) => {
      if (e.type === "budget_wait") release();
    });
    events.push(...pass.events);

    expect(pass.results.map((r) => r.issue).sort((x, y) => x - y)).toEqual([a.number, b.number]);
    const outcomes = pass.results.map((r) => r.outcome).sort();
    expect(outcomes).toEqual(["success", "waiting"]);
    expect(asked).toEqual([3]);
    const waited = pass.results.find((r) => r.outcome === "waiting")!;
    const worked = pass.results.find((r) => r.outcome === "success")!;
    expect(waited.budgetWait).toEqual({ kind: "wait", scope: "repository", capUsd: 3, spentUsd: 0, reservedUsd: 3, until: "2026-12-03T10:10:00.000Z" });
    expect(events.find((e) => e.type === "budget_wait")).toMatchObject({ issue: `${OWNER}/${REPO}#${waited.issue}`, reservedUsd: 3, spentUsd: 0 });
    const comment = github.listComments(OWNER, REPO, waited.issue).at(-1)?.body ?? "";
    expect(comment).toContain("daily budget reached ($3.00 ($3.00 reserved by sessions in flight) of $3.00, repository), waits until 2026-12-03T10:10:00.000Z");
    expect(lease(waited.issue)).toMatchObject({ state: "released", attempt: 0, outcome: "budget_wait", notBefore: "2026-12-03T10:10:00.000Z" });
    // The ledger holds the worked session's reservation, its lease released now: it reserves nothing any more.
    const ledger = parseLedger(git("log", "-1", "--format=%B", "refs/harness/budget/ledger"));
    expect(ledger.map((r) => [r.issue, r.usd])).toEqual([[worked.issue, 3]]);
    expect(lease(worked.issue)).toMatchObject({ state: "released", outcome: "success" });

    // Ten minutes later: the dead reservation does not count, the actual cost does; the second issue runs with what is left.
    clock = Date.parse("2026-12-03T10:10:01.000Z");
    const next = await workerPass((options) => {
      asked.push(options.maxBudgetUsd ?? -1);
      return runClaude(options);
    });
    expect(next.results.map((r) => [r.issue, r.outcome])).toEqual([[waited.issue, "success"]]);
    expect(asked).toHaveLength(2);
    expect(asked[1]).toBeGreaterThan(0);
    expect(asked[1]).toBeLessThanOrEqual(3);
    // Its own reservation replaced the dead one on the ledger.
    expect(parseLedger(git("log", "-1", "--format=%B", "refs/harness/budget/ledger")).map((r) => r.issue)).toEqual([waited.issue]);
    github.assertNoViolations();
  }, 240_000);
});
