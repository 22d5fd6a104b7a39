import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario } from "../../src/offline/model-server.js";
import { localAgents, renderHostStatus } from "../../src/runtime/host-status.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

const OWNER = "octo";
const REPO = "status";

/** `harness status` shows an agent from its claim on, not only after its first heartbeat (30 s by default). */
describe("an agent is in harness status from its claim", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/slow.yaml"))] });
    await stack.github.createRepo({ owner: OWNER, name: REPO, collaborators: { ada: "write" }, files: { "README.md": "x\n" } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("is listed with its issue while the session's first turn runs, and gone once it finished", async () => {
    const { github, model } = stack;
    const issue = await github.createIssue(OWNER, REPO, { title: "Slow", body: "[scenario:slow] go", user: "ada" });
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    // The model has been asked for the first turn: the session runs (heartbeat every 30 s, none yet).
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (model.requests.some((r) => r.scenario === "slow")) resolve();
        else setTimeout(check, 20);
      };
      check();
    });
    const agents = await localAgents(stack.state, new Date());
    expect(agents).toEqual([expect.objectContaining({ alive: "alive", repository: `${OWNER}/${REPO}`, issue: issue.number, turns: 0 })]);
    expect(renderHostStatus({ host: "h", at: new Date().toISOString(), agents, queues: [] }).join("\n")).toContain(`${OWNER}/${REPO}#${issue.number}`);

    await github.comment(OWNER, REPO, issue.number, "/interrupt", { sender: "ada" });
    await stack.idle();
    expect(await fs.readdir(stack.state.agentsDir()).catch(() => [])).toEqual([]);
  });
});
