import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GitHubClient, processWriteBudgets } from "../../src/adapters/github-client.js";
import { installRequestAccount } from "../../src/adapters/github-requests/install-request-account.js";
import { RequestAccount } from "../../src/adapters/github-requests/request-account.js";
import { WriteDropped } from "../../src/adapters/github-requests/write-dropped.js";
import { HarnessOctokit } from "../../src/adapters/octokit.js";
import { WriteBudget } from "../../src/core/write-budget.js";
import { testOctokit } from "../support/octokit.js";

const API = "https://api.github.com";

let counts: { read: number; write: number };
const count = (kind: "read" | "write"): void => void (counts[kind] += 1);

beforeEach(() => {
  nock.disableNetConnect();
  counts = { read: 0, write: 0 };
});

afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  nock.enableNetConnect();
  expect(pending).toEqual([]);
});

/** A budget whose window is full to its cosmetic cap: essential writes still pass, cosmetic ones are dropped. */
function shortBudget(): WriteBudget {
  const budget = new WriteBudget({ perMinute: 4, perHour: 100, reserve: 0.5, now: () => 1_000_000 });
  budget.tryCosmetic();
  budget.tryCosmetic();
  return budget;
}

describe("the request hook on an Octokit", () => {
  it("counts and budgets a request made directly through the Octokit, not through GitHubClient", async () => {
    const octokit = testOctokit();
    const budget = new WriteBudget();
    installRequestAccount(octokit, new RequestAccount(budget, count));
    nock(API).get("/repos/octo/app/issues/1").reply(200, { number: 1 }).post("/repos/octo/app/issues/1/comments").reply(201, { id: 5 });
    await octokit.rest.issues.get({ owner: "octo", repo: "app", issue_number: 1 });
    await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", { owner: "octo", repo: "app", issue_number: 1, body: "hi" });
    expect(counts).toEqual({ read: 1, write: 1 });
    expect(budget.stats.essential).toBe(1);
  });

  it("a direct write waits for an essential slot before it is sent", async () => {
    let t = 0;
    const waits: number[] = [];
    const budget = new WriteBudget({ perMinute: 1, perHour: 100, now: () => t, sleep: async (ms) => void (waits.push(ms), (t += ms)) });
    const octokit = testOctokit();
    installRequestAccount(octokit, new RequestAccount(budget, count));
    nock(API).patch("/repos/octo/app/issues/1").times(2).reply(200, { number: 1 });
    await octokit.rest.issues.update({ owner: "octo", repo: "app", issue_number: 1, title: "a" });
    await octokit.rest.issues.update({ owner: "octo", repo: "app", issue_number: 1, title: "b" });
    expect(waits).toEqual([60_001]);
    expect(budget.stats).toMatchObject({ essential: 2, waitedMs: 60_001 });
  });

  it("drops a cosmetic write when only the reserve is left, sending nothing and saying so (WriteDropped)", async () => {
    const octokit = testOctokit();
    const budget = shortBudget();
    installRequestAccount(octokit, new RequestAccount(budget, count));
    // No interceptor: a request that reached the network would fail with nock's "no match".
    await expect(
      octokit.rest.issues.updateComment({ owner: "octo", repo: "app", comment_id: 9, body: "progress", request: { harnessWriteClass: "cosmetic" } }),
    ).rejects.toBeInstanceOf(WriteDropped);
    expect(budget.stats.dropped).toBe(1);
    expect(counts).toEqual({ read: 0, write: 0 });
    // An essential write still passes the same budget.
    nock(API).patch("/repos/octo/app/issues/comments/9").reply(200, { id: 9 });
    await octokit.rest.issues.updateComment({ owner: "octo", repo: "app", comment_id: 9, body: "summary" });
    expect(counts).toEqual({ read: 0, write: 1 });
  });

  it("takes GraphQL queries for reads and mutations for writes", async () => {
    const octokit = testOctokit();
    const budget = new WriteBudget();
    installRequestAccount(octokit, new RequestAccount(budget, count));
    nock(API)
      .post("/graphql")
      .reply(200, { data: { viewer: { login: "x" } } })
      .post("/graphql")
      .reply(200, { data: { addStar: null } });
    await octokit.graphql("query { viewer { login } }");
    expect(counts).toEqual({ read: 1, write: 0 });
    await octokit.graphql('# star it\nmutation { addStar(input: {starrableId: "x"}) { clientMutationId } }');
    expect(counts).toEqual({ read: 1, write: 1 });
    expect(budget.stats.essential).toBe(1);
  });

  it("does not count a 304 (GitHub does not either), and counts a failed read", async () => {
    const octokit = testOctokit();
    installRequestAccount(octokit, new RequestAccount(new WriteBudget(), count));
    nock(API).get("/repos/octo/app").reply(304, "").get("/repos/octo/app").reply(500, { message: "boom" });
    await expect(octokit.rest.repos.get({ owner: "octo", repo: "app", headers: { "if-none-match": '"x"' } })).rejects.toMatchObject({ status: 304 });
    expect(counts.read).toBe(0);
    await expect(octokit.rest.repos.get({ owner: "octo", repo: "app" })).rejects.toMatchObject({ status: 500 });
    expect(counts.read).toBe(1);
  });

  it("is installed once per Octokit: a second install is a no-op, no request is counted twice", async () => {
    const octokit = testOctokit();
    const first = new RequestAccount(new WriteBudget(), count);
    expect(installRequestAccount(octokit, first)).toBe(first);
    expect(installRequestAccount(octokit, new RequestAccount(new WriteBudget(), count))).toBe(first);
    nock(API).get("/repos/octo/app").reply(200, {});
    await octokit.rest.repos.get({ owner: "octo", repo: "app" });
    expect(counts.read).toBe(1);
  });
});

describe("GitHubClient over the hook", () => {
  it("counts its own requests and those made through client.api on the client's account, not the Octokit's", async () => {
    const octokit = testOctokit();
    const fallback = { read: 0, write: 0 };
    installRequestAccount(octokit, new RequestAccount(new WriteBudget(), (k) => void (fallback[k] += 1)));
    const budget = new WriteBudget();
    const github = new GitHubClient(octokit, { owner: "octo", repo: "app" }, { count, budget });
    nock(API)
      .get("/repos/octo/app/issues/1")
      .reply(200, { number: 1, title: "t", body: "", labels: [], state: "open" })
      .put("/repos/octo/app/issues/1/labels")
      .reply(200, [])
      .get("/repos/octo/app/git/commits/abc")
      .reply(200, { sha: "abc", message: "m", parents: [] })
      .post("/repos/octo/app/issues/1/comments")
      .reply(201, { id: 3 });
    await github.getIssue(1);
    await github.setLabels(1, ["x"]);
    // A caller that still counts by hand: countRead() counts nothing now, the hook does.
    github.countRead();
    await github.api.rest.git.getCommit({ owner: "octo", repo: "app", commit_sha: "abc" });
    expect(counts).toEqual({ read: 2, write: 1 });
    expect(budget.stats.essential).toBe(1);
    // The raw Octokit, used directly beside the client, is counted on its own account.
    await octokit.rest.issues.createComment({ owner: "octo", repo: "app", issue_number: 1, body: "direct" });
    expect(fallback).toEqual({ read: 0, write: 1 });
    expect(counts).toEqual({ read: 2, write: 1 });
  });

  it("reports a dropped cosmetic edit as false, sending nothing, and sends an essential one", async () => {
    const github = new GitHubClient(testOctokit(), { owner: "octo", repo: "app" }, { count, budget: shortBudget() });
    expect(await github.updateComment(9, "progress", "cosmetic")).toBe(false);
    nock(API).patch("/repos/octo/app/issues/comments/9").reply(200, { id: 9 });
    expect(await github.updateComment(9, "summary")).toBe(true);
    expect(counts).toEqual({ read: 0, write: 1 });
  });

  it("HarnessOctokit installs the hook itself, on its installation's budget", async () => {
    const key = `installation:${424242}`;
    const budget = processWriteBudgets.for(key);
    const before = budget.stats.essential;
    const octokit = new HarnessOctokit({
      auth: { token: "t", installationId: 424242 },
      throttle: { enabled: false },
      retry: { enabled: false },
    } as unknown as ConstructorParameters<typeof HarnessOctokit>[0]);
    nock(API).post("/repos/octo/app/issues/1/comments").reply(201, { id: 1 });
    await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", { owner: "octo", repo: "app", issue_number: 1, body: "x" });
    expect(budget.stats.essential).toBe(before + 1);
  });
});
