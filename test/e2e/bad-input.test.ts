import { execFileSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkResult } from "../../src/runtime/work-issue.js";
import { loadScenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

const OWNER = "octo-org";

function git(repoPath: string, ...args: string[]): string {
  return execFileSync("git", ["--git-dir", repoPath, ...args], { encoding: "utf8" }).trim();
}

function labelsOf(stack: Stack, repo: string, number: number): string[] {
  return stack.github.getIssue(OWNER, repo, number).labels.map((l) => (typeof l === "string" ? l : (l.name ?? "")));
}

function leaseState(stack: Stack, repo: string, number: number): string | null {
  const repoPath = stack.github.repoPath(OWNER, repo);
  try {
    return (JSON.parse(git(repoPath, "log", "-1", "--format=%B", `refs/harness/leases/issue-${number}`)) as { state: string }).state;
  } catch {
    return null;
  }
}

function resultFor(stack: Stack, repo: string, number: number): WorkResult | undefined {
  return stack.results.find((r) => r.repository === `${OWNER}/${repo}` && r.issue === number);
}

function bodies(stack: Stack, repo: string, number: number): string[] {
  return stack.github.listComments(OWNER, repo, number).map((c) => c.body ?? "");
}

describe("bad input changes nothing or fails cleanly, with a coded error", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      scenarios: [
        await loadScenario(path.resolve("test/fixtures/scenarios/push-race.yaml")),
        await loadScenario(path.resolve("test/fixtures/scenarios/write-file.yaml")),
      ],
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("rejects webhooks with a wrong or missing signature, and changes nothing", async () => {
    const { github } = stack;
    await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: "signed", files: { "README.md": "x\n" } });
    const issue = await github.createIssue(OWNER, "signed", { title: "t", body: "b", labels: ["harness:queued"], user: "ada" });
    const payload = github.buildPayload("issues", "labeled", OWNER, "signed", issue.number, { sender: "mallory" });
    payload.label = { id: 1, node_id: "x", url: "", name: "harness:queued", color: "ededed", default: false, description: null };
    expect(await github.deliver("issues", payload, { signature: "invalid" })).toBe(400);
    expect(await github.deliver("issues", payload, { signature: "missing" })).toBe(400);
    await stack.idle();
    expect(labelsOf(stack, "signed", issue.number)).toEqual(["harness:queued"]);
    expect(leaseState(stack, "signed", issue.number)).toBeNull();
    expect(bodies(stack, "signed", issue.number)).toEqual([]);
  });

  it("comments EHARNESS_CONFIG with the field path on an invalid config, starts nothing and keeps the label", async () => {
    const { github } = stack;
    await github.createRepo({
      collaborators: { ada: "write" },
      owner: OWNER,
      name: "badconfig",
      files: { "README.md": "x\n", ".github/harness.yml": "maxTurns: lots\nlabels:\n  done: 7\n" },
    });
    const issue = await github.createIssue(OWNER, "badconfig", { title: "t", body: "b", user: "ada" });
    await github.addLabel(OWNER, "badconfig", issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    const comments = bodies(stack, "badconfig", issue.number);
    expect(comments).toHaveLength(1);
    expect(comments[0]).toContain("EHARNESS_CONFIG");
    expect(comments[0]).toContain("`maxTurns`");
    expect(comments[0]).toContain("`labels.done`");
    expect(comments[0]).toContain("Fix:");
    expect(labelsOf(stack, "badconfig", issue.number)).toEqual(["harness:queued"]);
    expect(leaseState(stack, "badconfig", issue.number)).toBeNull();
    expect(resultFor(stack, "badconfig", issue.number)).toBeUndefined();
  });

  it("a configured label over GitHub's 50 characters is refused as EHARNESS_CONFIG before any label write (GitHub would answer 422)", async () => {
    const { github } = stack;
    const long = `harness:${"d".repeat(43)}`;
    await github.createRepo({
      collaborators: { ada: "write" },
      owner: OWNER,
      name: "longlabel",
      files: { "README.md": "x\n", ".github/harness.yml": `labels:\n  done: "${long}"\n` },
    });
    // What GitHub answers the label write the config would lead to, exactly.
    const issue = await github.createIssue(OWNER, "longlabel", { title: "t", body: "b", user: "ada" });
    const refused = await fetch(`${github.apiUrl}/repos/${OWNER}/longlabel/issues/${issue.number}/labels`, {
      method: "POST",
      headers: { authorization: `token ${github.token}`, "content-type": "application/json" },
      body: JSON.stringify({ labels: [long] }),
    });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({
      message: "Validation Failed",
      errors: [{ value: long, resource: "Label", field: "name", code: "invalid" }],
      documentation_url: "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue",
    });
    expect(labelsOf(stack, "longlabel", issue.number)).toEqual([]);

    const start = github.requestLog.length;
    await github.addLabel(OWNER, "longlabel", issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    const comments = bodies(stack, "longlabel", issue.number);
    expect(comments).toHaveLength(1);
    expect(comments[0]).toContain("EHARNESS_CONFIG");
    expect(comments[0]).toContain("`labels.done`");
    expect(comments[0]).toContain("at most 50 characters");
    // The harness never sent GitHub the long name: no label write at all, no 422.
    const after = github.requestLog.slice(start);
    expect(after.filter((e) => e.operationId === "issues/add-labels" || e.operationId === "issues/set-labels")).toEqual([]);
    expect(after.filter((e) => e.status === 422)).toEqual([]);
    expect(leaseState(stack, "longlabel", issue.number)).toBeNull();
  });

  it("fails with EHARNESS_NO_DEFAULT_BRANCH when the default branch has no commit, and releases the lease", async () => {
    const { github } = stack;
    await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: "empty", files: { "README.md": "x\n" } });
    const repoPath = github.repoPath(OWNER, "empty");
    git(repoPath, "update-ref", "-d", "refs/heads/main");
    const issue = await github.createIssue(OWNER, "empty", { title: "t", body: "b", user: "ada" });
    await github.addLabel(OWNER, "empty", issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    const result = resultFor(stack, "empty", issue.number);
    expect(result?.error?.code).toBe("EHARNESS_NO_DEFAULT_BRANCH");
    expect(labelsOf(stack, "empty", issue.number)).toEqual(["harness:failed"]);
    expect(leaseState(stack, "empty", issue.number)).toBe("released");
    expect(bodies(stack, "empty", issue.number).some((b) => b.includes("EHARNESS_NO_DEFAULT_BRANCH") && b.includes("Fix:"))).toBe(true);
  });

  it("a push rejected because the branch moved fails with EHARNESS_PUSH_REJECTED and loses nothing that was pushed", async () => {
    const { github } = stack;
    await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: "race", files: { "README.md": "x\n" } });
    const repoPath = github.repoPath(OWNER, "race");
    const issue = await github.createIssue(OWNER, "race", { title: "t", body: "[scenario:push-race] go", user: "ada" });
    await github.addLabel(OWNER, "race", issue.number, "harness:queued", { sender: "ada" });
    // While the model takes its time over the last turn, somebody pushes to the branch.
    const deadline = Date.now() + 60_000;
    while (!stack.model.requests.some((r) => r.scenario === "push-race" && r.turn === 1) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const theirs = git(repoPath, "commit-tree", "main^{tree}", "-p", "main", "-m", "somebody else's commit");
    git(repoPath, "update-ref", `refs/heads/harness/issue-${issue.number}`, theirs);
    await stack.idle();

    const result = resultFor(stack, "race", issue.number);
    expect(result?.report?.outcome).toBe("success");
    expect(result?.error?.code).toBe("EHARNESS_PUSH_REJECTED");
    expect(git(repoPath, "rev-parse", `refs/heads/harness/issue-${issue.number}`)).toBe(theirs);
    expect(labelsOf(stack, "race", issue.number)).toEqual(["harness:failed"]);
    expect(leaseState(stack, "race", issue.number)).toBe("released");
    const summary = bodies(stack, "race", issue.number).find((b) => b.startsWith("<!-- harness:summary"));
    expect(summary).toContain("EHARNESS_PUSH_REJECTED");
    // The agent's commit is kept in the host's clone for a later attempt.
    const clone = stack.state.clone(OWNER, "race");
    expect(git(clone, "show", `refs/heads/harness/issue-${issue.number}:race.txt`)).toBe("agent work");
    expect(await github.listPulls(OWNER, "race")).toEqual([]);
  });

  it("a write refused after the summary is posted fails the issue with one summary that carries the error", async () => {
    const { github } = stack;
    await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: "late", files: { "README.md": "x\n" } });
    const issue = await github.createIssue(OWNER, "late", { title: "t", body: "[scenario:write-file] go", user: "ada" });
    // The issue's label writes: harness:running at the claim, then harness:done (refused), then harness:failed.
    let labelWrites = 0;
    github.setRequestHook((request) => {
      if (request.operationId !== "issues/set-labels" || !request.path.startsWith(`/repos/${OWNER}/late/`)) return;
      labelWrites += 1;
      if (labelWrites === 2) return { respond: { status: 422, body: { message: "Validation Failed", documentation_url: "https://docs.github.com/rest" } } };
    });
    try {
      await github.addLabel(OWNER, "late", issue.number, "harness:queued", { sender: "ada" });
      await stack.idle();
    } finally {
      github.setRequestHook(null);
    }
    const result = resultFor(stack, "late", issue.number);
    expect(result?.report?.outcome).toBe("success");
    expect(result?.error?.code).toBe("EHARNESS_GITHUB");
    expect(labelWrites).toBe(3);
    expect(labelsOf(stack, "late", issue.number)).toEqual(["harness:failed"]);
    expect(leaseState(stack, "late", issue.number)).toBe("released");
    const all = bodies(stack, "late", issue.number);
    // The attempt's one comment: the summary, now with the error and its fix.
    expect(all.filter((b) => b.startsWith("<!-- harness:"))).toHaveLength(1);
    expect(all.filter((b) => b.startsWith("<!-- harness:summary"))).toHaveLength(1);
    expect(all[0]).toContain("EHARNESS_GITHUB");
    // The work is not lost: the branch was pushed and its pull request stays open.
    const pulls = await github.listPulls(OWNER, "late");
    expect(pulls).toHaveLength(1);
    expect(all[0]).toContain(`| Pull request | #${pulls[0]!.number} |`);
  });
});

describe("a missing CLI", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ scenarios: [], cliPath: "/nonexistent/bin/claude" });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("fails the issue with EHARNESS_CLI_MISSING, releases the lease and pushes nothing", async () => {
    const { github } = stack;
    await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: "nocli", files: { "README.md": "x\n" } });
    const issue = await github.createIssue(OWNER, "nocli", { title: "t", body: "b", user: "ada" });
    await github.addLabel(OWNER, "nocli", issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    const result = resultFor(stack, "nocli", issue.number);
    expect(result?.error?.code).toBe("EHARNESS_CLI_MISSING");
    expect(labelsOf(stack, "nocli", issue.number)).toEqual(["harness:failed"]);
    expect(leaseState(stack, "nocli", issue.number)).toBe("released");
    expect(bodies(stack, "nocli", issue.number).some((b) => b.includes("EHARNESS_CLI_MISSING"))).toBe(true);
    expect(() => git(github.repoPath(OWNER, "nocli"), "rev-parse", "--verify", "--quiet", `refs/heads/harness/issue-${issue.number}`)).toThrow();
    expect(await stack.github.listPulls(OWNER, "nocli")).toEqual([]);
  });
});
