import { promises as fs } from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

// The publish gate end to end: the real CLI in the sandbox does what an
// injected instruction would, and the harness decides what leaves the host.

const OWNER = "octo-org";
const REPO = "gated";

function git(repoPath: string, ...args: string[]): string {
  return execFileSync("git", ["--git-dir", repoPath, ...args], { encoding: "utf8" }).trim();
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const labelsOf = (labels: (string | { name?: string })[]): string[] => labels.map((l) => (typeof l === "string" ? l : (l.name ?? "")));

let stack: Stack;

beforeAll(async () => {
  const scenarios = await Promise.all(
    ["publish-gate-workflow.yaml", "publish-gate-symlink.yaml", "publish-gate-interrupt.yaml", "publish-gate-workflow-refused.yaml"].map((f) =>
      loadScenario(path.resolve("test/fixtures/scenarios", f)),
    ),
  );
  stack = await startStack({ scenarios, progressIntervalMs: 3_600_000 });
  await stack.github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, defaultBranch: "main", files: { "README.md": "# gated\n" } });
  stack.github.setPermission(OWNER, REPO, "ada", "write");
});

afterAll(async () => {
  await stack?.close();
});

describe("the publish gate (fake GitHub, real CLI)", () => {
  it("a workflow change is pushed as a draft labeled harness:needs-review, with the list in its body", async () => {
    const { github } = stack;
    const issue = await github.createIssue(OWNER, REPO, { title: "Add CI", body: "[scenario:publish-gate-workflow] add CI", user: "ada" });
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();

    const result = stack.results.find((r) => r.issue === issue.number);
    expect(result?.outcome).toBe("success");
    const pulls = (await github.listPulls(OWNER, REPO)).filter((p) => p.head.ref === `harness/issue-${issue.number}`);
    expect(pulls).toHaveLength(1);
    const pull = pulls[0]!;
    // A clean session would open a ready pull request; the gate makes it a draft.
    expect(pull.draft).toBe(true);
    expect(pull.body).toContain("harness:needs-review");
    expect(pull.body).toContain("- `.github/workflows/ci.yml` matches `.github/workflows/**` (added)");
    const prIssue = await github.getIssue(OWNER, REPO, pull.number);
    expect(labelsOf(prIssue.labels)).toContain("harness:needs-review");
    expect(git(github.repoPath(OWNER, REPO), "show", `harness/issue-${issue.number}:.github/workflows/ci.yml`)).toContain("on: push");
    // "Files changed" comes from the pushed diff: the workflow was written by Bash, which no tool call reports as a file.
    const summary = (await github.listComments(OWNER, REPO, issue.number)).find((c) => (c.body ?? "").startsWith("<!-- harness:summary"));
    expect(summary?.body).toContain("| Files changed | `.github/workflows/ci.yml` |");
    github.assertNoViolations();
  });

  it("a symlink to /etc/passwd is refused: nothing pushed, a coded error on the issue, the commit kept on the host", async () => {
    const { github } = stack;
    const issue = await github.createIssue(OWNER, REPO, { title: "Link it", body: "[scenario:publish-gate-symlink] link", user: "ada" });
    const logStart = github.requestLog.length;
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();

    const result = stack.results.find((r) => r.issue === issue.number);
    expect(result?.error?.code).toBe("EHARNESS_PUBLISH_REFUSED");
    const repoPath = github.repoPath(OWNER, REPO);
    const branch = `harness/issue-${issue.number}`;
    // Nothing reached GitHub: no branch, no saved session, no pull request.
    expect(() => git(repoPath, "rev-parse", "--verify", "--quiet", `refs/heads/${branch}`)).toThrow();
    expect(git(repoPath, "for-each-ref", "--format=%(refname)", `refs/harness/sessions/`)).not.toContain(`issue-${issue.number}`);
    expect((await github.listPulls(OWNER, REPO)).filter((p) => p.head.ref === branch)).toHaveLength(0);
    // The only pushes are the lease's (claim, release); a published attempt adds the branch and the saved session.
    const pushes = github.requestLog.slice(logStart).filter((e) => e.kind === "git" && e.write);
    expect(pushes).toHaveLength(2);

    const summary = (await github.listComments(OWNER, REPO, issue.number)).find((c) => (c.body ?? "").startsWith("<!-- harness:summary"));
    expect(summary?.body).toContain("**EHARNESS_PUBLISH_REFUSED**");
    expect(summary?.body).toContain("- `passwd` is a symlink to `/etc/passwd`, outside the repository's worktree");
    expect(summary?.body).toContain(`refs/kept/${branch}/attempt-1`);
    const final = await github.getIssue(OWNER, REPO, issue.number);
    expect(labelsOf(final.labels)).toContain("harness:failed");

    // The work stays on the host, in the shared clone, where the comment says.
    const clone = stack.state.clone(OWNER, REPO);
    expect(git(clone, "cat-file", "-p", `refs/kept/${branch}/attempt-1:passwd`)).toBe("/etc/passwd");
    expect(git(clone, "show", `refs/kept/${branch}/attempt-1:notes.txt`)).toBe("notes");
    github.assertNoViolations();
  });

  it("work in progress passes the same gate: an interrupted attempt with a symlink above the root pushes nothing", async () => {
    const { github, model } = stack;
    const issue = await github.createIssue(OWNER, REPO, { title: "Stop me", body: "[scenario:publish-gate-interrupt] go", user: "ada" });
    const logStart = github.requestLog.length;
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    await until(() => model.requests.some((r) => r.scenario === "publish-gate-interrupt" && r.turn === 1), "the long step");
    await github.comment(OWNER, REPO, issue.number, "/interrupt", { sender: "ada" });
    await stack.idle();

    const result = stack.results.find((r) => r.issue === issue.number);
    expect(result?.interrupted).toBe(true);
    const branch = `harness/issue-${issue.number}`;
    expect(() => git(github.repoPath(OWNER, REPO), "rev-parse", "--verify", "--quiet", `refs/heads/${branch}`)).toThrow();
    // The lease's claim is the only push (the interrupt is recorded by the app): no branch, no saved session.
    expect(github.requestLog.slice(logStart).filter((e) => e.kind === "git" && e.write)).toHaveLength(1);
    const summary = (await github.listComments(OWNER, REPO, issue.number)).find((c) => (c.body ?? "").startsWith("<!-- harness:summary"));
    expect(summary?.body).toContain("**EHARNESS_PUBLISH_REFUSED**");
    expect(summary?.body).toContain("- `up` is a symlink to `../../..`, outside the repository's worktree");
    expect(labelsOf((await github.getIssue(OWNER, REPO, issue.number)).labels)).toContain("harness:interrupted");
    expect(git(stack.state.clone(OWNER, REPO), "cat-file", "-p", `refs/kept/${branch}/attempt-1:up`)).toBe("../../..");
    github.assertNoViolations();
  });

  it("GitHub's refusal of a workflow push (an App without `workflows: write`) is explained on the issue, the commit kept", async () => {
    const { github } = stack;
    // A hook prints GitHub's words as `remote:` lines (the fake's own guard answers in the ref's
    // report: test/e2e/workflow-permission.test.ts); the harness reads the refusal either way.
    const hook = path.join(github.repoPath(OWNER, REPO), "hooks", "pre-receive");
    await fs.mkdir(path.dirname(hook), { recursive: true });
    await fs.writeFile(
      hook,
      "#!/bin/sh\nwhile read old new ref; do case \"$ref\" in refs/heads/harness/*) echo 'refusing to allow a GitHub App to create or update workflow `.github/workflows/deploy.yml` without `workflows` permission' >&2; exit 1;; esac; done\n",
      { mode: 0o755 },
    );
    try {
      const issue = await github.createIssue(OWNER, REPO, { title: "Deploy", body: "[scenario:publish-gate-workflow-refused] deploy", user: "ada" });
      await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
      await stack.idle();

      const result = stack.results.find((r) => r.issue === issue.number);
      expect(result?.error?.code).toBe("EHARNESS_WORKFLOW_PERMISSION");
      const branch = `harness/issue-${issue.number}`;
      expect((await github.listPulls(OWNER, REPO)).filter((p) => p.head.ref === branch)).toHaveLength(0);
      const summary = (await github.listComments(OWNER, REPO, issue.number)).find((c) => (c.body ?? "").startsWith("<!-- harness:summary"));
      expect(summary?.body).toContain("- `.github/workflows/deploy.yml` changes a GitHub Actions workflow");
      expect(summary?.body).toContain("`workflows: write`");
      expect(git(stack.state.clone(OWNER, REPO), "show", `refs/kept/${branch}/attempt-1:.github/workflows/deploy.yml`)).toContain("on: push");
    } finally {
      await fs.rm(hook, { force: true });
    }
  });
});
