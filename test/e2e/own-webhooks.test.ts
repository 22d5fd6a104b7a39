import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario, type Scenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

/**
 * GitHub delivers an App's own writes back to it. With the fake sending them (`ownWebhooks`),
 * the real Probot app must recognise its own label events from the payload alone: no read, no
 * second claim, no refusal by the actor gate. The same issue is worked once with them off, as the
 * baseline, and once with them on; the harness's reads must be the same.
 */
describe("the App's own webhooks", () => {
  let scenario: Scenario;
  const stacks: Stack[] = [];
  beforeAll(async () => {
    scenario = await loadScenario(path.resolve("test/fixtures/scenarios/write-file.yaml"));
  });
  afterAll(async () => {
    for (const stack of stacks) await stack.close();
  });

  /** One issue labeled by a writer, worked to the end; the harness's REST reads (by operation) and the stack. */
  async function workOne(ownWebhooks: boolean): Promise<{ stack: Stack; reads: string[]; number: number }> {
    // A progress interval that cannot elapse: the write list does not depend on how long the session takes.
    const stack = await startStack({ scenarios: [scenario], auth: "app", ownWebhooks, progressIntervalMs: 3_600_000 });
    stacks.push(stack);
    const { github } = stack;
    await github.createRepo({ collaborators: { ada: "write" }, owner: "acme", name: "own-hooks", files: { "README.md": "x\n" } });
    const issue = await github.createIssue("acme", "own-hooks", { title: "Say hello", body: "please", user: "ada" });
    await github.addLabel("acme", "own-hooks", issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    await github.settled();
    await stack.idle();
    const reads = github.requestLog
      .filter((e) => e.kind === "rest" && !e.write && e.actor === github.botLogin && e.operationId !== null && !e.operationId.startsWith("apps/"))
      .map((e) => e.operationId as string)
      .sort();
    return { stack, reads, number: issue.number };
  }

  it("one label, one claim, one pull request; the app's own label events cost no read", async () => {
    const baseline = await workOne(false);
    expect(baseline.stack.github.deliveries.filter((d) => d.event !== "issues" || d.action !== "labeled")).toEqual([]);
    const { stack, reads, number } = await workOne(true);
    const { github } = stack;

    expect(stack.results.map((r) => r.outcome)).toEqual(["success"]);
    expect(stack.events.filter((e) => e.type === "claimed")).toHaveLength(1);
    expect(stack.events.filter((e) => e.type === "not_claimed")).toEqual([]);
    expect(await github.listPulls("acme", "own-hooks")).toHaveLength(1);
    expect(github.requestLog.filter((e) => e.operationId === "pulls/create")).toHaveLength(1);

    // The fake really sent the harness's own writes back, with the App's bot as sender, and the app took them (2xx).
    const ownDeliveries = (await github.snapshot()).deliveries.filter((d) => d.sender === github.botLogin);
    const kinds = new Set(ownDeliveries.map((d) => `${d.event}.${d.action}`));
    expect(kinds).toContain("issues.unlabeled"); // the claim takes harness:queued off
    expect(kinds).toContain("issues.labeled");
    expect(kinds).toContain("issue_comment.created");
    expect(kinds).toContain("pull_request.opened");
    expect(ownDeliveries.length).toBeGreaterThanOrEqual(6);
    expect(ownDeliveries.every((d) => d.status >= 200 && d.status < 300)).toBe(true);
    const sender = github.deliveries.find((d) => d.event === "issues" && d.action === "unlabeled")?.payload.sender as { login: string; type: string };
    expect(sender).toMatchObject({ login: github.botLogin, type: "Bot" });

    // No extra reads: exactly the reads of the run without own webhooks, and who the App is read once.
    expect(reads).toEqual(baseline.reads);
    expect(github.requestLog.filter((e) => e.operationId === "apps/get-authenticated")).toHaveLength(1);
    expect(baseline.stack.github.requestLog.filter((e) => e.operationId === "apps/get-authenticated")).toHaveLength(0);

    // The actor gate never saw the bot's own label events: no refusal, the label was not taken off by it.
    const comments = github.listComments("acme", "own-hooks", number);
    expect(comments.filter((c) => c.body.includes("EHARNESS_NOT_ALLOWED"))).toEqual([]);
    expect(github.getIssue("acme", "own-hooks", number).labelNames).toContain("harness:done");
  });
});
