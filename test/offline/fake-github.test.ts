import { execFile } from "node:child_process";
import { createHmac, generateKeyPairSync, sign as rsaSign, timingSafeEqual } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Octokit } from "@octokit/rest";
import { ProbotOctokit } from "probot";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeGitHub, takeViolationReports, type FakeGitHub } from "../../src/offline/fake-github/index.js";

const exec = promisify(execFile);
const OWNER = "acme";
const REPO = "widgets";
const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
const APP_ID = 4242;

const keys = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});

function appJwt(privateKey: string, appId = APP_ID): string {
  const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const data = `${b64({ alg: "RS256", typ: "JWT" })}.${b64({ iat: now - 30, exp: now + 540, iss: appId })}`;
  return `${data}.${rsaSign("RSA-SHA256", Buffer.from(data), privateKey).toString("base64url")}`;
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  const env = {
    ...process.env,
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_AUTHOR_NAME: "t",
    GIT_AUTHOR_EMAIL: "t@example.com",
    GIT_COMMITTER_NAME: "t",
    GIT_COMMITTER_EMAIL: "t@example.com",
  };
  const { stdout } = await exec("git", args, { cwd, env });
  return stdout.trim();
}

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const client = (baseUrl: string, auth?: string): Octokit => new Octokit({ baseUrl, auth, log: quiet });

const statusOf = async (p: Promise<unknown>): Promise<number> => {
  try {
    await p;
    return 200;
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
};

describe("fake GitHub", () => {
  let fake: FakeGitHub;
  let octokit: Octokit;
  let work: string;

  beforeAll(async () => {
    fake = await startFakeGitHub({ appKeys: { appId: APP_ID, publicKeyPem: keys.publicKey }, strict: true });
    await fake.createRepo({ owner: OWNER, name: REPO, files: { "README.md": "# widgets\n", "src/index.ts": "export const x = 1;\n" } });
    octokit = client(fake.apiUrl, fake.token);
    work = await mkdtemp(join(tmpdir(), "fake-gh-test-"));
  });

  afterAll(async () => {
    await fake?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  beforeEach(() => {
    fake.clearViolations();
  });

  it("serves repository, contents and branches from the git repository", async () => {
    const { data: repo } = await octokit.repos.get({ owner: OWNER, repo: REPO });
    expect(repo.full_name).toBe(`${OWNER}/${REPO}`);
    expect(repo.default_branch).toBe("main");
    expect(repo.clone_url).toBe(fake.gitUrl(OWNER, REPO));
    const { data: file } = await octokit.repos.getContent({ owner: OWNER, repo: REPO, path: "src/index.ts" });
    expect(Array.isArray(file) ? null : Buffer.from((file as { content: string }).content, "base64").toString()).toBe("export const x = 1;\n");
    expect(await statusOf(octokit.repos.getContent({ owner: OWNER, repo: REPO, path: "nope.txt" }))).toBe(404);
    const { data: branch } = await octokit.repos.getBranch({ owner: OWNER, repo: REPO, branch: "main" });
    expect(branch.commit.sha).toBe(await fake.readRef(OWNER, REPO, "refs/heads/main"));
    fake.assertNoViolations();
  });

  it("requires a token", async () => {
    const anonymous = client(fake.apiUrl);
    expect(await statusOf(anonymous.repos.get({ owner: OWNER, repo: REPO }))).toBe(401);
    const wrong = client(fake.apiUrl, "ghp_wrong");
    expect(await statusOf(wrong.repos.get({ owner: OWNER, repo: REPO }))).toBe(401);
  });

  it("handles issues, labels, assignees, comments, reactions and permissions", async () => {
    fake.setPermission(OWNER, REPO, "ada", "write");
    const created = await fake.createIssue(OWNER, REPO, { title: "Fix it", body: "Please", user: "ada" });
    const n = created.number;
    await octokit.issues.addLabels({ owner: OWNER, repo: REPO, issue_number: n, labels: ["harness:queued", "priority:high"] });
    const listed = await octokit.issues.listForRepo({
      owner: OWNER,
      repo: REPO,
      labels: "harness:queued",
      state: "open",
      sort: "created",
      direction: "asc",
      per_page: 10,
    });
    expect(listed.data.map((i) => i.number)).toContain(n);
    await octokit.issues.removeLabel({ owner: OWNER, repo: REPO, issue_number: n, name: "harness:queued" });
    await octokit.issues.setLabels({ owner: OWNER, repo: REPO, issue_number: n, labels: ["harness:claimed"] });
    expect(fake.getIssue(OWNER, REPO, n).labelNames).toEqual(["harness:claimed"]);
    expect(await statusOf(octokit.issues.removeLabel({ owner: OWNER, repo: REPO, issue_number: n, name: "absent" }))).toBe(404);

    const assigned = await octokit.issues.addAssignees({ owner: OWNER, repo: REPO, issue_number: n, assignees: ["harness[bot]", "ada"] });
    expect(assigned.data.assignees?.map((a) => a.login)).toEqual(["ada"]);
    await octokit.issues.removeAssignees({ owner: OWNER, repo: REPO, issue_number: n, assignees: ["ada"] });
    const updated = await octokit.issues.update({ owner: OWNER, repo: REPO, issue_number: n, title: "Fix it now", state: "closed" });
    expect(updated.data.state).toBe("closed");
    expect(updated.data.closed_by?.login).toBe("harness-tester");

    const { data: comment } = await octokit.issues.createComment({ owner: OWNER, repo: REPO, issue_number: n, body: "working on it" });
    await octokit.issues.updateComment({ owner: OWNER, repo: REPO, comment_id: comment.id, body: "done" });
    const { data: reaction } = await octokit.reactions.createForIssueComment({ owner: OWNER, repo: REPO, comment_id: comment.id, content: "eyes" });
    expect(reaction.content).toBe("eyes");
    const { data: again } = await octokit.issues.getComment({ owner: OWNER, repo: REPO, comment_id: comment.id });
    expect(again.body).toBe("done");
    expect(again.reactions?.eyes).toBe(1);
    const comments = await octokit.issues.listComments({ owner: OWNER, repo: REPO, issue_number: n });
    expect(comments.data.map((c) => c.body)).toEqual(["done"]);
    await octokit.issues.deleteComment({ owner: OWNER, repo: REPO, comment_id: comment.id });
    expect(fake.listComments(OWNER, REPO, n)).toEqual([]);

    const { data: perm } = await octokit.repos.getCollaboratorPermissionLevel({ owner: OWNER, repo: REPO, username: "ada" });
    expect(perm.permission).toBe("write");
    const { data: none } = await octokit.repos.getCollaboratorPermissionLevel({ owner: OWNER, repo: REPO, username: "mallory" });
    expect(none.permission).toBe("none");

    const log = fake.requestLog.filter((e) => e.issueNumber === n);
    expect(log.some((e) => e.write && e.operationId === "issues/add-labels" && e.actor === "harness-tester")).toBe(true);
    expect(fake.changes.some((c) => c.action === "issue.labeled" && c.issueNumber === n && c.actor === "harness-tester")).toBe(true);
    fake.assertNoViolations();
  });

  it("creates, reads and CAS-updates lease refs; exactly one concurrent writer wins", async () => {
    const ref = "refs/harness/leases/issue-7";
    const lease = (state: string, epoch: number): string => JSON.stringify({ issue: 7, state, epoch });
    const { data: first } = await octokit.git.createCommit({ owner: OWNER, repo: REPO, message: lease("claimed", 1), tree: EMPTY_TREE, parents: [] });
    expect(first.tree.sha).toBe(EMPTY_TREE);
    await octokit.git.createRef({ owner: OWNER, repo: REPO, ref, sha: first.sha });
    const dup = await octokit.git
      .createRef({ owner: OWNER, repo: REPO, ref, sha: first.sha })
      .catch((e: { status: number; response: { data: { message: string } } }) => e);
    expect("status" in dup && dup.status).toBe(422);
    expect((dup as { response: { data: { message: string } } }).response.data.message).toBe("Reference already exists");

    const { data: got } = await octokit.git.getRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-7" });
    expect(got.object.sha).toBe(first.sha);
    const { data: read } = await octokit.git.getCommit({ owner: OWNER, repo: REPO, commit_sha: first.sha });
    expect(JSON.parse(read.message)).toMatchObject({ state: "claimed" });
    const { data: matching } = await octokit.git.listMatchingRefs({ owner: OWNER, repo: REPO, ref: "harness/leases/" });
    expect(matching.map((r) => r.ref)).toEqual([ref]);
    expect(await statusOf(octokit.git.getRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-999" }))).toBe(404);

    // Eight writers race from the same head, each with its own child commit.
    const children = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        octokit.git.createCommit({ owner: OWNER, repo: REPO, message: lease(`renew-${i}`, 2), tree: EMPTY_TREE, parents: [first.sha] }).then((r) => r.data.sha),
      ),
    );
    const results = await Promise.all(
      children.map((sha) => statusOf(octokit.git.updateRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-7", sha, force: false }))),
    );
    expect(results.filter((s) => s === 200)).toHaveLength(1);
    expect(results.filter((s) => s === 422)).toHaveLength(7);
    const winner = children[results.indexOf(200)];
    expect(await fake.readRef(OWNER, REPO, ref)).toBe(winner);

    // A sibling is not a fast forward; force overrides.
    const loser = children.find((c) => c !== winner) ?? "";
    expect(await statusOf(octokit.git.updateRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-7", sha: loser }))).toBe(422);
    expect(await statusOf(octokit.git.updateRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-7", sha: loser, force: true }))).toBe(200);

    // Conditional GET: unchanged ref answers 304.
    const { headers } = await octokit.git.getRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-7" });
    expect(
      await statusOf(octokit.git.getRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-7", headers: { "if-none-match": headers.etag ?? "" } })),
    ).toBe(304);

    await octokit.git.deleteRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-7" });
    expect(await fake.readRef(OWNER, REPO, ref)).toBeNull();
    expect(fake.requestLog.filter((e) => e.issueNumber === 7 && e.write).length).toBeGreaterThan(10);
    fake.assertNoViolations();
  });

  it("accepts git pushes over HTTP only with a token, and sees API refs", async () => {
    const clone = join(work, "push");
    await git(work, "clone", "--quiet", fake.gitUrl(OWNER, REPO), clone);
    await git(clone, "checkout", "--quiet", "-b", "harness/issue-1");
    await writeFile(join(clone, "CHANGE.md"), "change\n");
    await git(clone, "add", "CHANGE.md");
    await git(clone, "commit", "--quiet", "-m", "change");
    const head = await git(clone, "rev-parse", "HEAD");

    await expect(git(clone, "push", "--quiet", "origin", "harness/issue-1")).rejects.toThrow();
    expect(await fake.readRef(OWNER, REPO, "refs/heads/harness/issue-1")).toBeNull();
    expect(fake.requestLog.some((e) => e.kind === "git" && e.status === 401)).toBe(true);

    const authed = fake.gitUrl(OWNER, REPO).replace("http://", `http://x-access-token:${fake.token}@`);
    await git(clone, "push", "--quiet", authed, "harness/issue-1");
    expect(await fake.readRef(OWNER, REPO, "refs/heads/harness/issue-1")).toBe(head);
    const { data: branch } = await octokit.repos.getBranch({ owner: OWNER, repo: REPO, branch: "harness/issue-1" });
    expect(branch.commit.sha).toBe(head);

    // A ref made through the API is visible to git fetch.
    const { data: c } = await octokit.git.createCommit({ owner: OWNER, repo: REPO, message: "{}", tree: EMPTY_TREE, parents: [] });
    await octokit.git.createRef({ owner: OWNER, repo: REPO, ref: "refs/harness/leases/issue-1", sha: c.sha });
    await git(clone, "fetch", "--quiet", "origin", "refs/harness/leases/issue-1:refs/remotes/lease");
    expect(await git(clone, "rev-parse", "refs/remotes/lease")).toBe(c.sha);
    expect(fake.changes.some((ch) => ch.action === "git.push" && ch.actor === "harness-tester")).toBe(true);
    fake.assertNoViolations();
  });

  it("round-trips a pull request sharing the issue number sequence", async () => {
    const clone = join(work, "pr");
    const authed = fake.gitUrl(OWNER, REPO).replace("http://", `http://x-access-token:${fake.token}@`);
    await git(work, "clone", "--quiet", authed, clone);
    await git(clone, "checkout", "--quiet", "-b", "harness/issue-2");
    await writeFile(join(clone, "src/index.ts"), "export const x = 2;\nexport const y = 3;\n");
    await git(clone, "commit", "--quiet", "-am", "feat: y");
    await git(clone, "push", "--quiet", "origin", "harness/issue-2");
    await git(clone, "push", "--quiet", "origin", "main:refs/heads/empty-branch");

    const issue = await fake.createIssue(OWNER, REPO, { title: "Add y" });
    const { data: pr } = await octokit.pulls.create({
      owner: OWNER,
      repo: REPO,
      head: "harness/issue-2",
      base: "main",
      title: "Add y",
      body: `Closes #${issue.number}`,
      draft: true,
    });
    expect(pr.number).toBe(issue.number + 1);
    expect(pr.draft).toBe(true);
    expect(pr.commits).toBe(1);
    expect(await statusOf(octokit.pulls.create({ owner: OWNER, repo: REPO, head: `${OWNER}:harness/issue-2`, base: "main", title: "dup" }))).toBe(422);
    expect(await statusOf(octokit.pulls.create({ owner: OWNER, repo: REPO, head: "empty-branch", base: "main", title: "nothing" }))).toBe(422);

    const { data: open } = await octokit.pulls.list({ owner: OWNER, repo: REPO, head: `${OWNER}:harness/issue-2`, state: "open" });
    expect(open.map((p) => p.number)).toEqual([pr.number]);
    const { data: files } = await octokit.pulls.listFiles({ owner: OWNER, repo: REPO, pull_number: pr.number });
    expect(files).toMatchObject([{ filename: "src/index.ts", status: "modified", additions: 2, deletions: 1 }]);
    const { data: cmp } = await octokit.repos.compareCommitsWithBasehead({ owner: OWNER, repo: REPO, basehead: "main...harness/issue-2" });
    expect(cmp).toMatchObject({ status: "ahead", ahead_by: 1, behind_by: 0 });
    const { data: asIssue } = await octokit.issues.get({ owner: OWNER, repo: REPO, issue_number: pr.number });
    expect(asIssue.pull_request?.url).toContain(`/pulls/${pr.number}`);
    const { data: issues } = await octokit.issues.listForRepo({ owner: OWNER, repo: REPO, state: "all", per_page: 100 });
    expect(issues.some((i) => i.number === pr.number && i.pull_request)).toBe(true);

    const { data: edited } = await octokit.pulls.update({ owner: OWNER, repo: REPO, pull_number: pr.number, body: "updated", state: "closed" });
    expect(edited).toMatchObject({ body: "updated", state: "closed" });
    const { data: got } = await octokit.pulls.get({ owner: OWNER, repo: REPO, pull_number: pr.number });
    expect(got.head.sha).toBe(await fake.readRef(OWNER, REPO, "refs/heads/harness/issue-2"));
    expect((await fake.listPulls(OWNER, REPO)).map((p) => p.head.ref)).toContain("harness/issue-2");
    fake.assertNoViolations();
  });

  it("delivers signed webhooks shaped like GitHub's", async () => {
    const received: Array<{ headers: IncomingMessage["headers"]; body: string }> = [];
    const receiver: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks`;
    const secret = "s3cret";
    fake.setWebhook({ url, secret });
    try {
      const issue = await fake.createIssue(OWNER, REPO, { title: "hook me", user: "ada" });
      expect(await fake.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" })).toBe(202);
      const { status } = await fake.comment(OWNER, REPO, issue.number, "/retry", { sender: "ada" });
      expect(status).toBe(202);
      expect(await fake.removeLabel(OWNER, REPO, issue.number, "harness:queued")).toBe(202);

      const [labeled, commented] = received;
      if (!labeled || !commented) throw new Error("missing deliveries");
      const expected = `sha256=${createHmac("sha256", secret).update(labeled.body).digest("hex")}`;
      const got = String(labeled.headers["x-hub-signature-256"]);
      expect(timingSafeEqual(Buffer.from(got), Buffer.from(expected))).toBe(true);
      expect(labeled.headers["x-github-event"]).toBe("issues");
      expect(labeled.headers["x-github-delivery"]).toMatch(/^[0-9a-f-]{36}$/);
      const payload = JSON.parse(labeled.body) as Record<string, Record<string, unknown>>;
      expect(payload.action).toBe("labeled");
      expect(payload.label?.name).toBe("harness:queued");
      expect(payload.issue?.number).toBe(issue.number);
      expect(payload.repository?.full_name).toBe(`${OWNER}/${REPO}`);
      expect(payload.sender?.login).toBe("ada");
      expect(payload.installation?.id).toBe(fake.installationId(OWNER));
      expect((JSON.parse(commented.body) as { comment: { body: string } }).comment.body).toBe("/retry");
      expect(commented.headers["x-github-event"]).toBe("issue_comment");

      const bad = fake.buildPayload("issues", "labeled", OWNER, REPO, issue.number);
      await fake.deliver("issues", bad, { signature: "invalid" });
      await fake.deliver("issues", bad, { signature: "missing" });
      const last = received.slice(-2);
      expect(last[0]?.headers["x-hub-signature-256"]).not.toBe(
        `sha256=${createHmac("sha256", secret)
          .update(last[0]?.body ?? "")
          .digest("hex")}`,
      );
      expect(last[1]?.headers["x-hub-signature-256"]).toBeUndefined();
      expect(fake.deliveries.map((d) => d.event)).toEqual(["issues", "issue_comment", "issues", "issues", "issues"]);
    } finally {
      fake.setWebhook(null);
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });

  it("authenticates a GitHub App by JWT and mints installation tokens", async () => {
    const app = client(fake.apiUrl, appJwt(keys.privateKey));
    const { data: me } = await app.apps.getAuthenticated();
    expect(me?.id).toBe(APP_ID);
    const { data: inst } = await app.apps.getRepoInstallation({ owner: OWNER, repo: REPO });
    const { data: tok } = await app.apps.createInstallationAccessToken({ installation_id: inst.id });
    const bot = client(fake.apiUrl, tok.token);
    const issue = await fake.createIssue(OWNER, REPO, { title: "by the bot" });
    const { data: c } = await bot.issues.createComment({ owner: OWNER, repo: REPO, issue_number: issue.number, body: "hi" });
    expect(c.user?.login).toBe("harness-app[bot]");
    expect(c.user?.type).toBe("Bot");

    const otherKey = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    const forged = client(fake.apiUrl, appJwt(otherKey.privateKey));
    expect(await statusOf(forged.apps.getAuthenticated())).toBe(401);
    expect(await statusOf(app.repos.get({ owner: OWNER, repo: REPO }))).toBe(401);

    // The way Probot gets its installation client: @octokit/auth-app through octokit-auth-probot.
    const probot = new ProbotOctokit({
      baseUrl: fake.apiUrl,
      auth: { appId: APP_ID, privateKey: keys.privateKey, installationId: inst.id },
      log: quiet,
      throttle: { enabled: false },
      retry: { enabled: false },
    });
    const { data: viaProbot } = await probot.rest.issues.addLabels({ owner: OWNER, repo: REPO, issue_number: issue.number, labels: ["harness:claimed"] });
    expect(viaProbot.map((l) => l.name)).toEqual(["harness:claimed"]);
    expect(fake.changes.some((ch) => ch.action === "issue.labeled" && ch.actor === "harness-app[bot]")).toBe(true);
    fake.assertNoViolations();
  });

  it("records OpenAPI violations: bad request bodies and unknown routes", async () => {
    const res = await fetch(`${fake.apiUrl}/repos/${OWNER}/${REPO}/git/refs/heads/main`, {
      method: "PATCH",
      headers: { authorization: `token ${fake.token}`, "content-type": "application/json" },
      body: JSON.stringify({ sha: 42 }),
    });
    expect(res.status).toBe(422);
    expect(fake.violations).toMatchObject([{ kind: "request-body", operationId: "git/update-ref" }]);

    expect(await statusOf(octokit.request("GET /repos/{owner}/{repo}/no-such-thing", { owner: OWNER, repo: REPO }))).toBe(404);
    expect(fake.violations[1]).toMatchObject({ kind: "unknown-route" });
    expect(() => fake.assertNoViolations()).toThrow(/unknown-route/);
    fake.clearViolations();
  });

  it("GET /user answers who a token acts as (GitHub's private-user shape)", async () => {
    const { data } = await octokit.rest.users.getAuthenticated();
    expect(data).toMatchObject({ login: "harness-tester", type: "User" });
    fake.assertNoViolations();
  });

  it("strict by default: every fake's violations are reported once to the test setup (test/support/strict-fake.ts)", async () => {
    const other = await startFakeGitHub();
    try {
      expect(takeViolationReports()).toEqual([]);
      const res = await fetch(`${other.apiUrl}/repos/${OWNER}/${REPO}/no-such-thing`, { headers: { authorization: `token ${other.token}` } });
      expect(res.status).toBe(404);
      const reports = takeViolationReports();
      expect(reports).toHaveLength(1);
      expect(reports[0]).toContain(other.apiUrl);
      expect(reports[0]).toMatch(/\[unknown-route\] GET \/repos\/.*\/no-such-thing/);
      // Taken once: the next test does not inherit them.
      expect(other.violations).toEqual([]);
      expect(takeViolationReports()).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

describe("fake GitHub's in-process git paths agree with git", () => {
  let fake: FakeGitHub;
  let octokit: Octokit;
  let repoPath: string;
  const gitIn = (...args: string[]): Promise<string> => git(repoPath, ...args);

  beforeAll(async () => {
    fake = await startFakeGitHub({ strict: true });
    await fake.createRepo({ owner: OWNER, name: REPO });
    octokit = client(fake.apiUrl, fake.token);
    repoPath = fake.repoPath(OWNER, REPO);
  });

  afterAll(async () => {
    await fake?.close();
  });

  it("writes commit objects byte for byte as git commit-tree does, and git reads them back", async () => {
    const cases: Array<{
      message: string;
      author?: { name: string; email: string; date?: string };
      committer?: { name: string; email: string; date?: string };
    }> = [
      { message: "plain" },
      { message: "with newline\n" },
      { message: "trailing blank lines\n\n\n" },
      { message: "" },
      { message: '{"state":"claimed","owner":"ünïcødé ✓ 🚀"}' },
      { message: "dated", author: { name: "Ada Lovelace", email: "ada@example.com", date: "2026-11-26T10:00:00Z" } },
      {
        message: "offset",
        author: { name: "Ada", email: "ada@example.com", date: "2026-11-26T10:00:00+02:00" },
        committer: { name: "Bob", email: "bob@example.com", date: "2026-01-02T03:04:05.678-05:30" },
      },
      // Inputs git rewrites go through git itself; the answer must be the same either way.
      { message: "crud", author: { name: " Ada. ", email: "<ada@example.com>", date: "2026-11-26T10:00:00Z" } },
      { message: "late in the month", author: { name: "Ada", email: "ada@example.com", date: "2026-11-30T23:59:59+14:00" } },
    ];
    let parent: string | null = null;
    for (const c of cases) {
      const parents: string[] = parent === null ? [] : [parent];
      const { data } = await octokit.git.createCommit({
        owner: OWNER,
        repo: REPO,
        message: c.message,
        tree: EMPTY_TREE,
        parents,
        ...(c.author ? { author: c.author } : {}),
        ...(c.committer ? { committer: c.committer } : {}),
      });
      // git recomputes the object from what it reads on disk: same sha, same fields.
      const raw = await gitIn("cat-file", "commit", data.sha);
      expect(raw.startsWith(`tree ${EMPTY_TREE}\n${parent ? `parent ${parent}\n` : ""}author `)).toBe(true);
      const author = /^author (.*) <(.*)> (\d+) ([+-]\d{4})$/m.exec(raw);
      const committer = /^committer (.*) <(.*)> (\d+) ([+-]\d{4})$/m.exec(raw);
      expect(author && committer).toBeTruthy();
      const env = {
        ...process.env,
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_CONFIG_GLOBAL: "/dev/null",
        GIT_AUTHOR_NAME: c.author?.name ?? "harness-tester",
        GIT_AUTHOR_EMAIL: author?.[2] ?? "",
        GIT_AUTHOR_DATE: c.author?.date ?? `@${author?.[3] ?? ""} ${author?.[4] ?? ""}`,
        GIT_COMMITTER_NAME: c.committer?.name ?? c.author?.name ?? "harness-tester",
        GIT_COMMITTER_EMAIL: committer?.[2] ?? "",
        GIT_COMMITTER_DATE: c.committer?.date ?? c.author?.date ?? `@${committer?.[3] ?? ""} ${committer?.[4] ?? ""}`,
      };
      if (c.author) env.GIT_AUTHOR_EMAIL = c.author.email;
      if (c.committer ?? c.author) env.GIT_COMMITTER_EMAIL = (c.committer ?? c.author)?.email ?? "";
      const byGit = await new Promise<string>((resolve, reject) => {
        const child = execFile("git", ["commit-tree", EMPTY_TREE, ...(parent ? ["-p", parent] : []), "-F", "-"], { cwd: repoPath, env }, (err, stdout) =>
          err ? reject(err) : resolve(stdout.trim()),
        );
        child.stdin?.end(c.message);
      });
      expect(data.sha, JSON.stringify(c)).toBe(byGit);
      const { data: read } = await octokit.git.getCommit({ owner: OWNER, repo: REPO, commit_sha: data.sha });
      expect(read.message).toBe(c.message);
      expect((await fake.readCommit(OWNER, REPO, data.sha)).message).toBe(c.message);
      parent = data.sha;
    }
    await gitIn("fsck", "--strict", "--no-dangling");
    fake.assertNoViolations();
  });

  it("reads refs as git does: loose, packed, missing, and names that are prefixes of refs", async () => {
    const { data: c } = await octokit.git.createCommit({ owner: OWNER, repo: REPO, message: "ref reads", tree: EMPTY_TREE, parents: [] });
    await octokit.git.createRef({ owner: OWNER, repo: REPO, ref: "refs/harness/leases/issue-1", sha: c.sha });
    await gitIn("update-ref", "refs/harness/leases/issue-2", c.sha);
    await gitIn("pack-refs", "--all");
    // Packed now: still found, by the API and by the inspection helper.
    expect(await fake.readRef(OWNER, REPO, "refs/harness/leases/issue-2")).toBe(c.sha);
    expect((await octokit.git.getRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-1" })).data.object.sha).toBe(c.sha);
    expect(await statusOf(octokit.git.getRef({ owner: OWNER, repo: REPO, ref: "harness/leases" }))).toBe(404);
    expect(await statusOf(octokit.git.getRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-1/deeper" }))).toBe(404);
    // A write through git itself (not the fake) is seen at once.
    const { data: d } = await octokit.git.createCommit({ owner: OWNER, repo: REPO, message: "moved by git", tree: EMPTY_TREE, parents: [c.sha] });
    await gitIn("update-ref", "refs/harness/leases/issue-2", d.sha, c.sha);
    expect((await octokit.git.getRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-2" })).data.object.sha).toBe(d.sha);
    // CAS through the API on a packed ref, then delete it.
    await octokit.git.updateRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-1", sha: d.sha, force: false });
    expect(await gitIn("rev-parse", "refs/harness/leases/issue-1")).toBe(d.sha);
    await octokit.git.deleteRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-1" });
    expect(await fake.readRef(OWNER, REPO, "refs/harness/leases/issue-1")).toBeNull();
    await expect(gitIn("rev-parse", "--verify", "--quiet", "refs/harness/leases/issue-1")).rejects.toThrow();
    fake.assertNoViolations();
  });

  it("keeps the CAS real against other git writers: a held ref lock fails the write, then it succeeds", async () => {
    const { data: base } = await octokit.git.createCommit({ owner: OWNER, repo: REPO, message: "base", tree: EMPTY_TREE, parents: [] });
    await octokit.git.createRef({ owner: OWNER, repo: REPO, ref: "refs/harness/leases/issue-3", sha: base.sha });
    const { data: next } = await octokit.git.createCommit({ owner: OWNER, repo: REPO, message: "next", tree: EMPTY_TREE, parents: [base.sha] });
    // Another writer (say a push) holds the ref's lock: git refuses, the fake retries until it is free.
    const lock = join(repoPath, "refs", "harness", "leases", "issue-3.lock");
    await writeFile(lock, "");
    const update = octokit.git.updateRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-3", sha: next.sha });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await gitIn("rev-parse", "refs/harness/leases/issue-3")).toBe(base.sha);
    await rm(lock);
    expect((await update).data.object.sha).toBe(next.sha);
    expect(await gitIn("rev-parse", "refs/harness/leases/issue-3")).toBe(next.sha);
    // Many racers from one head, through the one update-ref process: exactly one wins.
    const children = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        octokit.git.createCommit({ owner: OWNER, repo: REPO, message: `r${i}`, tree: EMPTY_TREE, parents: [next.sha] }).then((r) => r.data.sha),
      ),
    );
    const results = await Promise.all(children.map((sha) => statusOf(octokit.git.updateRef({ owner: OWNER, repo: REPO, ref: "harness/leases/issue-3", sha }))));
    expect(results.filter((s) => s === 200)).toHaveLength(1);
    expect(await gitIn("rev-parse", "refs/harness/leases/issue-3")).toBe(children[results.indexOf(200)]);
    fake.assertNoViolations();
  });
});
