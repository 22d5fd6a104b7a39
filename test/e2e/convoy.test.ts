import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SlackChannel } from "../../src/app/notify/slack-channel.js";
import { convoyCommand } from "../../src/cli/convoy-command.js";
import { startStack, type Stack } from "../../src/cli/stack.js";
import { CONVOY_STATUS_MARKER } from "../../src/core/render-convoy.js";
import { loadScenario } from "../../src/offline/model-server.js";
import { FakeSlack } from "../support/fake-slack.js";

const OWNER = "octo-org";
const REPO = "convoy";

/**
 * A two-issue convoy end to end: `harness convoy create` (token) stages and queues the items,
 * the app (Probot, the fake GitHub delivering every REST change's webhook) works each with the
 * real Claude Code CLI against the scripted model, a person merges the two pull requests, and
 * the convoy's one status comment follows every change with exactly one edit, the convoy closes
 * as completed once, notifies once, and reopens when `/convoy #N` adds an item.
 */
describe("a convoy through the real stack", () => {
  let stack: Stack;
  let slack: FakeSlack;
  let convoy = 0;
  let items: number[] = [];

  beforeAll(async () => {
    slack = await FakeSlack.start();
    stack = await startStack({
      scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/write-file.yaml"))],
      agents: 1,
      ownWebhooks: true,
      progressIntervalMs: 3_600_000,
      reconcile: { repositories: [`${OWNER}/${REPO}`] },
      statusPage: true,
      notify: { slack: new SlackChannel(slack.url), installation: { slackEvents: ["convoy-landed"], emailEvents: [], emailTo: [] }, windowMs: 0 },
    });
    await stack.github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
  });
  afterAll(async () => {
    await stack?.close();
    await slack?.close();
  });

  async function settle(): Promise<void> {
    for (let i = 0; i < 3; i += 1) {
      await stack.idle();
      await stack.github.settled();
    }
    await stack.notifier?.flush();
    await stack.idle();
  }

  const statusComment = (): { id: number; body: string } => {
    const comments = stack.github.listComments(OWNER, REPO, convoy).filter((c) => c.body.startsWith(CONVOY_STATUS_MARKER));
    expect(comments).toHaveLength(1);
    return comments[0] as { id: number; body: string };
  };
  /** Requests that wrote the status comment (created or edited it), from `since` in the fake's log. */
  const statusWrites = (since: number): number =>
    stack.github.requestLog
      .slice(since)
      .filter((r) => r.write && (r.operationId === "issues/update-comment" || r.operationId === "issues/create-comment") && r.issueNumber === convoy).length;
  const headLine = (): string => statusComment().body.split("\n")[1] ?? "";

  it("is created by the CLI, and the app works both items to a pull request", async () => {
    const a = await stack.github.createIssue(OWNER, REPO, { title: "Add hello", body: "Add hello.txt", user: "ada" });
    const b = await stack.github.createIssue(OWNER, REPO, { title: "Add hello too", body: "Add hello.txt as well", user: "ada" });
    items = [a.number, b.number];
    const out: string[] = [];
    const code = await convoyCommand(
      ["create", "--title", "Hello convoy", "--repo", `${OWNER}/${REPO}`, `#${a.number}`, `#${b.number}`],
      { GITHUB_TOKEN: stack.github.token, GITHUB_API_URL: stack.github.apiUrl },
      (l) => out.push(l),
    );
    expect(code).toBe(0);
    convoy = Number(/#(\d+)\t/.exec(out[0] ?? "")?.[1]);
    await settle();
    for (const n of items) {
      const comments = stack.github.listComments(OWNER, REPO, n).map((c) => c.body);
      expect(stack.github.getIssue(OWNER, REPO, n).labelNames, comments.join("\n----\n")).toContain("harness:done");
    }
    expect(stack.results.map((r) => r.outcome)).toEqual(["success", "success"]);
    expect(headLine()).toBe("### Convoy: 0/2 landed");
    expect(statusComment().body).toContain(`- [ ] #${a.number} \`Add hello\`: pull request #`);
    stack.github.assertNoViolations();
  }, 240_000);

  it("after each merge the comment is right, with exactly one write per change; the convoy closes as completed and notifies once", async () => {
    const pulls = await stack.github.listPulls(OWNER, REPO);
    const pullOf = (n: number): number => pulls.find((p) => p.head.ref === `harness/issue-${n}`)?.number ?? -1;

    let since = stack.github.requestLog.length;
    await stack.github.mergePull(OWNER, REPO, pullOf(items[0] as number));
    await settle();
    expect(headLine()).toBe("### Convoy: 1/2 landed");
    expect(statusComment().body).toContain(`- [x] #${items[0]} \`Add hello\`: landed: pull request #${pullOf(items[0] as number)} merged`);
    expect(statusWrites(since)).toBe(1);
    expect(stack.github.getIssue(OWNER, REPO, convoy).state).toBe("open");

    // A reconciler pass with nothing changed writes nothing.
    since = stack.github.requestLog.length;
    await stack.reconciler?.runOnce();
    await settle();
    expect(statusWrites(since)).toBe(0);

    since = stack.github.requestLog.length;
    await stack.github.mergePull(OWNER, REPO, pullOf(items[1] as number));
    await settle();
    expect(headLine()).toBe("### Convoy: 2/2 landed");
    expect(statusWrites(since)).toBe(1);
    const closed = await fetch(`${stack.github.apiUrl}/repos/${OWNER}/${REPO}/issues/${convoy}`, { headers: { authorization: `token ${stack.github.token}` } });
    const issue = (await closed.json()) as { state: string; state_reason: string | null; sub_issues_summary: unknown };
    expect([issue.state, issue.state_reason]).toEqual(["closed", "completed"]);
    expect(issue.sub_issues_summary).toEqual({ total: 2, completed: 2, percent_completed: 100 });
    const closes = stack.github.requestLog.filter((r) => r.operationId === "issues/update" && r.issueNumber === convoy && r.write);
    expect(closes).toHaveLength(1);

    // Landing once: another pass and a redelivered close change nothing and send nothing more.
    await stack.reconciler?.runOnce();
    await settle();
    expect(slack.requests).toHaveLength(1);
    expect(slack.requests[0]?.body.text).toContain(`${OWNER}/${REPO}#${convoy} landed`);
    // The status page's Convoys section.
    const page = await (await fetch(stack.statusUrl ?? "")).text();
    expect(page).toContain('<h2 id="convoys-h">Convoys</h2>');
    expect(page).toContain(`>${OWNER}/${REPO}#${convoy}</a> Hello convoy: 2/2 landed (closed)</li>`);
    stack.github.assertNoViolations();
  }, 120_000);

  it("reopens when a writer adds an item with /convoy", async () => {
    const c = await stack.github.createIssue(OWNER, REPO, { title: "One more", body: "Add more.txt", user: "ada" });
    await stack.github.comment(OWNER, REPO, convoy, `/convoy #${c.number}`, { sender: "ada" });
    await settle();
    expect(
      stack.github.getIssue(OWNER, REPO, convoy).state,
      stack.github
        .listComments(OWNER, REPO, convoy)
        .map((x) => x.body)
        .join("\n---\n"),
    ).toBe("open");
    expect(headLine()).toMatch(/^### Convoy: 2\/3 landed$/);
    expect(slack.requests).toHaveLength(1);
    stack.github.assertNoViolations();
  }, 240_000);

  it("an item a writer adds in GitHub's UI is queued for them and worked; one a triage user adds is tracked, not queued", async () => {
    stack.github.setPermission(OWNER, REPO, "tri", "triage");
    const d = await stack.github.createIssue(OWNER, REPO, { title: "Added in the UI", body: "Add ui.txt", user: "ada" });
    await stack.github.addSubIssue(OWNER, REPO, convoy, { owner: OWNER, repo: REPO, number: d.number }, { sender: "ada" });
    await settle();
    expect(stack.github.getIssue(OWNER, REPO, d.number).labelNames).toContain("harness:done");
    expect(statusComment().body).toContain(`#${d.number} \`Added in the UI\``);

    const e = await stack.github.createIssue(OWNER, REPO, { title: "Added by triage", body: "Add triage.txt", user: "tri" });
    const results = stack.results.length;
    await stack.github.addSubIssue(OWNER, REPO, convoy, { owner: OWNER, repo: REPO, number: e.number }, { sender: "tri" });
    await settle();
    expect(stack.github.getIssue(OWNER, REPO, e.number).labelNames).toEqual([]);
    expect(statusComment().body).toContain(`- [ ] #${e.number} \`Added by triage\`: not queued`);
    expect(stack.results.length).toBe(results);
    stack.github.assertNoViolations();
  }, 240_000);
});
