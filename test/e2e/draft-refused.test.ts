import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient, isDraftUnsupported } from "../../src/adapters/github-client.js";
import { loadScenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";
import { testOctokit } from "../support/octokit.js";

// A repository whose plan has no draft pull requests (GitHub Free's private repositories)
// refuses `draft: true` with a 422. The publish gate's "review" path wants a draft: the
// harness opens the pull request ready instead, prefixed and labeled, and says so.

const OWNER = "octo-org";
const REPO = "nodrafts";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/publish-gate-workflow.yaml"))],
    progressIntervalMs: 3_600_000,
  });
  await stack.github.createRepo({
    collaborators: { ada: "write" },
    owner: OWNER,
    name: REPO,
    draftPullRequests: false,
    files: { "README.md": "# no drafts\n" },
  });
});

afterAll(async () => {
  await stack?.close();
});

describe("draft pull requests refused by the repository (fake GitHub, real CLI)", () => {
  it("a change for review becomes a ready pull request titled [needs review], labeled, and the summary says why", async () => {
    const { github } = stack;
    const issue = await github.createIssue(OWNER, REPO, { title: "Add CI", body: "[scenario:publish-gate-workflow] add CI", user: "ada" });
    const start = github.requestLog.length;
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();

    const result = stack.results.find((r) => r.issue === issue.number);
    expect(result?.outcome).toBe("success");
    expect(result?.error ?? null).toBeNull();
    // GitHub refused the draft once; the ready one was created after.
    const creates = github.requestLog.slice(start).filter((e) => e.operationId === "pulls/create");
    expect(creates.map((e) => e.status)).toEqual([422, 201]);
    const pulls = (await github.listPulls(OWNER, REPO)).filter((p) => p.head.ref === `harness/issue-${issue.number}`);
    expect(pulls).toHaveLength(1);
    const pull = pulls[0]!;
    expect(pull.draft).toBe(false);
    expect(pull.title).toBe(`[needs review] Add CI (#${issue.number})`);
    expect(pull.labelNames).toContain("harness:needs-review");
    expect(pull.body).toContain("- `.github/workflows/ci.yml` matches `.github/workflows/**` (added)");
    const summary = github.listComments(OWNER, REPO, issue.number).find((c) => c.body.startsWith("<!-- harness:summary"));
    expect(summary?.body).toContain(`This repository does not support draft pull requests, so #${pull.number} was opened ready for review instead`);
    expect(summary?.body).toContain("`harness:needs-review`");
    expect(github.getIssue(OWNER, REPO, issue.number).labelNames).toContain("harness:done");

    // Converting it to a draft is refused the same way (GraphQL), and the client recognizes it.
    const client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
    const open = await client.findOpenPull(`harness/issue-${issue.number}`, "main");
    const refused = await client.setPullDraft(open!, true).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
    expect(String((refused as Error).message)).toContain("Draft pull requests are not supported in this repository.");
    expect(isDraftUnsupported(refused)).toBe(true);
    expect((await github.listPulls(OWNER, REPO)).find((p) => p.number === pull.number)?.draft).toBe(false);
    github.assertNoViolations();
  });
});
