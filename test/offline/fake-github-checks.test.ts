import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import type { GitHubApi } from "../../src/adapters/github-client.js";
import { testOctokit } from "../support/octokit.js";

// Check runs and suites, commit statuses, reviews and mergeability in the fake, as GitHub's
// REST API and webhooks have them (strict: every answer is checked against the description).

const OWNER = "octo";
const REPO = "ci";
const run = promisify(execFile);

let fake: FakeGitHub;
let octokit: GitHubApi;
let work: string;
let receiver: Server;
const received: Array<{ event: string; body: Record<string, unknown> }> = [];

async function git(...args: string[]): Promise<string> {
  return (await run("git", args, { cwd: work })).stdout.trim();
}

/** Pushes `branch` from main with `file` set to `content`; returns its head. */
async function pushBranch(branch: string, file: string, content: string): Promise<string> {
  await git("fetch", "-q", "origin");
  await git("checkout", "-q", "-B", branch, "origin/main");
  writeFileSync(path.join(work, file), content);
  await git("add", "-A");
  await git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", `${branch}: ${file}`);
  await git("push", "-q", "origin", `HEAD:refs/heads/${branch}`);
  return git("rev-parse", "HEAD");
}

beforeAll(async () => {
  fake = await startFakeGitHub({ restWebhooks: true });
  await fake.createRepo({ owner: OWNER, name: REPO, files: { "README.md": "# ci\n", "app.txt": "one\ntwo\nthree\n" }, collaborators: { ada: "write" } });
  octokit = testOctokit({ baseUrl: fake.apiUrl, token: fake.token });
  work = mkdtempSync(path.join(tmpdir(), "fake-checks-"));
  const url = new URL(fake.gitUrl(OWNER, REPO));
  url.username = "x-access-token";
  url.password = fake.token;
  await run("git", ["clone", "-q", url.toString(), work]);
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ event: String(req.headers["x-github-event"]), body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown> });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  fake.setWebhook({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, secret: "s" });
});

afterAll(async () => {
  await fake?.close();
  await new Promise<void>((r) => receiver.close(() => r()));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("check runs and check suites", () => {
  it("a failed check's log is read back per ref, its suite concludes failure, and check_suite.completed is delivered once", async () => {
    const head = await pushBranch("harness/issue-1", "one.txt", "1\n");
    const pr = await octokit.request("POST /repos/{owner}/{repo}/pulls", { owner: OWNER, repo: REPO, title: "one", head: "harness/issue-1", base: "main" });
    received.length = 0;
    await fake.startCheck(OWNER, REPO, head, "lint");
    await fake.failCheck(OWNER, REPO, "harness/issue-1", "test", "FAIL test/x.test.ts\nexpected 2, got 3\n");
    // The suite is not complete while lint runs: no check_suite yet.
    expect(received.filter((d) => d.event === "check_suite")).toHaveLength(0);
    await fake.passCheck(OWNER, REPO, head, "lint");
    const suites = received.filter((d) => d.event === "check_suite");
    expect(suites).toHaveLength(1);
    const suite = suites[0]?.body.check_suite as { conclusion: string; head_sha: string; pull_requests: Array<{ number: number }> };
    expect(suite.conclusion).toBe("failure");
    expect(suite.head_sha).toBe(head);
    expect(suite.pull_requests.map((p) => p.number)).toEqual([pr.data.number]);
    expect(received.filter((d) => d.event === "check_run").map((d) => d.body.action)).toEqual(["created", "created", "completed", "completed"]);

    const runs = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", { owner: OWNER, repo: REPO, ref: head });
    const byName = Object.fromEntries(runs.data.check_runs.map((r) => [r.name, r]));
    expect(runs.data.total_count).toBe(2);
    expect(byName.test?.conclusion).toBe("failure");
    expect(byName.test?.output.text).toContain("expected 2, got 3");
    expect(byName.lint?.conclusion).toBe("success");
    const listed = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}/check-suites", { owner: OWNER, repo: REPO, ref: "harness/issue-1" });
    expect(listed.data.check_suites.map((s) => [s.app?.slug, s.conclusion, s.latest_check_runs_count])).toEqual([["github-actions", "failure", 2]]);
  });

  it("REST creates a check run in progress; a conclusion completes it", async () => {
    const head = await pushBranch("harness/issue-2", "two.txt", "2\n");
    const created = await octokit.request("POST /repos/{owner}/{repo}/check-runs", {
      owner: OWNER,
      repo: REPO,
      name: "build",
      head_sha: head,
      status: "in_progress",
    });
    expect(created.status).toBe(201);
    expect(created.data.status).toBe("in_progress");
    // (`status: "completed"` without a conclusion is refused by GitHub's description itself.)
    const done = await octokit.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
      owner: OWNER,
      repo: REPO,
      check_run_id: created.data.id,
      conclusion: "success",
      output: { title: "ok", summary: "built" },
    });
    expect(done.data.status).toBe("completed");
    expect(done.data.completed_at).not.toBeNull();
    await fake.settled();
    fake.assertNoViolations();
  });
});

describe("commit statuses", () => {
  it("the combined status is the newest per context: failure on any failure, pending with none, success when all passed", async () => {
    const head = await pushBranch("harness/issue-3", "three.txt", "3\n");
    const combined = async (): Promise<{ state: string; total: number }> => {
      const r = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}/status", { owner: OWNER, repo: REPO, ref: head });
      return { state: r.data.state, total: r.data.total_count };
    };
    expect(await combined()).toEqual({ state: "pending", total: 0 });
    received.length = 0;
    await fake.setStatus(OWNER, REPO, head, { state: "failure", context: "ci/build", description: "broke" });
    expect(await combined()).toEqual({ state: "failure", total: 1 });
    const status = received.find((d) => d.event === "status")?.body;
    expect(status).toMatchObject({ sha: head, state: "failure", context: "ci/build" });
    expect(status && "action" in status).toBe(false);
    await octokit.request("POST /repos/{owner}/{repo}/statuses/{sha}", { owner: OWNER, repo: REPO, sha: head, state: "success", context: "ci/build" });
    expect(await combined()).toEqual({ state: "success", total: 1 });
    fake.assertNoViolations();
  });
});

describe("reviews", () => {
  it("a writer requests changes with a body; pull_request_review.submitted carries it; one's own pull request and an empty body are refused", async () => {
    await pushBranch("harness/issue-4", "four.txt", "4\n");
    const pr = await octokit.request("POST /repos/{owner}/{repo}/pulls", { owner: OWNER, repo: REPO, title: "four", head: "harness/issue-4", base: "main" });
    received.length = 0;
    await fake.submitReview(OWNER, REPO, pr.data.number, { event: "REQUEST_CHANGES", body: "Rename x to y." }, { sender: "ada" });
    const delivery = received.find((d) => d.event === "pull_request_review")?.body as {
      action: string;
      review: { state: string; body: string; user: { login: string } };
      pull_request: { number: number };
    };
    expect(delivery.action).toBe("submitted");
    expect(delivery.review).toMatchObject({ state: "changes_requested", body: "Rename x to y.", user: { login: "ada" } });
    expect(delivery.pull_request.number).toBe(pr.data.number);
    const reviews = await octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", { owner: OWNER, repo: REPO, pull_number: pr.data.number });
    expect(reviews.data.map((r) => [r.user?.login, r.state])).toEqual([["ada", "CHANGES_REQUESTED"]]);
    // The static token's user opened the pull request: it may not request changes on it.
    await expect(
      octokit.request("POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews", {
        owner: OWNER,
        repo: REPO,
        pull_number: pr.data.number,
        event: "REQUEST_CHANGES",
        body: "no",
      }),
    ).rejects.toMatchObject({ status: 422, response: { data: { errors: ["Can not request changes on your own pull request"] } } });
    await expect(fake.submitReview(OWNER, REPO, pr.data.number, { event: "COMMENT", body: "" }, { sender: "ada" })).rejects.toMatchObject({ status: 422 });
    fake.assertNoViolations();
  });
});

describe("mergeability", () => {
  const readPull = async (n: number): Promise<{ mergeable: boolean | null; state: string }> => {
    const r = await octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", { owner: OWNER, repo: REPO, pull_number: n });
    return { mergeable: r.data.mergeable, state: r.data.mergeable_state };
  };

  it("is computed from git: clean, then dirty once the base changes the same lines, unknown for the lagged reads after a push", async () => {
    await pushBranch("harness/issue-5", "app.txt", "one\nTWO from the branch\nthree\n");
    const pr = await octokit.request("POST /repos/{owner}/{repo}/pulls", { owner: OWNER, repo: REPO, title: "five", head: "harness/issue-5", base: "main" });
    expect(await readPull(pr.data.number)).toEqual({ mergeable: true, state: "clean" });
    // A base change elsewhere in the tree keeps it mergeable.
    await fake.pushToBranch(OWNER, REPO, "main", { "other.txt": "x\n" }, "unrelated");
    expect(await readPull(pr.data.number)).toEqual({ mergeable: true, state: "clean" });
    fake.setMergeabilityLag(2);
    await fake.pushToBranch(OWNER, REPO, "main", { "app.txt": "one\nTWO from main\nthree\n" }, "conflicting");
    expect(await readPull(pr.data.number)).toEqual({ mergeable: null, state: "unknown" });
    expect(await readPull(pr.data.number)).toEqual({ mergeable: null, state: "unknown" });
    expect(await readPull(pr.data.number)).toEqual({ mergeable: false, state: "dirty" });
    fake.setMergeabilityLag(0);
  });

  it("is blocked while a required check has not passed, unstable while another fails, draft for a draft", async () => {
    const head = await pushBranch("harness/issue-6", "six.txt", "6\n");
    const pr = await octokit.request("POST /repos/{owner}/{repo}/pulls", { owner: OWNER, repo: REPO, title: "six", head: "harness/issue-6", base: "main" });
    fake.setRequiredChecks(OWNER, REPO, "main", ["test"]);
    try {
      expect(await readPull(pr.data.number)).toEqual({ mergeable: true, state: "blocked" });
      await fake.failCheck(OWNER, REPO, head, "test", "boom");
      expect((await readPull(pr.data.number)).state).toBe("blocked");
      await fake.passCheck(OWNER, REPO, head, "test");
      expect((await readPull(pr.data.number)).state).toBe("clean");
      await fake.setStatus(OWNER, REPO, head, { state: "failure", context: "optional/lint" });
      expect((await readPull(pr.data.number)).state).toBe("unstable");
    } finally {
      fake.setRequiredChecks(OWNER, REPO, "main", []);
    }
    await pushBranch("harness/issue-7", "seven.txt", "7\n");
    const draft = await octokit.request("POST /repos/{owner}/{repo}/pulls", {
      owner: OWNER,
      repo: REPO,
      title: "seven",
      head: "harness/issue-7",
      base: "main",
      draft: true,
    });
    expect(await readPull(draft.data.number)).toEqual({ mergeable: true, state: "draft" });
    fake.assertNoViolations();
  });

  it("shows classic protection's required checks in the branch, and a ruleset's in the branch's rules; either blocks the merge", async () => {
    const head = await pushBranch("harness/issue-8", "eight.txt", "8\n");
    const pr = await octokit.request("POST /repos/{owner}/{repo}/pulls", { owner: OWNER, repo: REPO, title: "eight", head: "harness/issue-8", base: "main" });
    const branch = async () => (await octokit.request("GET /repos/{owner}/{repo}/branches/{branch}", { owner: OWNER, repo: REPO, branch: "main" })).data;
    const rules = async () => (await octokit.request("GET /repos/{owner}/{repo}/rules/branches/{branch}", { owner: OWNER, repo: REPO, branch: "main" })).data;
    expect(await branch()).toMatchObject({ protected: false, protection: { enabled: false, required_status_checks: { contexts: [] } } });
    expect(await rules()).toEqual([]);
    fake.setRequiredChecks(OWNER, REPO, "main", ["test"]);
    fake.setRequiredChecks(OWNER, REPO, "main", ["build"], { via: "ruleset" });
    try {
      expect(await branch()).toMatchObject({
        protected: true,
        protection: { enabled: true, required_status_checks: { contexts: ["test"], checks: [{ context: "test", app_id: null }] } },
      });
      expect(await rules()).toMatchObject([
        { type: "required_status_checks", parameters: { required_status_checks: [{ context: "build" }] }, ruleset_source_type: "Repository" },
      ]);
      await fake.passCheck(OWNER, REPO, head, "test");
      expect((await readPull(pr.data.number)).state).toBe("blocked");
      await fake.passCheck(OWNER, REPO, head, "build");
      expect((await readPull(pr.data.number)).state).toBe("clean");
    } finally {
      fake.setRequiredChecks(OWNER, REPO, "main", []);
      fake.setRequiredChecks(OWNER, REPO, "main", [], { via: "ruleset" });
    }
    expect((await branch()).protected).toBe(false);
    expect(await rules()).toEqual([]);
    fake.assertNoViolations();
  });
});
