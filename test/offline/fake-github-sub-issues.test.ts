import { Octokit } from "@octokit/rest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

const failure = async (p: Promise<unknown>): Promise<{ status: number; messages: string[] }> => {
  try {
    await p;
  } catch (err) {
    const e = err as { status?: number; response?: { data?: { errors?: { message?: string }[] } } };
    return { status: e.status ?? -1, messages: (e.response?.data?.errors ?? []).map((x) => x.message ?? "") };
  }
  throw new Error("expected the request to fail");
};

describe("fake GitHub: sub-issues", () => {
  let fake: FakeGitHub;
  let gh: Octokit;
  const ids = new Map<string, number>();
  /** The issue's `id` as REST answers it (sub-issues are keyed by it, not by the number). */
  const id = (owner: string, repo: string, n: number): number => {
    const found = ids.get(`${owner}/${repo}#${n}`);
    if (found === undefined) throw new Error(`no id read for ${owner}/${repo}#${n}`);
    return found;
  };
  const create = async (owner: string, repo: string, title: string): Promise<{ number: number }> => {
    const { data } = await gh.rest.issues.create({ owner, repo, title });
    ids.set(`${owner}/${repo}#${data.number}`, data.id);
    return data;
  };

  beforeAll(async () => {
    fake = await startFakeGitHub({ strict: true });
    await fake.createRepo({ owner: "acme", name: "widgets", files: { "README.md": "x\n" } });
    await fake.createRepo({ owner: "acme", name: "api", files: { "README.md": "x\n" } });
    await fake.createRepo({ owner: "other", name: "thing", files: { "README.md": "x\n" } });
    gh = new Octokit({ baseUrl: fake.apiUrl, auth: fake.token, log: quiet });
  });
  afterAll(async () => fake?.close());

  it("adds by id (not number), across repositories of one owner, keeps sub_issues_summary true, and lists and finds the parent", async () => {
    const parent = await create("acme", "widgets", "parent");
    const a = await create("acme", "widgets", "a");
    const b = await create("acme", "api", "b");
    const added = await gh.rest.issues.addSubIssue({
      owner: "acme",
      repo: "widgets",
      issue_number: parent.number,
      sub_issue_id: id("acme", "widgets", a.number),
    });
    expect(added.status).toBe(201);
    expect(added.data.number).toBe(a.number);
    await gh.rest.issues.addSubIssue({ owner: "acme", repo: "widgets", issue_number: parent.number, sub_issue_id: id("acme", "api", b.number) });
    // The number is not an id: nothing by that id exists.
    expect((await failure(gh.rest.issues.addSubIssue({ owner: "acme", repo: "widgets", issue_number: parent.number, sub_issue_id: a.number }))).status).toBe(
      404,
    );

    const list = await gh.rest.issues.listSubIssues({ owner: "acme", repo: "widgets", issue_number: parent.number });
    expect(list.data.map((i) => [i.repository_url.split("/").slice(-1)[0], i.number])).toEqual([
      ["widgets", a.number],
      ["api", b.number],
    ]);
    const summary = async (): Promise<unknown> =>
      (await gh.rest.issues.get({ owner: "acme", repo: "widgets", issue_number: parent.number })).data.sub_issues_summary;
    expect(await summary()).toEqual({ total: 2, completed: 0, percent_completed: 0 });
    await gh.rest.issues.update({ owner: "acme", repo: "api", issue_number: b.number, state: "closed" });
    expect(await summary()).toEqual({ total: 2, completed: 1, percent_completed: 50 });

    const p = await gh.rest.issues.getParent({ owner: "acme", repo: "api", issue_number: b.number });
    expect(p.data.number).toBe(parent.number);
    expect((await failure(gh.rest.issues.getParent({ owner: "acme", repo: "widgets", issue_number: parent.number }))).status).toBe(404);
    // GitHub's issue objects name the parent too (`parent_issue_url`), null for an issue that is no one's sub-issue.
    const parentUrl = async (repo: string, n: number): Promise<unknown> =>
      (await gh.rest.issues.get({ owner: "acme", repo, issue_number: n })).data.parent_issue_url;
    expect(await parentUrl("api", b.number)).toBe(`${fake.apiUrl}/repos/acme/widgets/issues/${parent.number}`);
    expect(await parentUrl("widgets", parent.number)).toBeNull();

    await gh.rest.issues.reprioritizeSubIssue({
      owner: "acme",
      repo: "widgets",
      issue_number: parent.number,
      sub_issue_id: id("acme", "api", b.number),
      before_id: id("acme", "widgets", a.number),
    });
    const reordered = await gh.rest.issues.listSubIssues({ owner: "acme", repo: "widgets", issue_number: parent.number });
    expect(reordered.data.map((i) => i.number)).toEqual([b.number, a.number]);

    await gh.rest.issues.removeSubIssue({ owner: "acme", repo: "widgets", issue_number: parent.number, sub_issue_id: id("acme", "widgets", a.number) });
    expect(await summary()).toEqual({ total: 1, completed: 1, percent_completed: 100 });
    fake.assertNoViolations();
  });

  it("refuses a second parent (422) unless replace_parent, another owner's issue, an ancestor, and the 101st sub-issue", async () => {
    const p1 = await create("acme", "widgets", "p1");
    const p2 = await create("acme", "widgets", "p2");
    const child = await create("acme", "widgets", "child");
    const cid = id("acme", "widgets", child.number);
    await gh.rest.issues.addSubIssue({ owner: "acme", repo: "widgets", issue_number: p1.number, sub_issue_id: cid });
    const second = await failure(gh.rest.issues.addSubIssue({ owner: "acme", repo: "widgets", issue_number: p2.number, sub_issue_id: cid }));
    expect(second).toEqual({ status: 422, messages: ["Sub issue may only have one parent"] });
    await gh.rest.issues.addSubIssue({ owner: "acme", repo: "widgets", issue_number: p2.number, sub_issue_id: cid, replace_parent: true });
    expect((await gh.rest.issues.getParent({ owner: "acme", repo: "widgets", issue_number: child.number })).data.number).toBe(p2.number);
    expect((await gh.rest.issues.get({ owner: "acme", repo: "widgets", issue_number: p1.number })).data.sub_issues_summary?.total).toBe(0);

    const foreign = await create("other", "thing", "foreign");
    expect(
      (
        await failure(
          gh.rest.issues.addSubIssue({ owner: "acme", repo: "widgets", issue_number: p2.number, sub_issue_id: id("other", "thing", foreign.number) }),
        )
      ).status,
    ).toBe(422);
    // p2 is child's parent: child may not take p2 as its own sub-issue (a cycle).
    expect(
      (
        await failure(
          gh.rest.issues.addSubIssue({ owner: "acme", repo: "widgets", issue_number: child.number, sub_issue_id: id("acme", "widgets", p2.number) }),
        )
      ).status,
    ).toBe(422);

    const big = await create("acme", "widgets", "big");
    for (let i = 0; i < 100; i += 1) {
      const item = await create("acme", "api", `item ${i}`);
      await gh.rest.issues.addSubIssue({ owner: "acme", repo: "widgets", issue_number: big.number, sub_issue_id: id("acme", "api", item.number) });
    }
    const extra = await create("acme", "api", "one too many");
    const over = await failure(
      gh.rest.issues.addSubIssue({ owner: "acme", repo: "widgets", issue_number: big.number, sub_issue_id: id("acme", "api", extra.number) }),
    );
    expect(over).toEqual({ status: 422, messages: ["Parent issue cannot have more than 100 sub-issues"] });
    fake.assertNoViolations();
  });

  it("merges a pull request: the base moves to a merge commit, the PR is merged and the issue it closes is closed as completed", async () => {
    const issue = await create("acme", "widgets", "work");
    const { execFileSync } = await import("node:child_process");
    const repoPath = fake.repoPath("acme", "widgets");
    const base = (await fake.readRef("acme", "widgets", "refs/heads/main")) as string;
    const env = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" };
    const blob = execFileSync("git", ["hash-object", "-w", "--stdin"], { cwd: repoPath, input: "hello\n", env }).toString().trim();
    const tree = execFileSync("git", ["mktree"], { cwd: repoPath, input: `100644 blob ${blob}\tREADME.md\n`, env })
      .toString()
      .trim();
    const commit = execFileSync("git", ["commit-tree", tree, "-p", base, "-m", "change"], { cwd: repoPath, env }).toString().trim();
    execFileSync("git", ["update-ref", "refs/heads/harness/issue-x", commit], { cwd: repoPath, env });
    const pr = await gh.rest.pulls.create({
      owner: "acme",
      repo: "widgets",
      head: "harness/issue-x",
      base: "main",
      title: "t",
      body: `Closes #${issue.number}`,
    });
    const merged = await fake.mergePull("acme", "widgets", pr.data.number);
    expect(merged.closed).toEqual([issue.number]);
    const main = await fake.readCommit("acme", "widgets", (await fake.readRef("acme", "widgets", "refs/heads/main")) as string);
    expect(main.parents).toEqual([base, commit]);
    expect((await gh.rest.pulls.get({ owner: "acme", repo: "widgets", pull_number: pr.data.number })).data.merged).toBe(true);
    const closed = await gh.rest.issues.get({ owner: "acme", repo: "widgets", issue_number: issue.number });
    expect([closed.data.state, closed.data.state_reason]).toEqual(["closed", "completed"]);
    fake.assertNoViolations();
  });
});
