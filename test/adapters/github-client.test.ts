import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CONVERT_PULL_TO_DRAFT_MUTATION, GitHubClient, MARK_PULL_READY_MUTATION } from "../../src/adapters/github-client.js";
import { WriteBudget } from "../../src/core/write-budget.js";
import { testOctokit } from "../support/octokit.js";

const API = "https://api.github.com";
const NODE_ID = "PR_kwDOABCD1234";

let counts: { read: number; write: number };
let budget: WriteBudget;
const client = (baseUrl = API): GitHubClient =>
  new GitHubClient(testOctokit({ baseUrl }), { owner: "octo", repo: "app" }, { count: (k) => (counts[k] += 1), budget });

beforeEach(() => {
  nock.disableNetConnect();
  counts = { read: 0, write: 0 };
  budget = new WriteBudget();
});

afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  nock.enableNetConnect();
  expect(pending).toEqual([]);
});

describe("GitHubClient.setPullDraft", () => {
  it("marks a pull request ready for review with GraphQL, by its node id, for one essential write", async () => {
    let sent: { query?: string; variables?: Record<string, unknown> } | undefined;
    nock(API)
      .post("/graphql", (body: typeof sent) => ((sent = body), true))
      .reply(200, { data: { markPullRequestReadyForReview: { pullRequest: { id: NODE_ID, isDraft: false } } } });
    expect(await client().setPullDraft({ nodeId: NODE_ID }, false)).toBe(false);
    expect(sent).toEqual({ query: MARK_PULL_READY_MUTATION, variables: { pullRequestId: NODE_ID } });
    expect(counts).toEqual({ read: 0, write: 1 });
    expect(budget.stats.essential).toBe(1);
  });

  it("converts a pull request back to a draft", async () => {
    nock(API)
      .post("/graphql", { query: CONVERT_PULL_TO_DRAFT_MUTATION, variables: { pullRequestId: NODE_ID } })
      .reply(200, { data: { convertPullRequestToDraft: { pullRequest: { id: NODE_ID, isDraft: true } } } });
    expect(await client().setPullDraft({ nodeId: NODE_ID }, true)).toBe(true);
    expect(counts).toEqual({ read: 0, write: 1 });
  });

  it("sends GraphQL to /api/graphql on GitHub Enterprise Server", async () => {
    nock("https://ghe.example")
      .post("/api/graphql", { query: MARK_PULL_READY_MUTATION, variables: { pullRequestId: NODE_ID } })
      .reply(200, { data: { markPullRequestReadyForReview: { pullRequest: { id: NODE_ID, isDraft: false } } } });
    expect(await client("https://ghe.example/api/v3").setPullDraft({ nodeId: NODE_ID }, false)).toBe(false);
  });

  it("throws GitHub's GraphQL errors (HTTP 200 with errors), having spent the write", async () => {
    nock(API)
      .post("/graphql")
      .reply(200, {
        data: { markPullRequestReadyForReview: null },
        errors: [
          {
            type: "NOT_FOUND",
            path: ["markPullRequestReadyForReview"],
            locations: [{ line: 2, column: 3 }],
            message: `Could not resolve to a node with the global id of '${NODE_ID}'`,
          },
        ],
      });
    await expect(client().setPullDraft({ nodeId: NODE_ID }, false)).rejects.toMatchObject({ name: "GraphqlResponseError", errors: [{ type: "NOT_FOUND" }] });
    expect(counts).toEqual({ read: 0, write: 1 });
  });
});

describe("GitHubClient pull requests carry their node id", () => {
  it("from the list of open pull requests and from the one it creates", async () => {
    const pull = { number: 9, node_id: NODE_ID, draft: true, html_url: "https://github.com/octo/app/pull/9" };
    nock(API)
      .get("/repos/octo/app/pulls")
      .query({ state: "open", head: "octo:harness/issue-7", base: "main" })
      .reply(200, [pull])
      .post("/repos/octo/app/pulls")
      .reply(201, pull);
    const github = client();
    expect(await github.findOpenPull("harness/issue-7", "main")).toEqual({ number: 9, nodeId: NODE_ID, draft: true, url: pull.html_url });
    expect(await github.createPull({ head: "harness/issue-7", base: "main", title: "t", body: "b", draft: true })).toEqual({
      number: 9,
      nodeId: NODE_ID,
      draft: true,
      url: pull.html_url,
    });
  });
});
