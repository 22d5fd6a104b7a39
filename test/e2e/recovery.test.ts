import { execFileSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { LeaseStore } from "../../src/adapters/github-lease.js";
import { defaultReclaimPolicy } from "../../src/core/reclaim.js";
import { loadScenario } from "../../src/offline/model-server.js";
import { testOctokit } from "../support/octokit.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

const OWNER = "octo";
const REPO = "recover";

describe("an issue stranded by a dead agent is reclaimed and worked again", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/write-file.yaml"))],
      reconcile: { repositories: [`${OWNER}/${REPO}`], policy: { ...defaultReclaimPolicy, graceMs: 0, backoffBaseMs: 1, backoffMaxMs: 1 } },
    });
    await stack.github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("requeues on the reconciler's pass, and a live agent finishes it", async () => {
    const { github } = stack;
    const issue = await github.createIssue(OWNER, REPO, { title: "Say hello", body: "please", labels: ["harness:running"], user: "ada" });
    // An agent claimed it a day ago and died without a word.
    const leases = new LeaseStore(
      new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO }),
      "harness/leases/issue-",
    );
    const dayAgo = new Date(Date.now() - 24 * 3600_000);
    expect(
      (
        await leases.claim({
          issue: issue.number,
          owner: { agent: "agent-9", host: "dead-host", runId: "r9" },
          now: dayAgo,
          termMs: 15 * 60_000,
          sessionId: null,
        })
      ).ok,
    ).toBe(true);

    const pass = await stack.reconciler!.runOnce();
    expect(pass.repositories.find((r) => r.repository === `${OWNER}/${REPO}`)?.submitted).toEqual([issue.number]);
    await stack.idle();

    expect(stack.results.map((r) => [r.issue, r.outcome])).toEqual([[issue.number, "success"]]);
    expect((await github.listPulls(OWNER, REPO)).map((p) => p.head.ref)).toEqual([`harness/issue-${issue.number}`]);
    expect(github.getIssue(OWNER, REPO, issue.number).labels.map((l) => l.name)).toEqual(["harness:done"]);
    const comments = github.listComments(OWNER, REPO, issue.number).map((c) => c.body ?? "");
    expect(comments.filter((b) => b.includes("Reclaimed"))).toHaveLength(1);
    // The lease's history is one chain: the dead claim, its reclaim, the new claim, the release.
    const log = execFileSync(
      "git",
      ["--git-dir", github.repoPath(OWNER, REPO), "log", "--first-parent", "--format=%s", `refs/harness/leases/issue-${issue.number}`],
      { encoding: "utf8" },
    );
    const states = log
      .trim()
      .split("\n")
      .reverse()
      .map((m) => JSON.parse(m) as { state: string; attempt: number });
    expect(states.map((s) => s.state).filter((s, i, all) => i === 0 || s !== all[i - 1])).toEqual(["claimed", "reclaimed", "claimed", "released"]);
    expect(states.at(-1)?.attempt).toBe(2);
  });
});
