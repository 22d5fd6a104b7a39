import { promises as fs } from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

const OWNER = "octo-org";
const REPO = "widgets";
const FILES = { "README.md": "# widgets\n", "src/index.js": "export const x = 1;\n" };

function git(repoPath: string, ...args: string[]): string {
  return execFileSync("git", ["--git-dir", repoPath, ...args], { encoding: "utf8" }).trim();
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

let stack: Stack;

beforeAll(async () => {
  const scenarios = await Promise.all(["e2e-probe.yaml", "api-error.yaml"].map((f) => loadScenario(path.resolve("test/fixtures/scenarios", f))));
  // No progress edits: the exact list of writes below is a clean issue's, however long the session takes.
  stack = await startStack({ scenarios, progressIntervalMs: 3_600_000 });
  await stack.github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, defaultBranch: "main", files: FILES });
});

afterAll(async () => {
  await stack?.close();
});

describe("a labeled issue becomes a pull request (fake GitHub, signed webhook, Probot, real CLI)", () => {
  it("works the issue end to end and leaks nothing to the agent", async () => {
    const { github } = stack;
    const body = "[scenario:e2e-probe] Add hello.txt.\n\n`rm -rf /` $(touch /tmp/pwned) && echo ${HOME} | tee x; Closes #999 ```";
    const issue = await github.createIssue(OWNER, REPO, { title: "Say hello", body, user: "ada" });
    const status = await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    expect(status).toBe(200);
    await stack.idle();

    const result = stack.results.find((r) => r.issue === issue.number);
    expect(result?.outcome).toBe("success");
    expect(result?.error).toBeNull();

    // Exactly one pull request, closing the issue, from the issue's branch.
    const pulls = await github.listPulls(OWNER, REPO);
    const ours = pulls.filter((p) => p.head.ref === `harness/issue-${issue.number}`);
    expect(ours).toHaveLength(1);
    const pull = ours[0]!;
    expect(pull.body).toContain(`Closes #${issue.number}`);
    expect(pull.draft).toBe(false);
    // The model's "Closes #999" and the issue body's are inert.
    expect(pull.body).not.toMatch(/closes #999/i);
    expect(pull.body).not.toContain("@octocat");

    // The branch holds the file the scripted model wrote.
    const repoPath = github.repoPath(OWNER, REPO);
    expect(git(repoPath, "show", `harness/issue-${issue.number}:hello.txt`)).toBe("hello from the scripted model");

    // The summary comment: outcome, turns, cost.
    const comments = await github.listComments(OWNER, REPO, issue.number);
    const summaries = comments.filter((c) => (c.body ?? "").startsWith("<!-- harness:summary"));
    expect(summaries).toHaveLength(1);
    const summary = summaries[0]!.body ?? "";
    expect(summary).toContain("| Outcome | ✅ success |");
    expect(summary).toMatch(/\| Turns \| \d+ \|/);
    expect(summary).toMatch(/\| Cost \| \$\d+\.\d+ \|/);
    // One comment for the attempt: created at the claim, it ended as the summary.
    expect(comments.filter((c) => (c.body ?? "").startsWith("<!-- harness:"))).toHaveLength(1);
    expect(summary).toContain("attempt 1");

    // Final labels and the lease record.
    const final = await github.getIssue(OWNER, REPO, issue.number);
    const labels = final.labels.map((l) => (typeof l === "string" ? l : l.name));
    expect(labels).toContain("harness:done");
    expect(labels.filter((l) => l?.startsWith("harness:"))).toEqual(["harness:done"]);
    const leaseSha = git(repoPath, "rev-parse", `refs/harness/leases/issue-${issue.number}`);
    const lease = JSON.parse(git(repoPath, "log", "-1", "--format=%B", leaseSha)) as { state: string; outcome: string; epoch: number };
    expect(lease).toMatchObject({ state: "released", outcome: "success", epoch: 1 });
    expect(git(repoPath, "rev-list", "--count", leaseSha)).toBe("2"); // claimed, then released: one chain

    // GitHub's write budget (80 a minute, 500 an hour) is the scale limit: five REST writes
    // for the issue, each one a person sees; the lease moves by git push (claim, release).
    const restWrites = github.requestLog.filter((e) => e.kind === "rest" && e.write).map((e) => e.operationId);
    expect(restWrites).toEqual([
      "issues/set-labels", // harness:running
      "issues/create-comment", // the attempt's comment
      "pulls/create",
      "issues/update-comment", // the attempt's comment becomes the summary
      "issues/set-labels", // harness:done
    ]);
    expect(stack.apiCounts.get(`${OWNER}/${REPO}#${issue.number}`)?.writes).toBe(5);
    const pushes = github.requestLog.filter((e) => e.kind === "git" && e.write);
    expect(pushes).toHaveLength(5); // lease claim, branch, saved session, knowledge record, lease release
    // The knowledge record is the attempt's, on refs/harness/knowledge (src/runtime/knowledge-ref.ts).
    const record = JSON.parse(
      git(github.repoPath(OWNER, REPO), "show", `refs/harness/knowledge:sessions/${issue.number}/${result!.report!.sessionId!}-1.json`),
    ) as { outcome: string; attempt: number; source: string };
    expect(record).toMatchObject({ outcome: "success", attempt: 1, source: "publish" });

    // The lifecycle events of the issue, in order (what logs, benchmarks and judges read).
    const types = stack.events.filter((e) => "issue" in e && e.issue === `${OWNER}/${REPO}#${issue.number}`).map((e) => e.type);
    expect(types.filter((t) => t !== "progress")).toEqual([
      "claimed",
      "worktree_ready",
      "session_started",
      "session_ended",
      "session_usage",
      "published",
      "released",
      "issue_done",
    ]);
    expect(types).toContain("progress");

    // The worktree is gone.
    const worktree = stack.state.worktree(OWNER, REPO, issue.number);
    expect(await exists(worktree)).toBe(false);

    // The issue text reached the model as fenced, untrusted data.
    const firstTurn = stack.model.requests.find((r) => r.kind === "turn" && r.scenario === "e2e-probe");
    expect(JSON.stringify(firstTurn?.body)).toContain("untrusted");

    // Safety: the transcript shows what the agent saw; no credential is in it, and the hook never ran.
    const sessionDir = stack.state.session(result!.report!.sessionId!, 1);
    const transcript = await fs.readFile(path.join(sessionDir, "transcript.jsonl"), "utf8");
    expect(transcript).toContain("credential exit"); // the probe really ran
    expect(transcript).toContain("planted");
    expect(transcript).not.toContain(github.token);
    expect(transcript).not.toContain(stack.webhookSecret);
    expect(transcript).not.toMatch(/GITHUB_TOKEN|GH_TOKEN|WEBHOOK_SECRET|PRIVATE_KEY|password=/);
    expect(transcript).not.toContain("extraheader");
    expect(await exists(path.join(stack.state.clone(OWNER, REPO), "HOOK-RAN"))).toBe(false);
    github.assertNoViolations();
  });

  it("an API error from the model ends harness:failed with the error quoted and nothing pushed", async () => {
    const { github } = stack;
    const issue = await github.createIssue(OWNER, REPO, { title: "Will fail", body: "[scenario:api-error] please", user: "ada" });
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();

    const result = stack.results.find((r) => r.issue === issue.number);
    expect(result?.outcome).toBe("api_error");
    const final = await github.getIssue(OWNER, REPO, issue.number);
    const labels = final.labels.map((l) => (typeof l === "string" ? l : l.name));
    expect(labels).toContain("harness:failed");
    expect(labels).not.toContain("harness:done");
    const summary = (await github.listComments(OWNER, REPO, issue.number)).find((c) => (c.body ?? "").startsWith("<!-- harness:summary"));
    expect(summary?.body).toContain("model API error");
    expect(summary?.body).toContain("scripted bad request");
    const pulls = (await github.listPulls(OWNER, REPO)).filter((p) => p.head.ref === `harness/issue-${issue.number}`);
    expect(pulls).toHaveLength(0);
    expect(() => git(github.repoPath(OWNER, REPO), "rev-parse", "--verify", "--quiet", `refs/heads/harness/issue-${issue.number}`)).toThrow();
    const lease = JSON.parse(git(github.repoPath(OWNER, REPO), "log", "-1", "--format=%B", `refs/harness/leases/issue-${issue.number}`)) as { state: string };
    expect(lease.state).toBe("released");
    github.assertNoViolations();
  });
});
