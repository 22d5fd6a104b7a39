import { afterAll, beforeAll, describe, expect, it } from "vitest";
import path from "node:path";
import { GitRepository } from "../../src/adapters/git.js";
import { Outbox } from "../../src/app/notify/outbox.js";
import { SlackChannel } from "../../src/app/notify/slack-channel.js";
import { startStack, type Stack } from "../../src/cli/stack.js";
import { sessionRecordOf } from "../../src/core/session-record.js";
import { createSessionReducer } from "../../src/core/session-report.js";
import { appendRecord } from "../../src/runtime/knowledge-ref.js";
import { FakeSlack } from "../support/fake-slack.js";

const OWNER = "acme";
const REPO = "capped";

/**
 * The `budget` notification through the real stack (Probot, fake GitHub, the app's agents, the
 * real CLI never started): two issues claimed on a day whose spend is at the repository's cap
 * both wait, and Slack hears about it once for the repository and the UTC day.
 */
describe("the budget notification", () => {
  let stack: Stack;
  let slack: FakeSlack;
  const clock = Date.parse("2026-12-03T10:00:00.000Z");

  beforeAll(async () => {
    slack = await FakeSlack.start();
    stack = await startStack({
      scenarios: [],
      progressIntervalMs: 3_600_000,
      now: () => new Date(clock),
      notify: { slack: new SlackChannel(slack.url), installation: { slackEvents: ["budget"], emailEvents: [], emailTo: [] }, windowMs: 0 },
    });
    await stack.github.createRepo({
      collaborators: { ada: "write" },
      owner: OWNER,
      name: REPO,
      files: { "README.md": "x\n", ".github/harness.yml": "budget:\n  dailyUsd: 1\n" },
    });
    const dir = path.join(stack.root, "seed");
    const remote = {
      git: new GitRepository({ cloneDir: path.join(dir, "clone.git"), home: path.join(dir, "home"), identity: { name: "h", email: "h@x" } }),
      url: stack.github.gitUrl(OWNER, REPO),
      credentials: { token: stack.github.token },
    };
    await remote.git.ensureClone();
    await appendRecord(remote, {
      ...sessionRecordOf({
        repository: `${OWNER}/${REPO}`,
        issue: 50,
        sessionId: "earlier",
        attempt: 1,
        mode: "new",
        branch: "harness/issue-50",
        report: createSessionReducer().finish({ exitCode: 0, signal: null }),
        pullRequest: null,
        headCommit: null,
        at: "2026-12-03T08:00:00.000Z",
        knowledgeUsed: [],
      }),
      costUsd: 1.25,
    });
  });
  afterAll(async () => {
    await stack?.close();
    await slack?.close();
  });

  it("goes out once per repository and UTC day however many issues wait", async () => {
    const { github } = stack;
    for (const title of ["One", "Two"]) {
      const issue = await github.createIssue(OWNER, REPO, { title, body: "work", user: "ada" });
      await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
      await stack.idle();
      await stack.notifier?.flush();
      await stack.idle();
    }
    expect(stack.results.map((r) => [r.outcome, r.budgetWait?.scope])).toEqual([
      ["waiting", "repository"],
      ["waiting", "repository"],
    ]);
    expect(stack.model.requests.filter((r) => r.kind === "turn")).toEqual([]);
    expect(slack.requests).toHaveLength(1);
    expect(slack.requests[0]?.body.text).toContain(
      `${OWNER}/${REPO} reached its daily budget: no new session starts: daily budget reached ($1.25 of $1.00, repository), waits until 2026-12-04T00:00:00.000Z`,
    );
    expect(await new Outbox(stack.state.root).record(`slack--budget--budget-${OWNER}--${REPO}-2026-12-03`)).toMatchObject({ result: "sent" });
    github.assertNoViolations();
  }, 120_000);
});
