import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient, isPullExists, PULL_FIND_READS } from "../../src/adapters/github-client.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { testOctokit } from "../support/octokit.js";

// Read-after-write lag: GitHub's pull request list may not show a pull request just
// created. The harness's findOpenPull then misses it, the create answers GitHub's
// `422 "A pull request already exists for owner:branch."`, and openPull finds and
// updates that one instead of failing the publication.

const OWNER = "octo";
const REPO = "lag";

let github: FakeGitHub;
let client: GitHubClient;
let work: string;

const run = promisify(execFile);

// Async: the fake answers git in this very process, so a synchronous git would wait for itself.
async function git(...args: string[]): Promise<void> {
  await run("git", args, { cwd: work });
}

/** Pushes a new branch with one commit, as the publisher's push does. */
async function pushBranch(branch: string): Promise<void> {
  await git("checkout", "-q", "-B", branch, "origin/main");
  writeFileSync(path.join(work, `${branch.replace(/\//g, "-")}.txt`), `${branch}\n`);
  await git("add", "-A");
  await git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", branch);
  await git("push", "-q", "origin", `HEAD:refs/heads/${branch}`);
}

beforeAll(async () => {
  github = await startFakeGitHub({ strict: true });
  await github.createRepo({ owner: OWNER, name: REPO });
  client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
  work = mkdtempSync(path.join(tmpdir(), "pull-lag-"));
  const url = new URL(github.gitUrl(OWNER, REPO));
  url.username = "x-access-token";
  url.password = github.token;
  await run("git", ["clone", "-q", url.toString(), work]);
});

afterAll(async () => {
  await github?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("a pull request list that lags behind the create", () => {
  it("the fake hides a new pull request from the next N list reads, then lists it", async () => {
    await pushBranch("harness/issue-1");
    github.setReadLag({ pullLists: 2 });
    const created = await client.createPull({ head: "harness/issue-1", base: "main", title: "one", body: "b", draft: false });
    github.setReadLag({ pullLists: 0 });
    expect(await client.findOpenPull("harness/issue-1", "main")).toBeNull();
    expect(await client.findOpenPull("harness/issue-1", "main")).toBeNull();
    expect((await client.findOpenPull("harness/issue-1", "main"))?.number).toBe(created.number);
  });

  it('openPull: "A pull request already exists" is answered by finding that one and updating it', async () => {
    await pushBranch("harness/issue-2");
    const first = await client.createPull({ head: "harness/issue-2", base: "main", title: "old title", body: "old body", draft: false });
    // The harness's own look-up misses it, as after a lagging list.
    github.hidePullFromLists(OWNER, REPO, first.number, 1);
    expect(await client.findOpenPull("harness/issue-2", "main")).toBeNull();
    github.hidePullFromLists(OWNER, REPO, first.number, 2);

    const start = github.requestLog.length;
    const opened = await client.openPull({ head: "harness/issue-2", base: "main", title: "new title", body: "new body", draft: false });
    expect(opened).toMatchObject({ number: first.number, existed: true });
    const ops = github.requestLog.slice(start).map((e) => `${e.operationId} ${e.status}`);
    // Refused as a duplicate, the list read until it shows it (twice hidden), then updated.
    expect(ops).toEqual(["pulls/create 422", "pulls/list 200", "pulls/list 200", "pulls/list 200", "pulls/update 200"]);
    const pulls = (await github.listPulls(OWNER, REPO)).filter((p) => p.head.ref === "harness/issue-2");
    expect(pulls).toHaveLength(1);
    expect(pulls[0]).toMatchObject({ title: "new title", body: "new body" });
    github.assertNoViolations();
  });

  it("GitHub's duplicate answer is recognized, and a list that never shows it ends in a coded error", async () => {
    await pushBranch("harness/issue-3");
    const first = await client.createPull({ head: "harness/issue-3", base: "main", title: "t", body: "b", draft: false });
    const duplicate = await client.createPull({ head: "harness/issue-3", base: "main", title: "t", body: "b", draft: false }).catch((e: unknown) => e);
    expect(duplicate).toMatchObject({
      status: 422,
      response: {
        data: {
          message: "Validation Failed",
          errors: [{ resource: "PullRequest", code: "custom", message: `A pull request already exists for ${OWNER}:harness/issue-3.` }],
        },
      },
    });
    expect(isPullExists(duplicate)).toBe(true);
    github.hidePullFromLists(OWNER, REPO, first.number, PULL_FIND_READS + 1);
    await expect(client.openPull({ head: "harness/issue-3", base: "main", title: "t", body: "b", draft: false })).rejects.toMatchObject({
      code: "EHARNESS_GITHUB",
    });
  });
});
