import { Octokit } from "@octokit/rest";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CONVERT_PULL_TO_DRAFT_MUTATION, MARK_PULL_READY_MUTATION } from "../../src/adapters/github-client.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { GitHubGraphQl } from "../../src/offline/fake-github/graphql.js";

const OWNER = "acme";
const REPO = "drafts";
const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const client = (baseUrl: string, auth?: string): Octokit => new Octokit({ baseUrl, auth, log: quiet });

interface DraftResult {
  markPullRequestReadyForReview?: { pullRequest: { id: string; isDraft: boolean } };
  convertPullRequestToDraft?: { pullRequest: { id: string; isDraft: boolean } };
}

describe("fake GitHub's GraphQL endpoint (validated against GitHub's GraphQL schema)", () => {
  let fake: FakeGitHub;
  let octokit: Octokit;
  /** POSTs a GraphQL request as is, for the exact status and body. */
  const post = async (body: unknown, token: string | null = fake.token): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${fake.apiUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `bearer ${token}` } : {}) },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  /** A draft pull request from `harness/issue-N` (one commit on the empty tree) into main. */
  async function draftPull(issueNumber: number): Promise<{ number: number; nodeId: string }> {
    const { data: main } = await octokit.git.getRef({ owner: OWNER, repo: REPO, ref: "heads/main" });
    const { data: commit } = await octokit.git.createCommit({ owner: OWNER, repo: REPO, message: "work", tree: EMPTY_TREE, parents: [main.object.sha] });
    await octokit.git.createRef({ owner: OWNER, repo: REPO, ref: `refs/heads/harness/issue-${issueNumber}`, sha: commit.sha });
    const { data: pr } = await octokit.pulls.create({
      owner: OWNER,
      repo: REPO,
      head: `harness/issue-${issueNumber}`,
      base: "main",
      title: "Work",
      body: `Closes #${issueNumber}`,
      draft: true,
    });
    return { number: pr.number, nodeId: pr.node_id };
  }

  const restDraft = async (n: number): Promise<boolean | undefined> => (await octokit.pulls.get({ owner: OWNER, repo: REPO, pull_number: n })).data.draft;

  beforeAll(async () => {
    fake = await startFakeGitHub({ strict: true });
    await fake.createRepo({ owner: OWNER, name: REPO, files: { "README.md": "# drafts\n" } });
    octokit = client(fake.apiUrl, fake.token);
  });

  afterAll(async () => {
    await fake?.close();
  });

  beforeEach(() => {
    fake.clearViolations();
  });

  it("marks a pull request ready and converts it back to a draft, as REST then shows", async () => {
    const issue = await fake.createIssue(OWNER, REPO, { title: "Ready" });
    const pr = await draftPull(issue.number);
    // One node per pull request: the issues API names the same one.
    expect((await octokit.issues.get({ owner: OWNER, repo: REPO, issue_number: pr.number })).data.node_id).toBe(pr.nodeId);
    expect(await restDraft(pr.number)).toBe(true);

    const ready = await octokit.graphql<DraftResult>(MARK_PULL_READY_MUTATION, { pullRequestId: pr.nodeId });
    expect(ready).toEqual({ markPullRequestReadyForReview: { pullRequest: { id: pr.nodeId, isDraft: false } } });
    expect(await restDraft(pr.number)).toBe(false);
    expect((await fake.listPulls(OWNER, REPO)).find((p) => p.number === pr.number)?.draft).toBe(false);

    const draft = await octokit.graphql<DraftResult>(CONVERT_PULL_TO_DRAFT_MUTATION, { pullRequestId: pr.nodeId });
    expect(draft).toEqual({ convertPullRequestToDraft: { pullRequest: { id: pr.nodeId, isDraft: true } } });
    expect(await restDraft(pr.number)).toBe(true);

    // Logged as writes of the API, counted for the issue the branch works; changes attributed.
    const logged = fake.requestLog.filter((e) => e.path === "/graphql");
    expect(logged).toMatchObject([
      {
        kind: "rest",
        method: "POST",
        operationId: "graphql/markPullRequestReadyForReview",
        status: 200,
        write: true,
        actor: "harness-tester",
        issueNumber: issue.number,
      },
      {
        kind: "rest",
        method: "POST",
        operationId: "graphql/convertPullRequestToDraft",
        status: 200,
        write: true,
        actor: "harness-tester",
        issueNumber: issue.number,
      },
    ]);
    expect(fake.changes.filter((c) => c.issueNumber === pr.number && c.action.startsWith("pull.")).map((c) => c.action)).toEqual([
      "pull.created",
      "pull.ready_for_review",
      "pull.converted_to_draft",
    ]);
    // Already a draft: nothing changes, and the answer says so.
    expect(await octokit.graphql<DraftResult>(CONVERT_PULL_TO_DRAFT_MUTATION, { pullRequestId: pr.nodeId })).toEqual({
      convertPullRequestToDraft: { pullRequest: { id: pr.nodeId, isDraft: true } },
    });
    expect(fake.changes.filter((c) => c.issueNumber === pr.number && c.action === "pull.converted_to_draft")).toHaveLength(1);

    // The schema is built once per process.
    expect(GitHubGraphQl.buildMs).toBeGreaterThan(0);
    expect(GitHubGraphQl.shared()).toBe(GitHubGraphQl.shared());
    fake.assertNoViolations();
  });

  it("answers a query that does not validate against GitHub's schema as GitHub does, and records a violation", async () => {
    const issue = await fake.createIssue(OWNER, REPO, { title: "Invalid" });
    const pr = await draftPull(issue.number);
    const query = `mutation($id: ID!) { markPullRequestReadyForReview(input: { pullRequestId: $id }) { pullRequest { id isReady } } }`;
    const invalid = await post({ query, variables: { id: pr.nodeId } });
    expect(invalid.status).toBe(200);
    expect(invalid.body.data).toBeUndefined();
    expect(invalid.body.errors).toEqual([{ locations: [{ line: 1, column: 102 }], message: 'Cannot query field "isReady" on type "PullRequest".' }]);
    expect(await restDraft(pr.number)).toBe(true);
    expect(fake.violations).toMatchObject([{ kind: "request-body", method: "POST", path: "/graphql", operationId: "graphql/markPullRequestReadyForReview" }]);
    expect(fake.violations[0]?.message).toContain('Cannot query field "isReady"');
    expect(() => fake.assertNoViolations()).toThrow(/request-body/);
    fake.clearViolations();

    // A syntax error, a variable of the wrong type, a body without a query: the same.
    expect((await post({ query: "mutation { markPullRequestReadyForReview(" })).body.errors).toMatchObject([
      { message: expect.stringContaining("Syntax Error") },
    ]);
    expect((await post({ query: MARK_PULL_READY_MUTATION, variables: { pullRequestId: 42.5 } })).body.errors).toMatchObject([
      { message: expect.stringContaining("$pullRequestId") },
    ]);
    expect((await post({ variables: {} })).body).toEqual({ errors: [{ message: "A query attribute must be specified and must be a string." }] });
    expect(fake.violations.map((v) => v.kind)).toEqual(["request-body", "request-body", "request-body"]);
    fake.clearViolations();

    // Valid against the schema, but not something the fake answers: a violation that names it.
    const viewer = await post({ query: "query { viewer { login } }" });
    expect(viewer.status).toBe(200);
    // `viewer` is non-null in the schema, so the whole `data` is null.
    expect(viewer.body).toMatchObject({ data: null, errors: [{ path: ["viewer"], message: "fake-github does not implement Query.viewer" }] });
    expect(fake.violations).toMatchObject([{ kind: "not-implemented", operationId: "graphql/viewer", message: expect.stringContaining("Query.viewer") }]);
    fake.clearViolations();
  });

  it("answers an unknown node id with GitHub's NOT_FOUND error", async () => {
    const issue = await fake.createIssue(OWNER, REPO, { title: "Not a pull request" });
    const issueNode = (await octokit.issues.get({ owner: OWNER, repo: REPO, issue_number: issue.number })).data.node_id;
    for (const id of ["PR_kwDOnothing", issueNode, Buffer.from("0:PullRequest999999").toString("base64")]) {
      const res = await post({ query: MARK_PULL_READY_MUTATION, variables: { pullRequestId: id } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        data: { markPullRequestReadyForReview: null },
        errors: [
          {
            type: "NOT_FOUND",
            path: ["markPullRequestReadyForReview"],
            locations: [{ line: 2, column: 3 }],
            message: `Could not resolve to a node with the global id of '${id}'`,
          },
        ],
      });
    }
    // Octokit turns it into an error.
    await expect(octokit.graphql(MARK_PULL_READY_MUTATION, { pullRequestId: "PR_kwDOnothing" })).rejects.toMatchObject({
      name: "GraphqlResponseError",
      errors: [{ type: "NOT_FOUND" }],
    });
    fake.assertNoViolations();
  });

  it("refuses an unauthenticated or unauthorised request like REST", async () => {
    const issue = await fake.createIssue(OWNER, REPO, { title: "Auth" });
    const pr = await draftPull(issue.number);
    const status = async (p: Promise<unknown>): Promise<number> =>
      p.then(
        () => 200,
        (err: { status?: number }) => err.status ?? -1,
      );

    const anonymous = client(fake.apiUrl);
    expect(await status(anonymous.pulls.update({ owner: OWNER, repo: REPO, pull_number: pr.number, body: "x" }))).toBe(401);
    expect(await status(anonymous.graphql(MARK_PULL_READY_MUTATION, { pullRequestId: pr.nodeId }))).toBe(401);
    expect(await post({ query: MARK_PULL_READY_MUTATION, variables: { pullRequestId: pr.nodeId } }, null)).toEqual({
      status: 401,
      body: { message: "This endpoint requires you to be authenticated.", documentation_url: "https://docs.github.com/graphql" },
    });
    expect(await status(client(fake.apiUrl, "ghp_not-a-token").graphql(MARK_PULL_READY_MUTATION, { pullRequestId: pr.nodeId }))).toBe(401);

    // A user who can only read the repository may not change the pull request.
    fake.setPermission(OWNER, REPO, "reader", "read");
    const res = await post({ query: MARK_PULL_READY_MUTATION, variables: { pullRequestId: pr.nodeId } }, fake.userToken("reader"));
    expect(res.body).toMatchObject({ data: { markPullRequestReadyForReview: null }, errors: [{ type: "FORBIDDEN", path: ["markPullRequestReadyForReview"] }] });

    expect(await restDraft(pr.number)).toBe(true);
    expect(fake.requestLog.filter((e) => e.path === "/graphql" && e.status === 401).every((e) => !e.write && e.actor === null)).toBe(true);
    fake.assertNoViolations();
  });
});
