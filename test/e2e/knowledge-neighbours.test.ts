/**
 * Graph neighbours in the prompt's knowledge block, through the offline stack (fake GitHub,
 * real CLI, scripted model that records each request): the record of a blocker GitHub records
 * (issue dependencies, not named in the text) and of a convoy sibling (another sub-issue of the
 * same parent) reach the next session's prompt under "Related work", model-written words fenced;
 * an issue with no recorded blocker and no parent costs no dependency or sub-issue read.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";
import { MODEL_WRITTEN_LABEL } from "../../src/core/knowledge-block.js";
import { testOctokit } from "../support/octokit.js";
import { systemText } from "../support/system-text.js";

const OWNER = "octo";
const REPO = "neighbours";
const GRAPH_READS = new Set(["issues/list-dependencies-blocked-by", "issues/list-sub-issues"]);

describe("knowledge neighbours: recorded blockers and convoy siblings", () => {
  let stack: Stack;
  let octokit: ReturnType<typeof testOctokit>;
  beforeAll(async () => {
    stack = await startStack({
      scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/knowledge-memory.yaml"))],
      progressIntervalMs: 3_600_000,
    });
    await stack.github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
    octokit = testOctokit({ baseUrl: stack.github.apiUrl, token: stack.github.token });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const create = (title: string, body: string) => stack.github.createIssue(OWNER, REPO, { title, body: `[scenario:knowledge-memory] ${body}`, user: "ada" });
  const idOf = async (n: number): Promise<number> => (await octokit.rest.issues.get({ owner: OWNER, repo: REPO, issue_number: n })).data.id;

  async function work(number: number): Promise<{ prompt: string; graphReads: { operationId: string | null; issueNumber: number | null }[] }> {
    const { github, model } = stack;
    const before = model.requests.length;
    const done = stack.results.length;
    const logStart = github.requestLog.length;
    await github.addLabel(OWNER, REPO, number, "harness:queued", { sender: "ada" });
    await stack.idle();
    expect(
      stack.results
        .slice(done)
        .filter((r) => r.issue === number)
        .map((r) => r.outcome),
    ).toEqual(["success"]);
    const first = model.requests.slice(before).find((r) => r.kind === "turn" && r.turn === 0 && systemText(r).includes(`Issue #${number}:`));
    const graphReads = github.requestLog
      .slice(logStart)
      .filter((r) => r.operationId !== null && GRAPH_READS.has(r.operationId))
      .map((r) => ({ operationId: r.operationId, issueNumber: r.issueNumber }));
    return { prompt: systemText(first), graphReads };
  }

  let blocker = 0;
  it("an issue with no recorded blocker and no parent: no dependency or sub-issue read", { timeout: 300_000 }, async () => {
    blocker = (await create("Models first", "add the widget models")).number;
    const { prompt, graphReads } = await work(blocker);
    expect(graphReads).toEqual([]);
    expect(prompt).not.toContain("## Related work");
  });

  it("a blocker GitHub records (not named in the text): its record is in the prompt, its final message fenced", { timeout: 300_000 }, async () => {
    await octokit.rest.issues.update({ owner: OWNER, repo: REPO, issue_number: blocker, state: "closed" });
    const blocked = (await create("Widget view", "add the widget view")).number;
    await octokit.rest.issues.addBlockedByDependency({ owner: OWNER, repo: REPO, issue_number: blocked, issue_id: await idOf(blocker) });
    const { prompt, graphReads } = await work(blocked);
    // One read: the blocked_by list of the worked issue (the queue may read it too, before the claim).
    expect(graphReads.filter((r) => r.operationId === "issues/list-sub-issues")).toEqual([]);
    expect(graphReads.some((r) => r.operationId === "issues/list-dependencies-blocked-by" && r.issueNumber === blocked)).toBe(true);
    const related = prompt.split("## Related work (graph neighbours)")[1]?.split("## Text matches")[0] ?? "";
    expect(related).toMatch(new RegExp(`### #${blocker} attempt 1 summary \\(session [^)]+\\): blocks #${blocked}\\n`));
    expect(related).toContain(`<untrusted-`);
    expect(related).toContain(`label="${MODEL_WRITTEN_LABEL}">\n> Checked the widgets and wrote down what I found.`);
  });

  it("a convoy sibling (another sub-issue of the same parent): its record is in the prompt", { timeout: 300_000 }, async () => {
    const parent = (await create("Widgets convoy", "the widget work")).number;
    const sibling = (await create("Widget styles", "style the widgets")).number;
    await octokit.rest.issues.addSubIssue({ owner: OWNER, repo: REPO, issue_number: parent, sub_issue_id: await idOf(blocker) });
    await octokit.rest.issues.addSubIssue({ owner: OWNER, repo: REPO, issue_number: parent, sub_issue_id: await idOf(sibling) });
    const { prompt, graphReads } = await work(sibling);
    expect(graphReads.filter((r) => r.operationId === "issues/list-sub-issues")).toEqual([{ operationId: "issues/list-sub-issues", issueNumber: parent }]);
    expect(graphReads.filter((r) => r.operationId === "issues/list-dependencies-blocked-by" && r.issueNumber === sibling)).toEqual([]);
    const related = prompt.split("## Related work (graph neighbours)")[1]?.split("## Text matches")[0] ?? "";
    expect(related).toMatch(new RegExp(`### #${blocker} attempt 1 summary \\(session [^)]+\\): convoy sibling \\(sub-issue of #${parent}\\)\\n`));
    stack.github.assertNoViolations();
  });
});
