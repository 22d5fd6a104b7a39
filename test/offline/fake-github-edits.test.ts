import { Octokit } from "@octokit/rest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBodyEdits } from "../../src/adapters/github-requests/read-body-edits.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";

const OWNER = "acme";
const REPO = "edits";
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The fake records an issue's edits as GitHub does: a title change is a `renamed` issue event
 * (REST, checked against the OpenAPI description), a body change a revision in GraphQL
 * `Issue.userContentEdits` (checked against GitHub's schema), with the original listed once
 * the body was edited.
 */
describe("fake GitHub: an issue's edit history", () => {
  let fake: FakeGitHub;
  let octokit: Octokit;

  beforeAll(async () => {
    fake = await startFakeGitHub({ strict: true });
    await fake.createRepo({ owner: OWNER, name: REPO, files: { "README.md": "x\n" }, collaborators: { wanda: "write" } });
    octokit = new Octokit({ baseUrl: fake.apiUrl, auth: fake.token, log: quiet });
  });

  afterAll(async () => {
    await fake?.close();
  });

  const edits = (number: number) => readBodyEdits((query, variables) => octokit.graphql(query, variables), { owner: OWNER, repo: REPO, number });

  it("an issue never edited has no revisions; the first edit lists the original and itself", async () => {
    const issue = await fake.createIssue(OWNER, REPO, { title: "T", body: "first", user: "olga" });
    expect((await edits(issue.number)).edits).toEqual([]);

    await fake.editIssue(OWNER, REPO, issue.number, { body: "second" }, { sender: "olga" });
    const as = new Octokit({ baseUrl: fake.apiUrl, auth: fake.userToken("olga"), log: quiet });
    await as.issues.update({ owner: OWNER, repo: REPO, issue_number: issue.number, body: "third" });
    const history = await edits(issue.number);
    expect(history.author).toBe("olga");
    expect(history.edits.map((e) => e.editor?.login)).toEqual(["olga", "olga", "olga"]);
    expect(history.edits.every((e) => e.field === "body")).toBe(true);

    const { repository } = await octokit.graphql<{
      repository: { issue: { lastEditedAt: string; editor: { login: string }; userContentEdits: { totalCount: number; nodes: { diff: string }[] } } };
    }>(
      `query($owner: String!, $name: String!, $number: Int!) {
        repository(owner: $owner, name: $name) { issue(number: $number) { lastEditedAt editor { login } userContentEdits(first: 10) { totalCount nodes { diff } } } }
      }`,
      { owner: OWNER, name: REPO, number: issue.number },
    );
    expect(repository.issue.editor.login).toBe("olga");
    expect(repository.issue.lastEditedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // Newest first; each `diff` is the body after that revision.
    expect(repository.issue.userContentEdits.nodes.map((n) => n.diff)).toEqual(["third", "second", "first"]);
    fake.assertNoViolations();
  });

  it("pages through more than 100 revisions with cursors", async () => {
    const issue = await fake.createIssue(OWNER, REPO, { title: "T", body: "0", user: "olga" });
    for (let i = 1; i <= 120; i += 1) await fake.editIssue(OWNER, REPO, issue.number, { body: String(i) }, { sender: i === 120 ? "wanda" : "olga" });
    const history = await edits(issue.number);
    expect(history.edits).toHaveLength(121);
    expect(history.edits[0]?.editor?.login).toBe("wanda");
    fake.assertNoViolations();
  });

  it("a title change is a renamed event with who, when, from and to", async () => {
    const issue = await fake.createIssue(OWNER, REPO, { title: "Before", body: "b", user: "olga" });
    const status = await fake.editIssue(OWNER, REPO, issue.number, { title: "After" }, { sender: "olga" });
    expect(status).toBeNull(); // no webhook set
    const { data } = await octokit.issues.listEvents({ owner: OWNER, repo: REPO, issue_number: issue.number });
    const renamed = data.find((e) => e.event === "renamed");
    expect(renamed && "rename" in renamed ? renamed.rename : null).toEqual({ from: "Before", to: "After" });
    expect(renamed?.actor?.login).toBe("olga");
    fake.assertNoViolations();
  });

  it("an unknown issue is GitHub's NOT_FOUND", async () => {
    await expect(edits(9999)).rejects.toThrow(/Could not resolve to an Issue with the number of 9999/);
  });
});
