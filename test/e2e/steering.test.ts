import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario } from "../../src/offline/model-server.js";
import { testOctokit } from "../support/octokit.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

const OWNER = "octo";
const REPO = "steer";

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("steering from issue comments (fake GitHub, signed webhooks, real CLI)", () => {
  let stack: Stack;
  const git = (...args: string[]): string => execFileSync("git", ["--git-dir", stack.github.repoPath(OWNER, REPO), ...args], { encoding: "utf8" }).trim();
  const labels = (n: number): string[] => stack.github.getIssue(OWNER, REPO, n).labels.map((l) => l.name);
  const comments = (n: number): string[] => stack.github.listComments(OWNER, REPO, n).map((c) => c.body ?? "");
  const lease = (n: number) =>
    JSON.parse(git("log", "-1", "--format=%B", `refs/harness/leases/issue-${n}`)) as { state: string; sessionId: string; attempt: number; outcome: string };

  beforeAll(async () => {
    const scenarios = await Promise.all(
      // Tried in order: the fresh prompts before the issue bodies they also carry.
      ["fresh-after-success.yaml", "fresh-after-failure.yaml", "flaky.yaml", "interruptible.yaml", "commit-then-fail.yaml"].map((f) =>
        loadScenario(path.resolve("test/fixtures/scenarios", f)),
      ),
    );
    stack = await startStack({ scenarios });
    await stack.github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
    stack.github.setPermission(OWNER, REPO, "ada", "write");
    stack.github.setPermission(OWNER, REPO, "mallory", "read");
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("/interrupt keeps the work; /retry on a runner with nothing local continues the same session", async () => {
    const { github, model } = stack;
    const issue = await github.createIssue(OWNER, REPO, { title: "Two parts", body: "[scenario:interruptible] go", user: "ada" });
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    await until(() => model.requests.some((r) => r.scenario === "interruptible" && r.turn === 1), "the long step");

    // Someone without write access is refused, and nothing changes.
    await github.comment(OWNER, REPO, issue.number, "/interrupt", { sender: "mallory" });
    expect(comments(issue.number).some((b) => b.includes("@mallory only people with write"))).toBe(true);
    expect(lease(issue.number).state).toBe("claimed");

    await github.comment(OWNER, REPO, issue.number, "please stop\n\n/interrupt", { sender: "ada" });
    await stack.idle();
    const first = stack.results.at(-1)!;
    expect(first.interrupted).toBe(true);
    expect(first.report?.outcome).toBe("interrupted");
    expect(labels(issue.number)).toEqual(["harness:interrupted"]);
    const interrupted = lease(issue.number);
    expect(interrupted).toMatchObject({ state: "interrupted", sessionId: first.report?.sessionId });
    // The work so far is pushed as a WIP commit, and the session is saved for any runner.
    expect(git("show", `harness/issue-${issue.number}:part1.txt`)).toBe("before the interrupt");
    expect(git("log", "-1", "--format=%s", `harness/issue-${issue.number}`)).toContain("work in progress");
    expect(git("show", `refs/harness/sessions/issue-${issue.number}:meta.json`)).toContain(interrupted.sessionId);
    expect(await github.listPulls(OWNER, REPO)).toEqual([]);
    // No Bash tool outlived the interrupt.
    expect(
      execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
        .split("\n")
        .filter((l) => l.trim() === "sleep 30"),
    ).toEqual([]);

    // Another runner: nothing of this host's state is left (no clone, no HOME, no session file).
    await fs.rm(stack.state.root, { recursive: true, force: true });

    await github.comment(OWNER, REPO, issue.number, "/retry", { sender: "ada" });
    await stack.idle();
    const second = stack.results.at(-1)!;
    expect(second.outcome).toBe("success");
    expect(second.report?.sessionId).toBe(interrupted.sessionId);
    expect(second.report?.finalMessage).toBe("Resumed after the interrupt and finished both parts.");
    expect(labels(issue.number)).toEqual(["harness:done"]);
    expect(git("show", `harness/issue-${issue.number}:part1.txt`)).toBe("before the interrupt");
    expect(git("show", `harness/issue-${issue.number}:part2.txt`)).toBe("after the retry");
    expect(lease(issue.number)).toMatchObject({ state: "released", attempt: 2, sessionId: interrupted.sessionId });
    const pulls = await github.listPulls(OWNER, REPO);
    expect(pulls.map((p) => p.head.ref)).toEqual([`harness/issue-${issue.number}`]);
    github.assertNoViolations();
  });

  it("/status answers with the lease and the queue; commands in quotes or from bots do nothing", async () => {
    const { github } = stack;
    const issue = await github.createIssue(OWNER, REPO, { title: "Idle", body: "nothing", user: "ada" });
    await github.comment(OWNER, REPO, issue.number, "> /interrupt\n\n```\n/retry\n```", { sender: "ada" });
    await github.comment(OWNER, REPO, issue.number, "/status", { sender: "ada" });
    const after = comments(issue.number);
    expect(after.filter((b) => b.startsWith("<!-- harness:status -->"))).toHaveLength(1);
    expect(after.find((b) => b.startsWith("<!-- harness:status -->"))).toContain("never claimed");
    expect(after.filter((b) => b.startsWith("<!-- harness:status -->") || b.includes("Interrupt") || b.includes("Retry"))).toHaveLength(1);
  });

  it("/retry fresh after a failure starts a new session whose prompt carries the last summary", async () => {
    const { github, model } = stack;
    const issue = await github.createIssue(OWNER, REPO, { title: "Flaky", body: "[scenario:flaky] go", user: "ada" });
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    const failed = stack.results.at(-1)!;
    expect(failed.outcome).toBe("api_error");
    expect(labels(issue.number)).toEqual(["harness:failed"]);

    await github.comment(OWNER, REPO, issue.number, "/retry fresh", { sender: "ada" });
    await stack.idle();
    const fresh = stack.results.at(-1)!;
    expect(fresh.outcome).toBe("success");
    expect(fresh.report?.sessionId).not.toBe(failed.report?.sessionId);
    expect(labels(issue.number)).toEqual(["harness:done"]);
    expect(git("show", `harness/issue-${issue.number}:fresh.txt`)).toBe("a fresh start");
    // The new session's prompt named how the last attempt ended and quoted its summary, fenced as untrusted.
    const firstTurn = model.requests.find((r) => r.scenario === "fresh-after-failure" && r.turn === 0);
    const sent = JSON.stringify(firstTurn?.body);
    expect(sent).toContain("the last one ended as api_error");
    expect(sent).toContain("scripted flaky failure");
    expect(sent).toContain("previous-summary (untrusted)");
    // The summary is quoted as a person reads it: its hidden record is left out (the knowledge block carries the attempt).
    expect(sent).not.toContain("harness:record");
    expect(sent).toContain(`attempt 1 summary (session ${failed.report?.sessionId ?? "?"})`);
    expect(lease(issue.number)).toMatchObject({ state: "released", attempt: 2 });
  });

  it("the pull request's draft state follows the latest attempt: draft on failure, ready on success", async () => {
    const { github } = stack;
    const rest = testOctokit({ baseUrl: github.apiUrl, token: github.token });
    const issue = await github.createIssue(OWNER, REPO, { title: "Draft, then ready", body: "[scenario:commit-then-fail] go", user: "ada" });
    const pulls = async (): Promise<{ number: number; draft: boolean | undefined }[]> =>
      (await rest.rest.pulls.list({ owner: OWNER, repo: REPO, state: "open", head: `${OWNER}:harness/issue-${issue.number}` })).data.map((p) => ({
        number: p.number,
        draft: p.draft,
      }));
    const draftChanges = () =>
      github.requestLog
        // Mutations only: every claim also reads the issue's edit history (a GraphQL query).
        .filter((e) => e.path === "/graphql" && e.write && e.issueNumber === issue.number)
        .map((e) => `${e.operationId ?? ""} ${e.status} ${e.write ? "write" : "read"}`);

    // A failed attempt that made commits: its pull request opens as a draft.
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    expect(stack.results.at(-1)?.outcome).toBe("api_error");
    expect(labels(issue.number)).toEqual(["harness:failed"]);
    expect(git("show", `harness/issue-${issue.number}:first.txt`)).toBe("a first try");
    const [pull] = await pulls();
    expect(pull).toMatchObject({ draft: true });
    expect(stack.results.at(-1)?.pullRequest).toBe(pull?.number);
    expect(draftChanges()).toEqual([]);

    // The fresh attempt succeeds: the same pull request, now ready for review.
    await github.comment(OWNER, REPO, issue.number, "/retry fresh", { sender: "ada" });
    await stack.idle();
    expect(stack.results.at(-1)?.outcome).toBe("success");
    expect(labels(issue.number)).toEqual(["harness:done"]);
    expect(await pulls()).toEqual([{ number: pull?.number, draft: false }]);
    expect((await rest.rest.pulls.get({ owner: OWNER, repo: REPO, pull_number: pull?.number ?? 0 })).data.draft).toBe(false);
    expect(draftChanges()).toEqual(["graphql/markPullRequestReadyForReview 200 write"]);

    // Another fresh attempt fails: back to a draft.
    await github.comment(OWNER, REPO, issue.number, "/retry fresh", { sender: "ada" });
    await stack.idle();
    expect(stack.results.at(-1)?.outcome).toBe("api_error");
    expect(git("show", `harness/issue-${issue.number}:again.txt`)).toBe("one more try");
    expect(await pulls()).toEqual([{ number: pull?.number, draft: true }]);
    expect(draftChanges()).toEqual(["graphql/markPullRequestReadyForReview 200 write", "graphql/convertPullRequestToDraft 200 write"]);
    expect(lease(issue.number)).toMatchObject({ state: "released", attempt: 3 });
    github.assertNoViolations();
  });

  it("a refused draft change fails nothing: the issue is done, the pull request stays a draft", async () => {
    const { github } = stack;
    const rest = testOctokit({ baseUrl: github.apiUrl, token: github.token });
    const issue = await github.createIssue(OWNER, REPO, { title: "Ready refused", body: "[scenario:commit-then-fail] go", user: "ada" });
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    expect(stack.results.at(-1)?.outcome).toBe("api_error");
    const pullNumber = stack.results.at(-1)?.pullRequest ?? 0;
    expect((await rest.rest.pulls.get({ owner: OWNER, repo: REPO, pull_number: pullNumber })).data.draft).toBe(true);

    let refused = 0;
    let graphql = 0;
    github.setRequestHook((request) => {
      if (request.operationId !== "graphql") return;
      // The first is the claim's read of the issue's edit history; the mutation comes after it.
      graphql += 1;
      if (graphql === 1) return;
      refused += 1;
      // What GitHub answers an App that may not change the pull request.
      return {
        respond: {
          status: 200,
          body: {
            data: { markPullRequestReadyForReview: null },
            errors: [{ type: "FORBIDDEN", path: ["markPullRequestReadyForReview"], message: "Resource not accessible by integration" }],
          },
        },
      };
    });
    try {
      await github.comment(OWNER, REPO, issue.number, "/retry fresh", { sender: "ada" });
      await stack.idle();
    } finally {
      github.setRequestHook(null);
    }
    expect(refused).toBe(1);
    expect(stack.results.at(-1)).toMatchObject({ outcome: "success", error: null, pullRequest: pullNumber });
    expect(labels(issue.number)).toEqual(["harness:done"]);
    expect((await rest.rest.pulls.get({ owner: OWNER, repo: REPO, pull_number: pullNumber })).data.draft).toBe(true);
    expect(lease(issue.number)).toMatchObject({ state: "released", outcome: "success" });
  });
});
