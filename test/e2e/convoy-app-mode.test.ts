import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../../src/cli/stack.js";
import { CONVOY_STATUS_MARKER } from "../../src/core/render-convoy.js";
import { loadScenario } from "../../src/offline/model-server.js";

const OWNER = "acme";
const REPO = "app-convoy";

/**
 * `/convoy` in App mode (JWT, installation tokens): the items become sub-issues and the status
 * comment tracks them, but the App does not queue them itself (its own queue label would pass
 * no actor gate) and says so; an item outside the installation is refused, named.
 */
describe("/convoy with the App's credentials", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/write-file.yaml"))], auth: "app" });
    await stack.github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
    await stack.github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: "outside", files: { "README.md": "x\n" } });
    stack.github.setInstallationRepositories(OWNER, [REPO]);
  });
  afterAll(async () => stack?.close());

  it("tracks the items without queueing them, tells the writer to label them, and refuses a repository without the App", async () => {
    const a = await stack.github.createIssue(OWNER, REPO, { title: "a", user: "ada" });
    const b = await stack.github.createIssue(OWNER, REPO, { title: "b", user: "ada" });
    const convoy = await stack.github.createIssue(OWNER, REPO, { title: "batch", user: "ada" });
    await stack.github.comment(OWNER, REPO, convoy.number, `/convoy #${a.number} #${b.number}`, { sender: "ada" });
    await stack.idle();
    expect(stack.github.getIssue(OWNER, REPO, convoy.number).labelNames).toEqual(["harness:convoy"]);
    for (const n of [a.number, b.number]) expect(stack.github.getIssue(OWNER, REPO, n).labelNames).toEqual([]);
    const bodies = stack.github.listComments(OWNER, REPO, convoy.number).map((c) => c.body);
    const status = bodies.find((x) => x.startsWith(CONVOY_STATUS_MARKER)) ?? "";
    expect(status).toContain("### Convoy: 0/2 landed");
    expect(status).toContain(`- [ ] #${a.number} \`a\`: not queued`);
    expect(bodies).toContain(
      `@ada the convoy tracks #${a.number}, #${b.number}, which are not queued: label them \`harness:queued\` to start the work (a queue label the App applied itself would start no agent: only a person's does).`,
    );

    const other = await stack.github.createIssue(OWNER, "outside", { title: "o", user: "ada" });
    await stack.github.comment(OWNER, REPO, convoy.number, `/convoy ${OWNER}/outside#${other.number}`, { sender: "ada" });
    await stack.idle();
    const refusal = stack.github.listComments(OWNER, REPO, convoy.number).at(-1)?.body ?? "";
    expect(refusal).toBe(
      [`@ada the convoy was refused; nothing was changed:`, "", `- ${OWNER}/outside#${other.number}: the App is not installed on ${OWNER}/outside.`].join("\n"),
    );
    stack.github.assertNoViolations();
  }, 120_000);
});
