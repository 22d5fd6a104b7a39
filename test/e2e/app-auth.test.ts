import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

/** The production path: a GitHub App (APP_ID + PRIVATE_KEY), JWT, installation tokens. */
describe("as a GitHub App", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/write-file.yaml"))], auth: "app" });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("works an issue with installation tokens: API calls and the git push act as the App's bot", async () => {
    const { github } = stack;
    await github.createRepo({ collaborators: { ada: "write" }, owner: "acme", name: "app-auth", files: { "README.md": "x\n" } });
    const issue = await github.createIssue("acme", "app-auth", { title: "Say hello", body: "please", user: "ada" });
    await github.addLabel("acme", "app-auth", issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();

    expect(stack.results.map((r) => r.outcome)).toEqual(["success"]);
    const pulls = await github.listPulls("acme", "app-auth");
    expect(pulls).toHaveLength(1);
    // Every request of the harness was made as the App's installation, never as a user.
    const harnessRequests = github.requestLog.filter((e) => e.actor !== null && e.kind === "rest" && !e.path.startsWith("/app"));
    expect(harnessRequests.length).toBeGreaterThan(5);
    expect(new Set(harnessRequests.map((e) => e.actor))).toEqual(new Set([github.botLogin]));
    const push = github.changes.find((c) => c.action === "git.push");
    expect(push?.actor).toBe(github.botLogin);
    github.assertNoViolations();
  });
});
