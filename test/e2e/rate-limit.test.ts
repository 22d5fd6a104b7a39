import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

const OWNER = "octo";
const REPO = "limits";

/**
 * GitHub's primary rate limit used up in the middle of an issue: the pull request and
 * the summary comment are first answered 403/429 with `x-ratelimit-remaining: 0` and a
 * reset a second ahead. The harness waits for the reset, sends them again and loses
 * nothing: one pull request, one summary, the issue done.
 */
describe("the primary rate limit, end to end", () => {
  let stack: Stack;
  beforeAll(async () => {
    // The app's Octokit as in production: the stack's default sends every request exactly once.
    stack = await startStack({ scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/write-file.yaml"))], productionOctokit: true });
    await stack.github.createRepo({ owner: OWNER, name: REPO, collaborators: { ada: "write" }, files: { "README.md": "x\n" } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("waits for the reset and loses nothing", async () => {
    const { github } = stack;
    const limited = new Set(["pulls/create", "issues/create-comment"]);
    const hit = new Set<string>();
    const injector = github.setFaults({
      rate: 1,
      kinds: ["primary-rate-limit"],
      seed: 7,
      rateLimitResetSeconds: 1,
      // Each of the two writes is refused the first time only.
      match: (r) => {
        if (r.kind !== "rest" || r.operationId === null || !limited.has(r.operationId) || hit.has(r.operationId)) return false;
        hit.add(r.operationId);
        return true;
      },
    });
    const issue = await github.createIssue(OWNER, REPO, { title: "Write a file", body: "Write hello.txt.", user: "ada" });
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    github.setFaults(null);

    expect(injector?.injected.map((f) => f.operationId).sort()).toEqual(["issues/create-comment", "pulls/create"]);
    expect(stack.results.at(-1)).toMatchObject({ outcome: "success", error: null });
    expect(github.getIssue(OWNER, REPO, issue.number).labelNames.filter((l) => l.startsWith("harness:"))).toEqual(["harness:done"]);
    const pulls = (await github.listPulls(OWNER, REPO)).filter((p) => p.head.ref === `harness/issue-${issue.number}`);
    expect(pulls).toHaveLength(1);
    const summaries = github.listComments(OWNER, REPO, issue.number).filter((c) => c.body.includes("<!-- harness:summary"));
    expect(summaries).toHaveLength(1);
    // Each refused write was sent again after the reset, and then answered.
    for (const op of limited) {
      const statuses = github.requestLog.filter((r) => r.operationId === op).map((r) => r.status);
      expect(statuses[0], op).toBeOneOf([403, 429]);
      expect(
        statuses.slice(1).every((s) => s >= 200 && s < 300),
        `${op}: ${statuses.join(",")}`,
      ).toBe(true);
    }
  });
});
