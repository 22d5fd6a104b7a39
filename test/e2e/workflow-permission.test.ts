import { execFileSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario, type Scenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

// GitHub refuses a push that touches `.github/workflows/` from an App installation without the
// `workflows` permission, and from a token without the `workflow` scope (the fake refuses it the
// same way). The harness never pushes a commit GitHub will refuse when it can know (App mode: the
// installation token's permissions), reads the refusal from git when it cannot (token mode), and
// either way ends the issue failed with EHARNESS_WORKFLOW_PERMISSION, nothing pushed, the work kept.

const REPO = "ci";

function git(repoPath: string, ...args: string[]): string {
  return execFileSync("git", ["--git-dir", repoPath, ...args], { encoding: "utf8" }).trim();
}

const hasRef = (repoPath: string, ref: string): boolean => {
  try {
    git(repoPath, "rev-parse", "--verify", "--quiet", ref);
    return true;
  } catch {
    return false;
  }
};

async function workflowIssue(stack: Stack, owner: string): Promise<{ number: number; branch: string }> {
  const { github } = stack;
  await github.createRepo({ collaborators: { ada: "write" }, owner, name: REPO, files: { "README.md": "# ci\n" } });
  const issue = await github.createIssue(owner, REPO, { title: "Add CI", body: "[scenario:publish-gate-workflow] add CI", user: "ada" });
  await github.addLabel(owner, REPO, issue.number, "harness:queued", { sender: "ada" });
  await stack.idle();
  return { number: issue.number, branch: `harness/issue-${issue.number}` };
}

function summaryOf(stack: Stack, owner: string, issue: number): string {
  return stack.github.listComments(owner, REPO, issue).find((c) => c.body.startsWith("<!-- harness:summary"))?.body ?? "";
}

let scenario: Scenario;
let interruptScenario: Scenario;

beforeAll(async () => {
  scenario = await loadScenario(path.resolve("test/fixtures/scenarios/publish-gate-workflow.yaml"));
  interruptScenario = await loadScenario(path.resolve("test/fixtures/scenarios/workflow-interrupt.yaml"));
});

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("workflow changes as a GitHub App (fake GitHub, real CLI)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ scenarios: [scenario], auth: "app", progressIntervalMs: 3_600_000 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("without the `workflows` permission: nothing is pushed, the issue fails with EHARNESS_WORKFLOW_PERMISSION, the work is kept", async () => {
    const { github } = stack;
    const { number, branch } = await workflowIssue(stack, "no-perm");
    const result = stack.results.find((r) => r.issue === number);
    expect(result?.error?.code).toBe("EHARNESS_WORKFLOW_PERMISSION");
    expect(result?.pushed).toBe(false);
    // Known from the installation token's permissions: the push GitHub would refuse was never sent.
    expect(github.changes.filter((c) => c.action === "git.push-refused")).toEqual([]);
    expect(hasRef(github.repoPath("no-perm", REPO), `refs/heads/${branch}`)).toBe(false);
    expect(await github.listPulls("no-perm", REPO)).toHaveLength(0);
    const summary = summaryOf(stack, "no-perm", number);
    expect(summary).toContain("**EHARNESS_WORKFLOW_PERMISSION**");
    expect(summary).toContain("- `.github/workflows/ci.yml` changes a GitHub Actions workflow");
    expect(summary).toContain("Grant the App the Workflows permission (app.yml `workflows: write`");
    expect(summary).toContain("or make the change by hand");
    expect(github.getIssue("no-perm", REPO, number).labelNames).toContain("harness:failed");
    expect(git(stack.state.clone("no-perm", REPO), "show", `refs/kept/${branch}/attempt-1:.github/workflows/ci.yml`)).toContain("on: push");
    github.assertNoViolations();
  });

  it("with `workflows: write`: the branch is pushed and the pull request opened as a draft for review", async () => {
    const { github } = stack;
    await github.createRepo({ owner: "granted", name: "placeholder" });
    github.setInstallationPermissions("granted", { issues: "write", pull_requests: "write", contents: "write", metadata: "read", workflows: "write" });
    const { number, branch } = await workflowIssue(stack, "granted");
    const result = stack.results.find((r) => r.issue === number && r.repository === `granted/${REPO}`);
    expect(result?.error ?? null).toBeNull();
    expect(result?.outcome).toBe("success");
    expect(git(github.repoPath("granted", REPO), "show", `refs/heads/${branch}:.github/workflows/ci.yml`)).toContain("on: push");
    const pulls = await github.listPulls("granted", REPO);
    expect(pulls).toHaveLength(1);
    expect(pulls[0]?.draft).toBe(true);
    expect(pulls[0]?.labelNames).toContain("harness:needs-review");
    expect(github.changes.filter((c) => c.action === "git.push-refused")).toEqual([]);
    github.assertNoViolations();
  });
});

describe("workflow changes with a token (fake GitHub, real CLI)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ scenarios: [scenario, interruptScenario], progressIntervalMs: 3_600_000 });
    // A token with `repo` but not `workflow`: the harness cannot know before pushing.
    stack.github.setTokenScopes(stack.github.token, ["repo"]);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("GitHub's refusal is read from git's output: EHARNESS_WORKFLOW_PERMISSION naming the file, nothing pushed, the work kept", async () => {
    const { github } = stack;
    const { number, branch } = await workflowIssue(stack, "tok");
    const result = stack.results.find((r) => r.issue === number);
    expect(result?.error?.code).toBe("EHARNESS_WORKFLOW_PERMISSION");
    const refused = github.changes.filter((c) => c.action === "git.push-refused");
    expect(refused.map((c) => c.detail)).toEqual([{ [`refs/heads/${branch}`]: ".github/workflows/ci.yml" }]);
    expect(hasRef(github.repoPath("tok", REPO), `refs/heads/${branch}`)).toBe(false);
    expect(await github.listPulls("tok", REPO)).toHaveLength(0);
    const summary = summaryOf(stack, "tok", number);
    expect(summary).toContain("**EHARNESS_WORKFLOW_PERMISSION**");
    expect(summary).toContain(
      "- `.github/workflows/ci.yml` changes a GitHub Actions workflow, and GitHub refuses such a push from a token without the `workflow` scope",
    );
    expect(summary).toContain("Give the harness's token the `workflow` scope");
    expect(summary).not.toContain("EHARNESS_PUSH_REJECTED");
    expect(github.getIssue("tok", REPO, number).labelNames).toContain("harness:failed");
    expect(git(stack.state.clone("tok", REPO), "show", `refs/kept/${branch}/attempt-1:.github/workflows/ci.yml`)).toContain("on: push");
    github.assertNoViolations();
  });

  it("an interrupted attempt's workflow change refused by GitHub: labeled interrupted, the comment says why, the work kept", async () => {
    const { github, model } = stack;
    github.setTokenScopes(github.token, ["repo"]);
    await github.createRepo({ collaborators: { ada: "write" }, owner: "tok-int", name: REPO, files: { "README.md": "# ci\n" } });
    const issue = await github.createIssue("tok-int", REPO, { title: "Add CI", body: "[scenario:workflow-interrupt] add CI", user: "ada" });
    await github.addLabel("tok-int", REPO, issue.number, "harness:queued", { sender: "ada" });
    await until(() => model.requests.some((r) => r.scenario === "workflow-interrupt" && r.turn === 1), "the long step");
    await github.comment("tok-int", REPO, issue.number, "/interrupt", { sender: "ada" });
    await stack.idle();

    const result = stack.results.find((r) => r.repository === `tok-int/${REPO}` && r.issue === issue.number);
    expect(result?.interrupted).toBe(true);
    expect(result?.pushed).toBe(false);
    const branch = `harness/issue-${issue.number}`;
    expect(github.changes.filter((c) => c.action === "git.push-refused" && c.repo === `tok-int/${REPO}`).map((c) => c.detail)).toEqual([
      { [`refs/heads/${branch}`]: ".github/workflows/ci.yml" },
    ]);
    expect(hasRef(github.repoPath("tok-int", REPO), `refs/heads/${branch}`)).toBe(false);
    const summary = summaryOf(stack, "tok-int", issue.number);
    expect(summary).toContain("**EHARNESS_WORKFLOW_PERMISSION**");
    expect(github.getIssue("tok-int", REPO, issue.number).labelNames).toContain("harness:interrupted");
    expect(git(stack.state.clone("tok-int", REPO), "show", `refs/kept/${branch}/attempt-1:.github/workflows/ci.yml`)).toContain("on: push");
    github.assertNoViolations();
  });

  it("with the `workflow` scope, and ref reads lagging behind writes: claimed, pushed, opened and released once", async () => {
    const { github } = stack;
    github.setTokenScopes(github.token, null);
    // Every ref written from now on reads as its previous value twice (lease claim, renewals, release).
    github.setReadLag({ refReads: 2 });
    try {
      const { number, branch } = await workflowIssue(stack, "lagged");
      const result = stack.results.find((r) => r.repository === `lagged/${REPO}` && r.issue === number);
      expect(result?.error ?? null).toBeNull();
      expect(result?.outcome).toBe("success");
      expect(git(github.repoPath("lagged", REPO), "show", `refs/heads/${branch}:.github/workflows/ci.yml`)).toContain("on: push");
      // The branch was pushed once, not skipped and never forced (git's own record of each update).
      expect(git(github.repoPath("lagged", REPO), "reflog", "show", "--format=%H", `refs/heads/${branch}`).split("\n")).toEqual([
        git(github.repoPath("lagged", REPO), "rev-parse", `refs/heads/${branch}`),
      ]);
      expect(await github.listPulls("lagged", REPO)).toHaveLength(1);
      expect(github.getIssue("lagged", REPO, number).labelNames).toContain("harness:done");
      const lease = await github.readRef("lagged", REPO, `refs/harness/leases/issue-${number}`);
      const record = JSON.parse((await github.readCommit("lagged", REPO, lease ?? ""))?.message ?? "{}") as { state?: string };
      expect(record.state).toBe("released");
      expect(stack.events.some((e) => e.type === "fenced")).toBe(false);
    } finally {
      github.setReadLag({ refReads: 0 });
    }
    github.assertNoViolations();
  });
});
