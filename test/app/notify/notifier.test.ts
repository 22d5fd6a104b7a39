import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../../src/adapters/logger.js";
import { EmailChannel } from "../../../src/app/notify/email-channel.js";
import { Notifier, type NotifierOptions, type NotifyResult } from "../../../src/app/notify/notifier.js";
import type { ClaimAnswer, NotifyClaims } from "../../../src/app/notify/notify-claims.js";
import { Outbox, type NotifyChannel } from "../../../src/app/notify/outbox.js";
import { SlackChannel } from "../../../src/app/notify/slack-channel.js";
import type { Notification } from "../../../src/core/notification.js";
import { FakeSlack } from "../../support/fake-slack.js";
import { SmtpSink } from "../../support/smtp-sink.js";

const child = path.resolve("test/support/notify-child.ts");

function transition(issue: number, overrides: Partial<Notification> = {}): Notification {
  return {
    repository: "acme/widgets",
    issue,
    title: `Issue ${issue}`,
    url: `https://github.com/acme/widgets/issues/${issue}`,
    event: "failed",
    sha: issue.toString(16).padStart(40, "a"),
    attempt: 1,
    outcome: "api_error",
    at: "2026-12-02T20:00:00.000Z",
    ...overrides,
  };
}

describe("the notifier", () => {
  let dir: string;
  let slack: FakeSlack;
  let smtp: SmtpSink;
  let results: [NotifyChannel, NotifyResult][];
  const sleeps: number[] = [];
  const notifiers: Notifier[] = [];

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "notify-"));
    slack = await FakeSlack.start();
    smtp = await SmtpSink.start();
    results = [];
    sleeps.length = 0;
  });
  afterEach(async () => {
    vi.useRealTimers();
    for (const n of notifiers.splice(0)) await n.close();
    await slack.close();
    await smtp.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  function make(overrides: Partial<NotifierOptions> = {}): Notifier {
    const notifier = new Notifier({
      stateRoot: dir,
      slack: new SlackChannel(slack.url),
      email: new EmailChannel(smtp.url, "harness@example.org"),
      installation: { slackEvents: ["failed", "reclaimed"], emailEvents: ["failed"], emailTo: ["ops@example.org"] },
      windowMs: 60_000,
      retry: { sleep: async (ms) => void sleeps.push(ms) },
      log: silentLogger(),
      onResult: (channel, result) => results.push([channel, result]),
      ...overrides,
    });
    notifiers.push(notifier);
    return notifier;
  }

  it("a redelivered transition is sent once per channel; the outbox is private and records it", async () => {
    const notifier = make();
    for (let i = 0; i < 3; i += 1) await notifier.notify(transition(7), {});
    await notifier.flush();
    await notifier.notify(transition(7), {}); // after it was sent, too
    await notifier.flush();
    expect(slack.accepted).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]?.to).toMatchObject({ text: "ops@example.org" });
    expect(smtp.messages[0]?.subject).toBe("[harness] acme/widgets#7 failed: Issue 7");
    expect(results.sort()).toEqual([
      ["email", "sent"],
      ["slack", "sent"],
    ]);
    const outbox = new Outbox(dir);
    expect(await outbox.record(Outbox.id("slack", transition(7)))).toMatchObject({ result: "sent", attempts: 1 });
    expect(await outbox.pending()).toEqual([]);
    expect((await fs.stat(outbox.root)).mode & 0o777).toBe(0o700);
    const done = path.join(outbox.root, "done", `${Outbox.id("email", transition(7))}.json`);
    expect((await fs.stat(done)).mode & 0o777).toBe(0o600);
  });

  it("the repository's notify section wins over the installation's, per channel", async () => {
    const notifier = make();
    await notifier.notify(transition(8), { slack: { events: [] }, email: { events: ["failed"], to: ["team@example.org"] } });
    await notifier.notify(transition(9, { event: "interrupted" }), {});
    await notifier.flush();
    expect(slack.requests).toEqual([]);
    expect(smtp.messages.map((m) => m.to)).toMatchObject([{ text: "team@example.org" }]);
  });

  it("two notifiers sharing one state directory, racing, send each transition exactly once", async () => {
    const a = make();
    const b = make();
    const issues = [1, 2, 3, 4, 5, 6];
    await Promise.all(issues.flatMap((n) => [a.notify(transition(n), {}), b.notify(transition(n), {})]));
    await Promise.all([a.flush(), b.flush(), a.flush(), b.flush()]);
    const slackIssues = slack.accepted.flatMap((r) => [...r.raw.matchAll(/issues\/(\d+)\|/g)].map((m) => Number(m[1])));
    expect(slackIssues.sort()).toEqual(issues);
    const mailed = smtp.messages.flatMap((m) => [...(m.text ?? "").matchAll(/issues\/(\d+)/g)].map((x) => Number(x[1])));
    expect(mailed.sort()).toEqual(issues);
    expect(results.filter(([c]) => c === "slack")).toHaveLength(6);
  });

  it("a 429 waits its Retry-After, a 503 backs off, then each is sent once", async () => {
    slack.script({ status: 429, headers: { "retry-after": "7" } }, { status: 503 }, { status: 200 });
    const notifier = make({ email: null, installation: { slackEvents: ["failed"], emailEvents: [], emailTo: [] } });
    await notifier.notify(transition(3), {});
    await notifier.flush();
    expect(slack.requests.map((r) => r.status)).toEqual([429, 503, 200]);
    expect(sleeps).toEqual([7000, 2000]);
    expect(results).toEqual([["slack", "sent"]]);
    expect(await notifier.outbox.record(Outbox.id("slack", transition(3)))).toMatchObject({ result: "sent", attempts: 3 });
  });

  it("a 400 is not retried: failed, recorded, and never sent again", async () => {
    slack.script({ status: 400, body: "invalid_payload" });
    const notifier = make({ email: null, installation: { slackEvents: ["failed"], emailEvents: [], emailTo: [] } });
    await notifier.notify(transition(4), {});
    await notifier.flush();
    await notifier.notify(transition(4), {});
    await notifier.flush();
    expect(slack.requests.map((r) => r.status)).toEqual([400]);
    expect(sleeps).toEqual([]);
    expect(results).toEqual([["slack", "failed"]]);
    expect(await notifier.outbox.record(Outbox.id("slack", transition(4)))).toMatchObject({
      result: "failed",
      attempts: 1,
      detail: "HTTP 400 invalid_payload",
    });
  });

  it("5xx to the end: bounded tries, then failed", async () => {
    slack.script(...Array.from({ length: 10 }, () => ({ status: 502 })));
    const notifier = make({
      email: null,
      installation: { slackEvents: ["failed"], emailEvents: [], emailTo: [] },
      retry: { attempts: 4, sleep: async (ms) => void sleeps.push(ms) },
    });
    await notifier.notify(transition(5), {});
    await notifier.flush();
    expect(slack.requests).toHaveLength(4);
    expect(sleeps).toEqual([1000, 2000, 4000]);
    expect(results).toEqual([["slack", "failed"]]);
  });

  it("an SMTP 451 is retried, a 550 is not", async () => {
    smtp.reject(451);
    const notifier = make({ slack: null, installation: { slackEvents: [], emailEvents: ["failed", "reclaimed"], emailTo: ["ops@example.org"] } });
    await notifier.notify(transition(6), {});
    await notifier.flush();
    expect(smtp.messages).toHaveLength(1);
    smtp.reject(550);
    await notifier.notify(transition(6, { event: "reclaimed" }), {});
    await notifier.flush();
    expect(smtp.messages).toHaveLength(1);
    expect(results).toEqual([
      ["email", "sent"],
      ["email", "failed"],
    ]);
    expect(sleeps).toEqual([1000]);
  });

  it("a title that would ping (<!channel>, <@U123>) arrives escaped in Slack and in the email's HTML", async () => {
    const notifier = make();
    await notifier.notify(transition(10, { title: "<!channel> & <@U123> <https://evil.example|click>" }), {});
    await notifier.flush();
    const body = slack.accepted[0]?.body;
    const all = JSON.stringify(body);
    expect(all).not.toMatch(/<!channel>|<@U123>|<https:\/\/evil/);
    expect(body?.text).toContain("&lt;!channel&gt; &amp; &lt;@U123&gt;");
    expect(body?.blocks?.[1]?.text?.text).toContain("|#10 &lt;!channel&gt; &amp; &lt;@U123&gt; &lt;https://evil.example|click&gt;>");
    const mail = smtp.messages[0];
    expect(mail?.html).toContain("&lt;!channel&gt; &amp; &lt;@U123&gt;");
    expect(mail?.html).not.toContain("<!channel>");
    expect(mail?.text).toContain("<!channel> & <@U123>"); // plain text is text
    expect(mail?.messageId).toMatch(/^<[0-9a-f]{32}@claude-harness\.notify>$/);
  });

  it("a burst of 5 failures in one repository arrives as one digest after the window; each recorded once", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const notifier = make();
    for (const n of [11, 12, 13, 14, 15]) await notifier.notify(transition(n), {});
    await notifier.notify(transition(16, { repository: "acme/other", url: "https://github.com/acme/other/issues/16" }), {});
    expect(slack.requests).toEqual([]);
    await vi.advanceTimersByTimeAsync(59_000);
    expect(slack.requests).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    vi.useRealTimers();
    await notifier.idle();
    expect(slack.accepted).toHaveLength(2);
    const digest = slack.accepted.find((r) => r.body.text?.includes("acme/widgets"));
    expect(digest?.body.text).toBe("5 issues in acme/widgets failed");
    expect(smtp.messages.map((m) => m.subject).sort()).toEqual(["[harness] 5 issues in acme/widgets failed", "[harness] acme/other#16 failed: Issue 16"]);
    expect(results.filter(([c]) => c === "slack")).toHaveLength(6);
    for (const n of [11, 12, 13, 14, 15]) expect(await notifier.outbox.record(Outbox.id("slack", transition(n)))).toMatchObject({ result: "sent" });
  });

  it("a claim with no clear answer is kept pending and tried again after claimRetryMs (60 s), not before; then sent once", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    // A cross-host claim whose first answer is unclear (GitHub 5xx and the read-back failed too), then ours.
    const answers: ClaimAnswer[] = [{ kind: "unknown", detail: "502 and the read-back 502" }, { kind: "ours" }];
    const asked: string[] = [];
    const claims: NotifyClaims = {
      use: () => true,
      claim: async (entry) => {
        asked.push(entry.id);
        return answers.shift() ?? { kind: "ours" };
      },
      sweep: async () => 0,
    };
    const notifier = make({ email: null, claims });
    await notifier.notify(transition(30), {});
    await vi.advanceTimersByTimeAsync(60_000); // the window: the first flush, whose claim is unclear
    await notifier.idle();
    expect(asked).toHaveLength(1);
    expect(slack.requests).toEqual([]);
    expect(await notifier.outbox.record(Outbox.id("slack", transition(30)))).toBeNull(); // still pending
    await vi.advanceTimersByTimeAsync(59_000);
    await notifier.idle();
    expect(asked).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000); // claimRetryMs after the unclear answer
    vi.useRealTimers();
    await notifier.idle();
    expect(asked).toHaveLength(2);
    expect(slack.accepted).toHaveLength(1);
    expect(await notifier.outbox.record(Outbox.id("slack", transition(30)))).toMatchObject({ result: "sent" });
  });

  it("daily spend: one message the day a repository's total reaches its threshold, one the next day; two processes add up", async () => {
    const a = make({ email: null, windowMs: 0, installation: { slackEvents: ["spend"], emailEvents: [], emailTo: [], dailySpendUsd: 100 } });
    const b = make({ email: null, windowMs: 0, installation: { slackEvents: ["spend"], emailEvents: [], emailTo: [] } });
    const day1 = new Date("2026-12-02T10:00:00Z");
    const config = { dailySpendUsd: 1 };
    await Promise.all([
      a.spend.add("acme/widgets", 0.25, config, day1),
      b.spend.add("acme/widgets", 0.25, config, day1),
      a.spend.add("acme/widgets", 0.25, config, day1),
    ]);
    await Promise.all([a.flush(), b.flush()]);
    expect(slack.requests).toEqual([]);
    await b.spend.add("acme/widgets", 0.3, config, day1); // 1.05: over
    await a.spend.add("acme/widgets", 0.5, config, day1); // still over: no second message
    await a.spend.add("acme/other", 5, { dailySpendUsd: 10 }, day1); // another repository, under its own threshold
    await Promise.all([a.flush(), b.flush()]);
    expect(slack.accepted.map((r) => r.body.text)).toEqual(["acme/widgets spent over its daily threshold: $1.05 on 2026-12-02 (UTC), threshold $1.00"]);
    await a.spend.add("acme/widgets", 1.5, config, new Date("2026-12-03T00:00:01Z"));
    await a.flush();
    expect(slack.accepted.map((r) => r.body.text)).toHaveLength(2);
    expect(slack.accepted[1]?.body.text).toContain("$1.50 on 2026-12-03");
    // The installation's threshold where the repository sets none.
    await a.spend.add("acme/third", 150, {}, day1);
    await a.flush();
    expect(slack.accepted).toHaveLength(3);
  });

  it("a process killed while its request is open (not answered): the restart drains the outbox and it is sent exactly once", async () => {
    slack.script("hang");
    // node itself with tsx's loader (not the tsx wrapper, which runs node as a child): the pid killed is the sender's.
    const proc = spawn(process.execPath, ["--import", "tsx", child, dir, slack.url, JSON.stringify(transition(20))], { stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise<number | null>((resolve) => proc.on("exit", (code, signal) => resolve(signal ? null : code)));
    // The kill point: the request has reached Slack and is unanswered; nothing is recorded as done.
    await slack.received(1);
    proc.kill("SIGKILL");
    expect(await exited).toBeNull();
    const outbox = new Outbox(dir);
    expect(await outbox.record(Outbox.id("slack", transition(20)))).toBeNull();
    expect((await outbox.pending()).map((e) => e.id)).toEqual([Outbox.id("slack", transition(20))]);

    const restarted = make({ email: null, installation: { slackEvents: ["failed"], emailEvents: [], emailTo: [] } });
    await restarted.start();
    expect(slack.requests.map((r) => r.status)).toEqual([null, 200]);
    expect(slack.accepted).toHaveLength(1);
    expect(await outbox.record(Outbox.id("slack", transition(20)))).toMatchObject({ result: "sent" });
    await restarted.start();
    expect(slack.accepted).toHaveLength(1);
  }, 20_000);
});
