import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmailChannel } from "../../src/app/notify/email-channel.js";
import { Outbox } from "../../src/app/notify/outbox.js";
import { SlackChannel } from "../../src/app/notify/slack-channel.js";
import { startStack, type Stack } from "../../src/cli/stack.js";
import { loadScenario } from "../../src/offline/model-server.js";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { LeaseStore } from "../../src/adapters/github-lease.js";
import { defaultReclaimPolicy } from "../../src/core/reclaim.js";
import { testOctokit } from "../support/octokit.js";
import { FakeSlack } from "../support/fake-slack.js";
import { SmtpSink } from "../support/smtp-sink.js";

const OWNER = "acme";
const REPO = "notify";

/**
 * A failed session through the real stack (fake GitHub delivering the App's own label writes,
 * Probot, the real CLI against the scripted model): the app learns the transition from the
 * `issues.labeled` webhook of its own `harness:failed` and the lease head, and tells Slack and
 * email once, also when GitHub delivers the webhook again.
 */
describe("notifications through the real stack", () => {
  let stack: Stack;
  let slack: FakeSlack;
  let smtp: SmtpSink;

  beforeAll(async () => {
    slack = await FakeSlack.start();
    smtp = await SmtpSink.start();
    const scenarios = await Promise.all(
      ["api-error.yaml", "publish-gate-workflow.yaml", "interruptible.yaml"].map((f) => loadScenario(path.resolve("test/fixtures/scenarios", f))),
    );
    stack = await startStack({
      scenarios,
      auth: "app",
      ownWebhooks: true,
      progressIntervalMs: 3_600_000,
      notify: {
        slack: new SlackChannel(slack.url),
        email: new EmailChannel(smtp.url, "harness@example.org"),
        installation: { slackEvents: ["failed", "needs-review", "spend", "interrupted"], emailEvents: [], emailTo: [] },
        windowMs: 0,
        // As `harness app` runs by default: each transition claimed with a refs/harness/notify/* ref.
        claimsOnGitHub: true,
      },
    });
    await stack.github.createRepo({
      collaborators: { ada: "write" },
      owner: OWNER,
      name: REPO,
      files: { "README.md": "x\n", ".github/harness.yml": "notify:\n  dailySpendUsd: 0.000001\n  email:\n    events: [failed]\n    to: [team@example.org]\n" },
    });
    // One scenario writes a workflow: an App without the Workflows permission would be refused before the push.
    stack.github.setInstallationPermissions(OWNER, { issues: "write", pull_requests: "write", contents: "write", metadata: "read", workflows: "write" });
  });
  afterAll(async () => {
    await stack?.close();
    await slack?.close();
    await smtp?.close();
  });

  async function settle(): Promise<void> {
    for (let i = 0; i < 3; i += 1) {
      await stack.idle();
      await stack.github.settled();
    }
    await stack.notifier?.flush();
    await stack.idle();
  }

  it("a failed session sends exactly one Slack message and one email, redelivered or not", async () => {
    const { github } = stack;
    const issue = await github.createIssue(OWNER, REPO, { title: "Fails <!channel>", body: "[scenario:api-error] please", user: "ada" });
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    await settle();
    expect(stack.results.map((r) => r.outcome)).toEqual(["api_error"]);

    expect(slack.accepted).toHaveLength(1);
    const text = slack.accepted[0]?.body.text ?? "";
    expect(text).toContain(`${OWNER}/${REPO}#${issue.number} failed: Fails &lt;!channel&gt;`);
    expect(JSON.stringify(slack.accepted[0]?.body)).not.toContain("<!channel>");
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]?.to).toMatchObject({ text: "team@example.org" }); // the repository's recipients
    expect(smtp.messages[0]?.text).toContain("outcome api_error");

    // The transition's identity is the lease commit the head names now (released, outcome api_error).
    const head = await github.readRef(OWNER, REPO, `refs/harness/leases/issue-${issue.number}`);
    expect(JSON.parse((await github.readCommit(OWNER, REPO, head ?? "")).message)).toMatchObject({ state: "released", outcome: "api_error" });
    const outbox = new Outbox(stack.state.root);
    expect(await outbox.record(`slack--failed--${head ?? ""}`)).toMatchObject({ result: "sent" });
    expect(await outbox.record(`email--failed--${head ?? ""}`)).toMatchObject({ result: "sent" });
    // Each was claimed on GitHub first: a create-only ref per channel, pointing at this state directory's holder commit.
    for (const channel of ["slack", "email"]) {
      const claim = await github.readRef(OWNER, REPO, `refs/harness/notify/${channel}--failed--${head ?? ""}`);
      expect(JSON.parse((await github.readCommit(OWNER, REPO, claim ?? "")).message)).toMatchObject({ harness: "notify-claim-holder" });
    }

    // GitHub delivers the harness:failed webhook again (a new delivery id): nothing more is sent.
    const labeled = github.deliveries.find(
      (d) => d.event === "issues" && d.action === "labeled" && (d.payload.label as { name: string }).name === "harness:failed",
    );
    expect(labeled).toBeDefined();
    for (let i = 0; i < 2; i += 1) expect(await github.deliver("issues", labeled?.payload ?? {})).toBeLessThan(300);
    await settle();
    expect(slack.accepted).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);

    // A person who sets harness:failed by hand makes no transition of the harness: no message.
    const other = await github.createIssue(OWNER, REPO, { title: "Marked by hand", body: "", user: "ada" });
    await github.addLabel(OWNER, REPO, other.number, "harness:failed", { sender: "ada" });
    await settle();
    expect(slack.accepted).toHaveLength(1);
    github.assertNoViolations();
  }, 60_000);

  it("a pull request the publish gate marks for review sends one needs-review message, and the day's spend over the threshold one", async () => {
    const { github } = stack;
    const before = slack.accepted.length;
    const issue = await github.createIssue(OWNER, REPO, { title: "Add CI", body: "[scenario:publish-gate-workflow] add CI", user: "ada" });
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    await settle();
    expect(stack.results.find((r) => r.issue === issue.number)?.outcome).toBe("success");
    const messages = slack.accepted.slice(before);
    // The session cost something: the repository's day is over its (tiny) threshold, once.
    expect(messages.map((m) => m.body.text).sort()).toEqual([
      expect.stringMatching(
        new RegExp(`^${OWNER}/${REPO} spent over its daily threshold: \\$0\\.\\d+ on \\d{4}-\\d{2}-\\d{2} \\(UTC\\), threshold \\$0\\.0000010$`),
      ),
      `${OWNER}/${REPO}#${issue.number} needs review: Add CI (#${issue.number})`,
    ]);
    const head = await github.readRef(OWNER, REPO, `refs/harness/leases/issue-${issue.number}`);
    expect(await new Outbox(stack.state.root).record(`slack--needs-review--${head ?? ""}`)).toMatchObject({ result: "sent" });
    expect(await github.readRef(OWNER, REPO, `refs/harness/notify/slack--needs-review--${head ?? ""}`)).not.toBeNull();
    expect(smtp.messages).toHaveLength(1); // email is configured for failed only
  }, 60_000);

  it("/interrupt sends one interrupted message, keyed by the interrupt's lease commit", async () => {
    const { github, model } = stack;
    const before = slack.accepted.length;
    const issue = await github.createIssue(OWNER, REPO, { title: "Two parts", body: "[scenario:interruptible] go", user: "ada" });
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    // The session is in its long Bash step (the model was asked for turn 2) before the interrupt.
    const deadline = Date.now() + 30_000;
    while (!model.requests.some((r) => r.scenario === "interruptible" && r.turn === 1)) {
      if (Date.now() > deadline) throw new Error("the session never reached its long step");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await github.comment(OWNER, REPO, issue.number, "/interrupt", { sender: "ada" });
    await settle();
    expect(stack.results.find((r) => r.issue === issue.number)?.interrupted).toBe(true);
    expect(slack.accepted.slice(before).map((m) => m.body.text)).toEqual([`${OWNER}/${REPO}#${issue.number} was interrupted: Two parts`]);
    const head = await github.readRef(OWNER, REPO, `refs/harness/leases/issue-${issue.number}`);
    expect(JSON.parse((await github.readCommit(OWNER, REPO, head ?? "")).message)).toMatchObject({ state: "interrupted" });
    expect(await new Outbox(stack.state.root).record(`slack--interrupted--${head ?? ""}`)).toMatchObject({ result: "sent" });

    // A person marks it failed by hand: the lease names a real head, but the harness made no such transition.
    await github.addLabel(OWNER, REPO, issue.number, "harness:failed", { sender: "ada" });
    await settle();
    expect(slack.accepted.slice(before)).toHaveLength(1);
  }, 60_000);
});

describe("a stalled claim reclaimed after its last attempt", () => {
  let stack: Stack;
  let slack: FakeSlack;

  beforeAll(async () => {
    slack = await FakeSlack.start();
    stack = await startStack({
      scenarios: [],
      // Token mode: the harness's writes come back with the token's user as sender.
      ownWebhooks: true,
      reconcile: { repositories: [`${OWNER}/${REPO}`], policy: { ...defaultReclaimPolicy, graceMs: 0, maxAttempts: 1 } },
      notify: { slack: new SlackChannel(slack.url), installation: { slackEvents: ["reclaimed"], emailEvents: [], emailTo: [] }, windowMs: 0 },
    });
    await stack.github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
  });
  afterAll(async () => {
    await stack?.close();
    await slack?.close();
  });

  it("sends one reclaimed message, keyed by the reclaim's lease commit", async () => {
    const { github } = stack;
    const issue = await github.createIssue(OWNER, REPO, { title: "Stranded", body: "please", labels: ["harness:running"], user: "ada" });
    const leases = new LeaseStore(
      new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO }),
      "harness/leases/issue-",
    );
    const dayAgo = new Date(Date.now() - 24 * 3600_000);
    const claim = await leases.claim({
      issue: issue.number,
      owner: { agent: "agent-9", host: "dead-host", runId: "r9" },
      now: dayAgo,
      termMs: 15 * 60_000,
      sessionId: null,
    });
    expect(claim.ok).toBe(true);

    await stack.reconciler!.runOnce();
    for (let i = 0; i < 3; i += 1) {
      await stack.idle();
      await github.settled();
    }
    await stack.notifier?.flush();
    await stack.idle();
    expect(github.getIssue(OWNER, REPO, issue.number).labelNames).toContain("harness:failed");
    expect(slack.accepted.map((m) => m.body.text)).toEqual([
      `${OWNER}/${REPO}#${issue.number} was reclaimed after its last attempt and marked failed: Stranded`,
    ]);
    const head = await github.readRef(OWNER, REPO, `refs/harness/leases/issue-${issue.number}`);
    expect(JSON.parse((await github.readCommit(OWNER, REPO, head ?? "")).message)).toMatchObject({ state: "reclaimed" });
    expect(await new Outbox(stack.state.root).record(`slack--reclaimed--${head ?? ""}`)).toMatchObject({ result: "sent" });
  }, 60_000);
});
