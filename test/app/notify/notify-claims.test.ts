import { execFileSync } from "node:child_process";
import { generateKeyPairSync, sign as rsaSign } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GitHubClient } from "../../../src/adapters/github-client.js";
import { silentLogger, type Logger } from "../../../src/adapters/logger.js";
import { GitHubNotifyClaims, notifyRefOf } from "../../../src/app/notify/notify-claims.js";
import { Notifier, type NotifyResult } from "../../../src/app/notify/notifier.js";
import { Outbox, type NotifyChannel } from "../../../src/app/notify/outbox.js";
import { EmailChannel } from "../../../src/app/notify/email-channel.js";
import { SlackChannel } from "../../../src/app/notify/slack-channel.js";
import type { Notification } from "../../../src/core/notification.js";
import { startFakeGitHub, type FakeGitHub } from "../../../src/offline/fake-github/index.js";
import { FakeSlack } from "../../support/fake-slack.js";
import { SmtpSink } from "../../support/smtp-sink.js";
import { testOctokit } from "../../support/octokit.js";

const OWNER = "acme";
const REPO = "widgets";
const APP_ID = 6161;
const keys = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});

function appJwt(): string {
  const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const data = `${b64({ alg: "RS256", typ: "JWT" })}.${b64({ iat: now - 30, exp: now + 540, iss: APP_ID })}`;
  return `${data}.${rsaSign("RSA-SHA256", Buffer.from(data), keys.privateKey).toString("base64url")}`;
}

function transition(issue: number, overrides: Partial<Notification> = {}): Notification {
  return {
    repository: `${OWNER}/${REPO}`,
    issue,
    title: `Issue ${issue}`,
    url: `https://github.com/${OWNER}/${REPO}/issues/${issue}`,
    event: "failed",
    sha: issue.toString(16).padStart(40, "b"),
    attempt: 1,
    outcome: "api_error",
    at: "2026-12-03T18:00:00.000Z",
    ...overrides,
  };
}

/** A logger that keeps the warnings it is given. */
function warnings(): { log: Logger; messages: string[] } {
  const messages: string[] = [];
  const make = (): Logger =>
    ({
      ...silentLogger(),
      child: () => make(),
      warn: (_fields: unknown, message?: string) => void messages.push(message ?? String(_fields)),
    }) as unknown as Logger;
  return { log: make(), messages };
}

let github: FakeGitHub;
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "notify-claims-"));
  github = await startFakeGitHub({ dir: path.join(root, "github"), appKeys: { appId: APP_ID, publicKeyPem: keys.publicKey } });
  await github.createRepo({ owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
});

afterAll(async () => {
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

const bare = (...args: string[]): string => execFileSync("git", ["--git-dir", github.repoPath(OWNER, REPO), ...args], { encoding: "utf8" }).trim();
const notifyRefs = (): string[] => bare("for-each-ref", "--format=%(refname)", "refs/harness/notify/").split("\n").filter(Boolean);
const mailedIssues = (smtp: SmtpSink): number[] =>
  smtp.messages.flatMap((m) => [...(m.text ?? "").matchAll(/issues\/(\d+)/g)].map((x) => Number(x[1]))).sort((a, b) => a - b);
const slackIssues = (slack: FakeSlack): number[] =>
  slack.accepted.flatMap((r) => [...r.raw.matchAll(/issues\/(\d+)\|/g)].map((m) => Number(m[1]))).sort((a, b) => a - b);

describe("notifications across app replicas on different hosts (refs/harness/notify/*)", () => {
  let slack: FakeSlack;
  let smtp: SmtpSink;
  let results: [string, NotifyChannel, NotifyResult][];
  const notifiers: Notifier[] = [];

  beforeEach(async () => {
    slack = await FakeSlack.start();
    smtp = await SmtpSink.start();
    results = [];
    github.setRequestHook(null);
    github.onRequest(null);
    for (const ref of notifyRefs()) bare("update-ref", "-d", ref);
  });
  afterEach(async () => {
    github.setRequestHook(null);
    github.onRequest(null);
    for (const n of notifiers.splice(0)) await n.close();
    await slack.close();
    await smtp.close();
  });

  const client = (): GitHubClient => new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });

  /** A replica: its own state directory (not shared), its own client, the one Slack. */
  async function replica(name: string, options: { stateRoot?: string; claims?: boolean; log?: Logger; now?: () => Date; email?: boolean } = {}) {
    const stateRoot = options.stateRoot ?? (await fs.mkdtemp(path.join(root, `${name}-`)));
    const log = options.log ?? silentLogger();
    const claims = options.claims === false ? null : new GitHubNotifyClaims({ stateRoot, host: name, log, ...(options.now ? { now: options.now } : {}) });
    const notifier = new Notifier({
      stateRoot,
      slack: new SlackChannel(slack.url),
      email: options.email ? new EmailChannel(smtp.url, `harness@${name}.example.org`) : null,
      installation: { slackEvents: ["failed"], emailEvents: options.email ? ["failed"] : [], emailTo: ["ops@example.org"] },
      windowMs: 60_000,
      log,
      claims,
      onResult: (channel, result) => results.push([name, channel, result]),
    });
    notifiers.push(notifier);
    return { notifier, claims, stateRoot, github: client() };
  }

  it("two replicas, separate state directories, the same deliveries at once: each transition is sent exactly once", async () => {
    const a = await replica("host-a", { email: true });
    const b = await replica("host-b", { email: true });
    const issues = [1, 2, 3, 4, 5, 6];
    const writes = new Map<string, number>();
    github.setRequestHook((request) => {
      if (request.method !== "GET") writes.set(request.operationId ?? request.path, (writes.get(request.operationId ?? request.path) ?? 0) + 1);
    });
    // Every delivery reaches both (a redelivery to the other replica, or both behind one URL), twice.
    await Promise.all(issues.flatMap((n) => [a, b, a, b].map((r) => r.notifier.notify(transition(n), {}, r.github))));
    await Promise.all([a.notifier.flush(), b.notifier.flush()]);
    expect(slackIssues(slack)).toEqual(issues);
    expect(mailedIssues(smtp)).toEqual(issues);
    expect(results.filter(([, , r]) => r === "sent")).toHaveLength(12);
    // The writes: one ref create per notification and replica that had it (one lands, the other is
    // answered 422), one holder commit per replica, ever; nothing else.
    expect(Object.fromEntries(writes)).toEqual({ "git/create-ref": 24, "git/create-commit": 2 });
    // One ref per transition and channel, each naming the replica that sent it.
    expect(notifyRefs().sort()).toEqual(
      issues.flatMap((n) => (["slack", "email"] as const).map((c) => `refs/${notifyRefOf(Outbox.id(c, transition(n)))}`)).sort(),
    );
    const records = await Promise.all(
      issues.flatMap((n) =>
        [a, b].flatMap((r) => (["slack", "email"] as const).map((c) => new Outbox(r.stateRoot).record(Outbox.id(c, transition(n))).then((rec) => rec?.result))),
      ),
    );
    expect(records.filter((r) => r === "sent")).toHaveLength(12);
    expect(records.filter((r) => r === "elsewhere")).toHaveLength(12);
    // A later redelivery to either sends nothing more.
    for (const r of [a, b]) await r.notifier.notify(transition(3), {}, r.github);
    await Promise.all([a.notifier.flush(), b.notifier.flush()]);
    expect(slackIssues(slack)).toEqual(issues);
    expect(mailedIssues(smtp)).toEqual(issues);
    // One write per notification: one ref each, plus one holder commit per replica, ever.
    const holders = new Set(notifyRefs().map((ref) => bare("rev-parse", ref)));
    expect(holders.size).toBeLessThanOrEqual(2);
    for (const sha of holders) expect(JSON.parse(bare("log", "-1", "--format=%B", sha))).toMatchObject({ harness: "notify-claim-holder", pid: process.pid });
  });

  it("without the claim (HARNESS_NOTIFY_CLAIMS=local) the same two replicas send twice: what the claim prevents", async () => {
    const a = await replica("host-a", { claims: false });
    const b = await replica("host-b", { claims: false });
    await Promise.all([a, b].map((r) => r.notifier.notify(transition(9), {}, r.github)));
    await Promise.all([a.notifier.flush(), b.notifier.flush()]);
    expect(slackIssues(slack)).toEqual([9, 9]);
  });

  it("the create is applied but its answer lost (connection dropped): read back, ours, sent once; the other replica finds it theirs", async () => {
    const a = await replica("host-a");
    const b = await replica("host-b");
    let dropped = 0;
    github.setRequestHook((request) => {
      if (request.operationId === "git/create-ref" && dropped === 0) {
        dropped += 1;
        return { dropResponse: true };
      }
    });
    await a.notifier.notify(transition(11), {}, a.github);
    await a.notifier.flush();
    expect(dropped).toBe(1);
    expect(slackIssues(slack)).toEqual([11]);
    await b.notifier.notify(transition(11), {}, b.github);
    await b.notifier.flush();
    expect(slackIssues(slack)).toEqual([11]);
    expect(await new Outbox(b.stateRoot).record(Outbox.id("slack", transition(11)))).toMatchObject({
      result: "elsewhere",
      detail: "claimed by host-a (pid " + process.pid + ")",
    });
  });

  it("a 502 on the create (not applied): read back, no ref, created again, sent once", async () => {
    const a = await replica("host-a");
    const answered: number[] = [];
    github.setRequestHook((request) => {
      if (request.operationId !== "git/create-ref") return;
      answered.push(answered.length === 0 ? 502 : 201);
      if (answered.length === 1) return { respond: { status: 502, body: { message: "Server Error" } } };
    });
    await a.notifier.notify(transition(12), {}, a.github);
    await a.notifier.flush();
    expect(answered).toEqual([502, 201]);
    expect(slackIssues(slack)).toEqual([12]);
    expect(notifyRefs()).toEqual([`refs/${notifyRefOf(Outbox.id("slack", transition(12)))}`]);
  });

  it("5xx on the create and on the read-back: no answer to trust, kept pending, sent once on the next try", async () => {
    const a = await replica("host-a");
    let failing = true;
    github.setRequestHook((request) => {
      if (failing && (request.operationId === "git/create-ref" || request.operationId === "git/get-ref"))
        return { respond: { status: 503, body: { message: "Service Unavailable" } } };
    });
    await a.notifier.notify(transition(13), {}, a.github);
    await a.notifier.flush();
    expect(slack.requests).toEqual([]);
    expect((await new Outbox(a.stateRoot).pending()).map((e) => e.notification.issue)).toEqual([13]);
    failing = false;
    await a.notifier.flush();
    expect(slackIssues(slack)).toEqual([13]);
  });

  it("a 422 race: the other replica's create lands while ours is in flight; ours answers 'Reference already exists' and sends nothing", async () => {
    const a = await replica("host-a");
    const b = await replica("host-b");
    for (const r of [a, b]) await r.notifier.notify(transition(14), {}, r.github);
    let creates = 0;
    let letAGo!: () => void;
    const bLanded = new Promise<void>((resolve) => (letAGo = resolve));
    let aWaiting!: () => void;
    const aInFlight = new Promise<void>((resolve) => (aWaiting = resolve));
    github.setRequestHook(async (request) => {
      if (request.operationId !== "git/create-ref") return;
      creates += 1;
      if (creates === 1) {
        aWaiting();
        await bLanded; // A's create waits here until B's has been answered
      }
    });
    const aFlush = a.notifier.flush();
    await aInFlight;
    github.onRequest(() => {
      if (notifyRefs().length > 0) letAGo();
    });
    await b.notifier.flush();
    await aFlush;
    expect(creates).toBe(2);
    expect(slackIssues(slack)).toEqual([14]);
    expect(results).toEqual([["host-b", "slack", "sent"]]);
    expect(await new Outbox(a.stateRoot).record(Outbox.id("slack", transition(14)))).toMatchObject({ result: "elsewhere" });
  });

  it("a replica whose claim landed but that died before sending sends it after its restart; the other replica never does", async () => {
    const a = await replica("host-a");
    const b = await replica("host-b");
    await a.notifier.notify(transition(15), {}, a.github);
    // The claim lands, then the process dies before the message leaves: its pending entry stays.
    const entry = (await new Outbox(a.stateRoot).pending())[0];
    if (!entry) throw new Error("no pending entry");
    expect(await a.claims?.claim(entry)).toEqual({ kind: "ours" });
    await a.notifier.close();
    await b.notifier.notify(transition(15), {}, b.github);
    await b.notifier.flush();
    expect(slack.requests).toEqual([]);
    // The restart (same state directory, new process): its drain finds its own claim.
    const restarted = await replica("host-a", { stateRoot: a.stateRoot });
    restarted.notifier.useClient(restarted.github);
    await restarted.notifier.start();
    expect(slackIssues(slack)).toEqual([15]);
  });

  it("no client for the repository yet (a restart before its first event): kept pending, sent once a client comes", async () => {
    const a = await replica("host-a");
    await a.notifier.notify(transition(16), {});
    await a.notifier.flush();
    expect(slack.requests).toEqual([]);
    a.notifier.useClient(a.github);
    await a.notifier.idle();
    await a.notifier.flush();
    expect(slackIssues(slack)).toEqual([16]);
  });

  it("an installation that cannot write refs (contents: read): warned once, the local outbox alone decides, still sent once here", async () => {
    await github.createRepo({ owner: "readonly-org", name: "site", files: { "README.md": "x\n" } });
    github.setInstallationPermissions("readonly-org", { issues: "write", metadata: "read", contents: "read" });
    const app = testOctokit({ baseUrl: github.apiUrl, token: appJwt() });
    const { data: installation } = await app.rest.apps.getRepoInstallation({ owner: "readonly-org", repo: "site" });
    const { data: token } = await app.rest.apps.createInstallationAccessToken({ installation_id: installation.id });
    const readOnly = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: token.token }), { owner: "readonly-org", repo: "site" });
    const { log, messages } = warnings();
    const a = await replica("host-a", { log });
    const site = (issue: number): Notification =>
      transition(issue, { repository: "readonly-org/site", url: `https://github.com/readonly-org/site/issues/${issue}` });
    await a.notifier.notify(site(17), {}, readOnly);
    await a.notifier.notify(site(18), {}, readOnly);
    await a.notifier.flush();
    await a.notifier.notify(site(17), {}, readOnly);
    await a.notifier.flush();
    expect(slackIssues(slack)).toEqual([17, 18]);
    expect(messages.filter((m) => m.includes("cannot write refs/harness/notify"))).toHaveLength(1);
    const refs = execFileSync("git", ["--git-dir", github.repoPath("readonly-org", "site"), "for-each-ref", "refs/harness/"], { encoding: "utf8" });
    expect(refs).toBe("");
  });

  it("a holder commit the repository no longer has (422 Object does not exist): made again, then claimed and sent once", async () => {
    const now = new Date("2026-12-03T18:00:00.000Z");
    const a = await replica("host-a", { now: () => now });
    // The day's holder commit file names a commit the repository does not have.
    const file = path.join(a.stateRoot, "notify", "holder-commits", `${OWNER}--${REPO}--2026-12-03.json`);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, JSON.stringify({ sha: "deadbeef".repeat(5) }));
    await a.notifier.notify(transition(20), {}, a.github);
    await a.notifier.flush();
    expect(slackIssues(slack)).toEqual([20]);
    const holder = bare("rev-parse", `refs/${notifyRefOf(Outbox.id("slack", transition(20)))}`);
    expect(holder).not.toBe("deadbeef".repeat(5));
    expect(JSON.parse(await fs.readFile(file, "utf8"))).toEqual({ sha: holder });
  });

  it("sweep: the refs a state directory made are deleted once older than the retention, not before", async () => {
    let now = new Date("2026-12-03T18:00:00.000Z");
    const a = await replica("host-a", { now: () => now });
    await a.notifier.notify(transition(19), {}, a.github);
    await a.notifier.flush();
    expect(notifyRefs()).toHaveLength(1);
    expect(await a.claims?.sweep(new Date("2026-12-09T18:00:00.000Z"))).toBe(0);
    expect(notifyRefs()).toHaveLength(1);
    now = new Date("2026-12-11T18:00:00.000Z");
    expect(await a.claims?.sweep(now)).toBe(1);
    expect(notifyRefs()).toEqual([]);
    expect(await a.claims?.sweep(now)).toBe(0);
  });

  it("sweep: a gone host's refs (its state directory lost) are deleted by another host's sweep once their day is past the retention, a few per sweep; an older version's keep theirs", async () => {
    const now = new Date("2026-12-03T18:00:00.000Z");
    const gone = await replica("host-gone", { now: () => now });
    for (const issue of [31, 32, 33]) await gone.notifier.notify(transition(issue), {}, gone.github);
    await gone.notifier.flush();
    // A claim of a version before holder commits had a day: its holder commit dates nothing.
    const undated = execFileSync("git", ["--git-dir", github.repoPath(OWNER, REPO), "commit-tree", "4b825dc642cb6eb9a060e54bf8d69288fbee4904"], {
      input: JSON.stringify({ harness: "notify-claim-holder", holder: "old", host: "old-host", pid: 1, at: "2026-11-01T00:00:00.000Z" }),
      env: { ...process.env, GIT_AUTHOR_NAME: "h", GIT_AUTHOR_EMAIL: "h@example.org", GIT_COMMITTER_NAME: "h", GIT_COMMITTER_EMAIL: "h@example.org" },
      encoding: "utf8",
    }).trim();
    bare("update-ref", "refs/harness/notify/slack--failed--undated", undated);
    expect(notifyRefs()).toHaveLength(4);
    // The host is gone with its state directory: nobody has its notify/claimed/ list any more.
    await gone.notifier.close();
    await fs.rm(gone.stateRoot, { recursive: true, force: true });

    const stateRoot = await fs.mkdtemp(path.join(root, "host-b-"));
    const b = new GitHubNotifyClaims({ stateRoot, host: "host-b", log: silentLogger(), orphanDeletes: 2 });
    b.use(client());
    const deletes = (): number => github.requestLog.filter((r) => r.operationId === "git/delete-ref").length;
    const commitReads = (): number => github.requestLog.filter((r) => r.operationId === "git/get-commit").length;
    const before = deletes();
    const readsBefore = commitReads();
    // The claims were made on 2026-12-03: the newest could be from 23:59, so they stay until 7 days after the day's end.
    expect(await b.sweep(new Date("2026-12-10T23:59:00.000Z"))).toBe(0);
    expect(deletes()).toBe(before);
    expect(await b.sweep(new Date("2026-12-11T00:00:00.000Z"))).toBe(2);
    expect(notifyRefs()).toHaveLength(2);
    expect(await b.sweep(new Date("2026-12-11T01:00:00.000Z"))).toBe(1);
    expect(notifyRefs()).toEqual(["refs/harness/notify/slack--failed--undated"]);
    expect(await b.sweep(new Date("2027-06-01T00:00:00.000Z"))).toBe(0);
    expect(deletes()).toBe(before + 3);
    // Each of the two holder commits (the gone host's day, the undated one) was read once across the four sweeps.
    expect(commitReads() - readsBefore).toBe(2);
    github.assertNoViolations();
  });

  it("a holder makes one holder commit per repository and day, and knows its claims of earlier days as its own", async () => {
    let now = new Date("2026-12-03T18:00:00.000Z");
    const a = await replica("host-a", { now: () => now });
    await a.notifier.notify(transition(41), {}, a.github);
    await a.notifier.flush();
    now = new Date("2026-12-04T09:00:00.000Z");
    await a.notifier.notify(transition(42), {}, a.github);
    await a.notifier.flush();
    const holders = [41, 42].map((n) => bare("rev-parse", `refs/${notifyRefOf(Outbox.id("slack", transition(n)))}`));
    expect(new Set(holders).size).toBe(2);
    expect(holders.map((sha) => (JSON.parse(bare("log", "-1", "--format=%B", sha)) as { day: string }).day)).toEqual(["2026-12-03", "2026-12-04"]);
    // Yesterday's claim, asked again (a redelivery after a restart of the same state directory): ours, not sent twice.
    const again = new GitHubNotifyClaims({ stateRoot: a.stateRoot, host: "host-a", log: silentLogger(), now: () => now });
    again.use(client());
    expect(await again.claim({ id: Outbox.id("slack", transition(41)), channel: "slack", notification: transition(41), to: [] })).toEqual({ kind: "ours" });
    expect(slackIssues(slack)).toEqual([41, 42]);
    // Past the retention the sweep deletes both refs and forgets both days' holder-commit files.
    const holderFiles = path.join(a.stateRoot, "notify", "holder-commits");
    expect((await fs.readdir(holderFiles)).sort()).toEqual([`${OWNER}--${REPO}--2026-12-03.json`, `${OWNER}--${REPO}--2026-12-04.json`]);
    expect(await again.sweep(new Date("2026-12-12T00:00:00.000Z"))).toBe(2);
    expect(await fs.readdir(holderFiles)).toEqual([]);
    expect(notifyRefs()).toEqual([]);
  });

  it("ref names: unsafe characters replaced, long ids shortened with a hash", () => {
    expect(notifyRefOf("slack--failed--" + "a".repeat(40))).toBe(`harness/notify/slack--failed--${"a".repeat(40)}`);
    expect(notifyRefOf("email--spend--spend-o..x--r/y--2026-12-03")).toMatch(/^harness\/notify\/email--spend--spend-o__x--r_y--2026-12-03--[0-9a-f]{12}$/);
    expect(notifyRefOf("a/b")).not.toBe(notifyRefOf("a_b"));
    const long = notifyRefOf(`slack--convoy-landed--convoy-acme-widgets-1-60-${Array.from({ length: 60 }, (_, i) => i).join(".")}`);
    expect(long.length).toBeLessThan(200);
    expect(long).toMatch(/--[0-9a-f]{40}$/);
  });
});
