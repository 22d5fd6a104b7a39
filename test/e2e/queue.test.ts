import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startReconciler, type Reconciler } from "../../src/app/reconciler.js";
import { signWebhookBody } from "../../src/offline/fake-github/index.js";
import { loadScenario } from "../../src/offline/model-server.js";
import { testOctokit } from "../support/octokit.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

/**
 * Webhooks are neither retried nor ordered: duplicated, reordered and lost
 * deliveries end in the same state as a clean run (one claim, one PR), and a
 * blocked issue waits for its blocker, then the reconciler hands it over.
 * Everything over HTTP: fake GitHub, signed webhooks, Probot, the real CLI.
 */

const OWNER = "octo-org";
const QUEUED = "harness:queued";

let stack: Stack;
let reconciler: Reconciler;
/** The state a clean run leaves, and how many refs it created through the API. */
let clean: Record<string, unknown>;
let cleanRefCreates: number;

function git(repoPath: string, ...args: string[]): string {
  return execFileSync("git", ["--git-dir", repoPath, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
}

/** The lease ref's history, newest first, as lease states; [] when there is no ref. */
function leaseStates(repo: string, number: number): string[] {
  const repoPath = stack.github.repoPath(OWNER, repo);
  try {
    return git(repoPath, "log", "--format=%B%x00", `refs/harness/leases/issue-${number}`)
      .split("\0")
      .map((m) => m.trim())
      .filter((m) => m !== "")
      .map((m) => (JSON.parse(m) as { state: string }).state);
  } catch {
    return [];
  }
}

/** What a finished run leaves behind, comparable between runs. */
async function finalState(repo: string, number: number): Promise<Record<string, unknown>> {
  const issue = stack.github.getIssue(OWNER, repo, number);
  const pulls = (await stack.github.listPulls(OWNER, repo)).filter((p) => p.head.ref === `harness/issue-${number}`);
  const comments = stack.github.listComments(OWNER, repo, number).map((c) => /<!-- (harness:[a-z-]+)/.exec(c.body)?.[1] ?? "other");
  return {
    labels: issue.labelNames.filter((l) => l.startsWith("harness:")),
    pulls: pulls.map((p) => ({ state: p.state, draft: p.draft })),
    lease: leaseStates(repo, number),
    comments: comments.sort(),
    results: stack.results.filter((r) => r.repository === `${OWNER}/${repo}` && r.issue === number).map((r) => r.outcome),
  };
}

function refCreates(repo: string, number: number): number {
  return stack.github.requestLog.filter((r) => r.operationId === "git/create-ref" && r.path.startsWith(`/repos/${OWNER}/${repo}/`) && r.issueNumber === number)
    .length;
}

/** Posts a delivery with a chosen `X-GitHub-Delivery`, signed like GitHub signs it. */
async function post(event: string, payload: Record<string, unknown>, deliveryId: string): Promise<number> {
  const body = JSON.stringify(payload);
  const res = await fetch(stack.server.webhookUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": deliveryId,
      "x-hub-signature-256": signWebhookBody(stack.webhookSecret, body),
    },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

/** An `issues.<action>` payload for the queued label, built from the issue's state now. */
function labelPayload(repo: string, number: number, action: "labeled" | "unlabeled"): Record<string, unknown> {
  const payload = stack.github.buildPayload("issues", action, OWNER, repo, number, { sender: "ada" });
  payload.label = { id: 1, node_id: "LA_1", url: "", name: QUEUED, color: "ededed", default: false, description: null };
  return payload;
}

/** Changes state without any delivery: the webhook is lost (or not sent yet). */
async function silently<T>(change: () => Promise<T>): Promise<T> {
  stack.github.setWebhook(null);
  try {
    return await change();
  } finally {
    stack.github.setWebhook({ url: stack.server.webhookUrl, secret: stack.webhookSecret });
  }
}

/** Holds the pool's only agent until the returned function is called. */
function occupyAgent(): () => void {
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  expect(stack.pool.submit(`gate-${randomUUID()}`, () => gate)).toBe(true);
  return release;
}

beforeAll(async () => {
  stack = await startStack({ scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/write-file.yaml"))], agents: 1 });
  // Only runOnce in these tests: the timer is an hour away.
  reconciler = startReconciler({
    probot: stack.server.probot,
    repositories: [`${OWNER}/clean`, `${OWNER}/messy`, `${OWNER}/lost`, `${OWNER}/deps`, `${OWNER}/order`],
    minutes: 60,
    log: stack.server.probot.log,
  });
  for (const name of ["clean", "messy", "lost", "deps", "order"]) {
    await stack.github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name, files: { "README.md": `# ${name}\n` } });
  }
});

afterAll(async () => {
  await reconciler?.stop();
  await stack?.close();
});

describe("webhooks duplicated, reordered and lost end in the clean run's state", () => {
  it("a clean run: one delivery, one claim, one PR", async () => {
    const issue = await stack.github.createIssue(OWNER, "clean", { title: "Add hello", body: "Add hello.txt", user: "ada" });
    expect(await stack.github.addLabel(OWNER, "clean", issue.number, QUEUED, { sender: "ada" })).toBe(200);
    await stack.idle();
    clean = await finalState("clean", issue.number);
    cleanRefCreates = refCreates("clean", issue.number);
    expect(clean).toMatchObject({ labels: ["harness:done"], pulls: [{ state: "open", draft: false }], lease: ["released", "claimed"], results: ["success"] });
    stack.github.assertNoViolations();
  });

  it("unlabeled before labeled, each delivered twice: the same state", async () => {
    const issue = await stack.github.createIssue(OWNER, "messy", { title: "Add hello", body: "Add hello.txt", user: "ada" });
    // The person re-queued the issue (label removed, then added); GitHub delivers out of order, twice.
    await silently(() => stack.github.addLabel(OWNER, "messy", issue.number, QUEUED, { sender: "ada" }));
    const unlabeled = labelPayload("messy", issue.number, "unlabeled");
    const labeled = labelPayload("messy", issue.number, "labeled");
    const [u, l] = [randomUUID(), randomUUID()];
    const statuses = await Promise.all([post("issues", unlabeled, u), post("issues", unlabeled, u)]);
    statuses.push(await post("issues", labeled, l), await post("issues", labeled, l), await post("issues", unlabeled, u));
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    await stack.idle();

    expect(await finalState("messy", issue.number)).toEqual(clean);
    // Exactly one claim: no second claimer tried to create the lease (a 422), the lease has one chain.
    expect(refCreates("messy", issue.number)).toBe(cleanRefCreates);
    expect(
      stack.github.requestLog.filter((r) => r.operationId === "git/create-ref" && r.path.startsWith(`/repos/${OWNER}/messy/`) && r.status !== 201),
    ).toEqual([]);
    stack.github.assertNoViolations();
  });

  it("a lost labeled delivery only delays the work: the reconciler hands the issue over", async () => {
    const issue = await stack.github.createIssue(OWNER, "lost", { title: "Add hello", body: "Add hello.txt", user: "ada" });
    await silently(() => stack.github.addLabel(OWNER, "lost", issue.number, QUEUED, { sender: "ada" }));
    await stack.idle();
    expect(leaseStates("lost", issue.number)).toEqual([]);

    const pass = await reconciler.runOnce();
    expect(pass.repositories.find((r) => r.repository === `${OWNER}/lost`)?.submitted).toEqual([issue.number]);
    await stack.idle();
    expect(await finalState("lost", issue.number)).toEqual(clean);

    // Nothing changed since: the next passes are answered 304, which the rate limit does not count.
    await reconciler.runOnce();
    const before = stack.github.requestLog.length;
    const quiet = await reconciler.runOnce();
    const requests = stack.github.requestLog.slice(before).filter((r) => r.kind === "rest");
    expect(quiet.fresh).toBe(0);
    expect(quiet.notModified).toBe(requests.length);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((r) => r.status === 304 && r.method === "GET")).toBe(true);
    expect(quiet.repositories.flatMap((r) => r.submitted)).toEqual([]);
    stack.github.assertNoViolations();
  });

  it("an issue unlabeled while it waits for an agent is dropped; labeled again, it is worked once", async () => {
    const release = occupyAgent();
    const issue = await stack.github.createIssue(OWNER, "lost", { title: "Later", body: "Add hello.txt", user: "ada" });
    expect(await stack.github.addLabel(OWNER, "lost", issue.number, QUEUED, { sender: "ada" })).toBe(200);
    expect(await stack.github.removeLabel(OWNER, "lost", issue.number, QUEUED, { sender: "ada" })).toBe(200);
    release();
    await stack.idle();
    expect(leaseStates("lost", issue.number)).toEqual([]);
    expect(stack.github.listComments(OWNER, "lost", issue.number)).toEqual([]);

    const again = occupyAgent();
    expect(await stack.github.addLabel(OWNER, "lost", issue.number, QUEUED, { sender: "ada" })).toBe(200);
    expect(await stack.github.removeLabel(OWNER, "lost", issue.number, QUEUED, { sender: "ada" })).toBe(200);
    expect(await stack.github.addLabel(OWNER, "lost", issue.number, QUEUED, { sender: "ada" })).toBe(200);
    again();
    await stack.idle();
    // Within the same second the last `labeled` body is byte for byte an earlier one, which the
    // webhook gate ignores as a replay; the reconciler hands the issue over then.
    await reconciler.runOnce();
    await stack.idle();
    expect(await finalState("lost", issue.number)).toEqual(clean);
  });
});

describe("blocked issues wait for their blockers", () => {
  it("is not claimed while a recorded blocker (issue dependencies API) is open, and is claimed by the reconciler once it is closed", async () => {
    const octokit = testOctokit({ baseUrl: stack.github.apiUrl, token: stack.github.token });
    const blocker = await stack.github.createIssue(OWNER, "deps", { title: "Schema first", body: "", user: "ada" });
    const issue = await stack.github.createIssue(OWNER, "deps", { title: "Add hello", body: "Add hello.txt", user: "ada" });
    const { data: blockerData } = await octokit.rest.issues.get({ owner: OWNER, repo: "deps", issue_number: blocker.number });
    await octokit.rest.issues.addBlockedByDependency({ owner: OWNER, repo: "deps", issue_number: issue.number, issue_id: blockerData.id });

    expect(await stack.github.addLabel(OWNER, "deps", issue.number, QUEUED, { sender: "ada" })).toBe(200);
    await stack.idle();
    const waiting = await reconciler.runOnce();
    await stack.idle();
    expect(waiting.repositories.find((r) => r.repository === `${OWNER}/deps`)?.waiting).toEqual([
      { issue: issue.number, reason: `blocked by #${blocker.number}` },
    ]);
    expect(leaseStates("deps", issue.number)).toEqual([]);
    expect(stack.github.getIssue(OWNER, "deps", issue.number).labelNames).toEqual([QUEUED]);

    // Closed through the API: no webhook reaches the app; the reconciler notices.
    await octokit.rest.issues.update({ owner: OWNER, repo: "deps", issue_number: blocker.number, state: "closed" });
    const pass = await reconciler.runOnce();
    expect(pass.repositories.find((r) => r.repository === `${OWNER}/deps`)?.submitted).toEqual([issue.number]);
    await stack.idle();
    expect(await finalState("deps", issue.number)).toEqual(clean);
    stack.github.assertNoViolations();
  });

  it("reads the dependencies only of the issues GitHub's issue_dependencies_summary says are blocked", async () => {
    const octokit = testOctokit({ baseUrl: stack.github.apiUrl, token: stack.github.token });
    const blocker = await stack.github.createIssue(OWNER, "deps", { title: "Models first", body: "", user: "ada" });
    const blocked = await stack.github.createIssue(OWNER, "deps", { title: "Add hello", body: "Add hello.txt", user: "ada" });
    const free = await stack.github.createIssue(OWNER, "deps", { title: "Add hello", body: "Add hello.txt", user: "ada" });
    const { data: blockerData } = await octokit.rest.issues.get({ owner: OWNER, repo: "deps", issue_number: blocker.number });
    await octokit.rest.issues.addBlockedByDependency({ owner: OWNER, repo: "deps", issue_number: blocked.number, issue_id: blockerData.id });
    // The issue objects carry the summary, true to the recorded blockers.
    const { data: blockedData } = await octokit.rest.issues.get({ owner: OWNER, repo: "deps", issue_number: blocked.number });
    expect((blockedData as { issue_dependencies_summary?: unknown }).issue_dependencies_summary).toEqual({
      blocked_by: 1,
      blocking: 0,
      total_blocked_by: 1,
      total_blocking: 0,
    });
    await silently(async () => {
      await stack.github.addLabel(OWNER, "deps", blocked.number, QUEUED, { sender: "ada" });
      await stack.github.addLabel(OWNER, "deps", free.number, QUEUED, { sender: "ada" });
    });

    const start = stack.github.requestLog.length;
    const pass = await reconciler.runOnce();
    const dependencyReads = stack.github.requestLog
      .slice(start)
      .filter((r) => r.operationId === "issues/list-dependencies-blocked-by" && r.path.startsWith(`/repos/${OWNER}/deps/`));
    // total_blocked_by 0 saves the request for the free issue; the blocked one is read.
    expect([...new Set(dependencyReads.map((r) => r.issueNumber))]).toEqual([blocked.number]);
    const deps = pass.repositories.find((r) => r.repository === `${OWNER}/deps`);
    expect(deps?.submitted).toEqual([free.number]);
    expect(deps?.waiting).toEqual([{ issue: blocked.number, reason: `blocked by #${blocker.number}` }]);
    await stack.idle();
    expect(await finalState("deps", free.number)).toEqual(clean);
    // Out of the queue again, so later passes leave it alone.
    await silently(() => stack.github.removeLabel(OWNER, "deps", blocked.number, QUEUED, { sender: "ada" }));
    stack.github.assertNoViolations();
  });

  it("is not claimed while a blocker named in the body ('Depends on #M') is open; the blocker's closed webhook hands it over", async () => {
    const octokit = testOctokit({ baseUrl: stack.github.apiUrl, token: stack.github.token });
    const blocker = await stack.github.createIssue(OWNER, "deps", { title: "API first", body: "", user: "ada" });
    const body = `Add hello.txt.\n\n> Blocked by #999 (quoted: does not count)\n\nDepends on #${blocker.number}`;
    const issue = await stack.github.createIssue(OWNER, "deps", { title: "Add hello", body, user: "ada" });
    expect(await stack.github.addLabel(OWNER, "deps", issue.number, QUEUED, { sender: "ada" })).toBe(200);
    await stack.idle();
    expect(leaseStates("deps", issue.number)).toEqual([]);
    const waiting = await reconciler.runOnce();
    expect(waiting.repositories.find((r) => r.repository === `${OWNER}/deps`)?.waiting).toEqual([
      { issue: issue.number, reason: `blocked by #${blocker.number}` },
    ]);

    await octokit.rest.issues.update({ owner: OWNER, repo: "deps", issue_number: blocker.number, state: "closed" });
    const closed = stack.github.buildPayload("issues", "labeled", OWNER, "deps", blocker.number, { sender: "ada" });
    delete closed.label;
    closed.action = "closed";
    expect(await post("issues", closed, randomUUID())).toBe(200);
    // The closed delivery made the reconciler walk the repository at once; this pass comes after that walk.
    const pass = await reconciler.runOnce();
    expect(pass.repositories.find((r) => r.repository === `${OWNER}/deps`)?.submitted).not.toContain(issue.number);
    await stack.idle();
    expect(await finalState("deps", issue.number)).toEqual(clean);
    stack.github.assertNoViolations();
  });
});

describe("queue order", () => {
  it("the reconciler hands issues over by priority, then age", async () => {
    const release = occupyAgent();
    const make = async (title: string, labels: string[]): Promise<number> =>
      (await stack.github.createIssue(OWNER, "order", { title, body: "x", labels, user: "ada" })).number;
    const low = await make("low", [QUEUED, "priority:low"]);
    const plain = await make("plain", [QUEUED]);
    const high = await make("high", [QUEUED, "priority:high"]);
    const medium = await make("medium", [QUEUED, "priority:medium"]);
    const high2 = await make("high2", [QUEUED, "priority:high"]);
    const pass = await reconciler.runOnce();
    expect(pass.repositories.find((r) => r.repository === `${OWNER}/order`)?.submitted).toEqual([high, high2, plain, medium, low]);
    // Unqueue them all before the agent is free: none is started.
    for (const n of [low, plain, high, medium, high2]) expect(await stack.github.removeLabel(OWNER, "order", n, QUEUED, { sender: "ada" })).toBe(200);
    release();
    await stack.idle();
    for (const n of [low, plain, high, medium, high2]) expect(leaseStates("order", n)).toEqual([]);
  });
});
