import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { promises as fs } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isHarnessError } from "../../src/core/errors.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { loadUsersFile } from "../../src/offline/users-file.js";

/**
 * The users of `harness offline --users`: chosen tokens acting as a person or a bot with a
 * repository permission, through REST and git, and REST label/comment changes delivering the
 * webhooks GitHub would, with that user as sender.
 */

const run = promisify(execFile);
const OWNER = "octo-org";
const REPO = "people";
const SECRET = "users-test-secret";

interface Received {
  event: string;
  signature: string;
  body: string;
}

let fake: FakeGitHub;
let receiver: Server;
let root: string;
const received: Received[] = [];
const waiters: (() => void)[] = [];

/** Resolves when `count` deliveries arrived (each arrival wakes the waiters). */
async function deliveries(count: number): Promise<Received[]> {
  while (received.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
  return received.slice(0, count);
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "fake-users-"));
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({
        event: String(req.headers["x-github-event"]),
        signature: String(req.headers["x-hub-signature-256"]),
        body: Buffer.concat(chunks).toString(),
      });
      res.writeHead(200).end();
      for (const wake of waiters.splice(0)) wake();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  fake = await startFakeGitHub({ restWebhooks: true, dir: path.join(root, "github") });
  await fake.createRepo({ owner: OWNER, name: REPO, files: { "README.md": "# people\n" } });
  fake.addUserToken("writer-token-0001", "wendy");
  fake.setPermission(OWNER, REPO, "wendy", "write");
  fake.addUserToken("reader-token-0001", "rudy");
  fake.setPermission(OWNER, REPO, "rudy", "read");
  fake.addUserToken("bot-token-00000001", "helper[bot]", "Bot");
  fake.setPermission(OWNER, REPO, "helper[bot]", "triage");
  await fake.createIssue(OWNER, REPO, { title: "Something to do" });
  fake.setWebhook({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, secret: SECRET });
});

afterAll(async () => {
  await fake?.close();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  if (root) await fs.rm(root, { recursive: true, force: true });
});

const api = (token: string, method: string, route: string, body?: unknown): Promise<Response> =>
  fetch(`${fake.apiUrl}/repos/${OWNER}/${REPO}${route}`, {
    method,
    headers: { authorization: `token ${token}`, accept: "application/vnd.github+json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

describe("fake GitHub users with chosen tokens", () => {
  it("lets a write user label (webhook signed, sender that user) and refuses a read user as GitHub does", async () => {
    const refused = await api("reader-token-0001", "POST", "/issues/1/labels", { labels: ["harness:queued"] });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { message: string }).message).toBe("Must have push access to repository");
    expect(fake.getIssue(OWNER, REPO, 1).labelNames).toEqual([]);

    const labeled = await api("writer-token-0001", "POST", "/issues/1/labels", { labels: ["harness:queued"] });
    expect(labeled.status).toBe(200);
    const commented = await api("writer-token-0001", "POST", "/issues/1/comments", { body: "/status" });
    expect(commented.status).toBe(201);
    const [label, comment] = await deliveries(2);
    // The refused request delivered nothing: the first delivery is wendy's label.
    expect(label?.event).toBe("issues");
    expect(label?.signature).toBe(
      `sha256=${createHmac("sha256", SECRET)
        .update(label?.body ?? "")
        .digest("hex")}`,
    );
    expect(JSON.parse(label?.body ?? "{}")).toMatchObject({
      action: "labeled",
      label: { name: "harness:queued" },
      sender: { login: "wendy", type: "User" },
      issue: { number: 1 },
    });
    expect(comment?.event).toBe("issue_comment");
    expect(JSON.parse(comment?.body ?? "{}")).toMatchObject({
      action: "created",
      comment: { body: "/status", user: { login: "wendy" } },
      sender: { login: "wendy" },
    });
    await fake.settled();
    expect(fake.deliveries.map((d) => `${d.event}.${d.action}`)).toEqual(["issues.labeled", "issue_comment.created"]);
  });

  it("delivers a bot's label change with the bot as sender", async () => {
    const before = received.length;
    const set = await api("bot-token-00000001", "PUT", "/issues/1/labels", { labels: ["priority:high"] });
    expect(set.status).toBe(200);
    // Set labels: harness:queued removed, priority:high added, one delivery each.
    const got = (await deliveries(before + 2))
      .slice(before)
      .map((d) => JSON.parse(d.body) as { action: string; label: { name: string }; sender: { login: string; type: string } });
    expect(got.map((p) => `${p.action} ${p.label.name} by ${p.sender.login} (${p.sender.type})`)).toEqual([
      "unlabeled harness:queued by helper[bot] (Bot)",
      "labeled priority:high by helper[bot] (Bot)",
    ]);
  });

  it("answers the permission API with each user's listed permission", async () => {
    const expected: Record<string, { permission: string; role_name: string }> = {
      wendy: { permission: "write", role_name: "write" },
      rudy: { permission: "read", role_name: "read" },
      // GitHub's `permission` knows only admin/write/read/none; `role_name` has the role.
      "helper[bot]": { permission: "read", role_name: "triage" },
      stranger: { permission: "none", role_name: "none" },
    };
    for (const [login, want] of Object.entries(expected)) {
      const res = await api("reader-token-0001", "GET", `/collaborators/${encodeURIComponent(login)}/permission`);
      expect(res.status, login).toBe(200);
      expect(await res.json(), login).toMatchObject({ ...want, user: { login } });
    }
    fake.assertNoViolations();
  });

  it("takes a git push from a write user's token and refuses a read user's with 403", async () => {
    const work = path.join(root, "clone");
    await run("git", ["clone", "--quiet", fake.gitUrl(OWNER, REPO), work]);
    await fs.writeFile(path.join(work, "notes.txt"), "hello\n");
    const git = (...args: string[]): Promise<{ stdout: string; stderr: string }> =>
      run("git", ["-C", work, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args]);
    await git("add", "notes.txt");
    await git("commit", "--quiet", "-m", "notes");
    const url = (token: string): string => fake.gitUrl(OWNER, REPO).replace("http://", `http://x-access-token:${token}@`);
    await expect(git("push", url("reader-token-0001"), "HEAD:refs/heads/by-reader")).rejects.toThrow(/403/);
    expect(await fake.readRef(OWNER, REPO, "refs/heads/by-reader")).toBeNull();
    await git("push", "--quiet", url("writer-token-0001"), "HEAD:refs/heads/by-writer");
    expect(await fake.readRef(OWNER, REPO, "refs/heads/by-writer")).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe("loadUsersFile", () => {
  const write = async (name: string, text: string): Promise<string> => {
    const file = path.join(root, name);
    await fs.writeFile(file, text);
    return file;
  };

  it("reads YAML and JSON, with the type from the login when left out", async () => {
    const yaml = await write(
      "u.yaml",
      "- {login: ada, permission: admin, token: ada-token-01}\n- {login: 'ci[bot]', permission: write, token: ci-token-001}\n",
    );
    expect(await loadUsersFile(yaml)).toEqual([
      { login: "ada", type: "User", permission: "admin", token: "ada-token-01" },
      { login: "ci[bot]", type: "Bot", permission: "write", token: "ci-token-001" },
    ]);
    const json = await write("u.json", JSON.stringify({ users: [{ login: "bo", type: "User", permission: "none", token: "bo-token-001" }] }));
    expect(await loadUsersFile(json)).toEqual([{ login: "bo", type: "User", permission: "none", token: "bo-token-001" }]);
  });

  it.each([
    ["an unknown permission", "- {login: ada, permission: owner, token: ada-token-01}\n", /permission/],
    ["a missing token", "- {login: ada, permission: write}\n", /token/],
    ["an unknown key", "- {login: ada, permission: write, token: ada-token-01, role: x}\n", /role/],
    [
      "a duplicate login",
      "- {login: ada, permission: write, token: ada-token-01}\n- {login: ADA, permission: read, token: ada-token-02}\n",
      /users\[1\] has the login "ADA" of users\[0\]/,
    ],
    [
      "a duplicate token",
      "- {login: ada, permission: write, token: ada-token-01}\n- {login: bo, permission: read, token: ada-token-01}\n",
      /users\[1\] \("bo"\) has the token of users\[0\]/,
    ],
    ["a Bot whose login lacks [bot]", "- {login: ci, type: Bot, permission: write, token: ci-token-001}\n", /ends in \[bot\]/],
    ["a User whose login ends in [bot]", "- {login: 'ci[bot]', type: User, permission: write, token: ci-token-001}\n", /set type: Bot/],
  ])("refuses %s with EHARNESS_CONFIG and a fix", async (_what, text, says) => {
    const file = await write("bad.yaml", text);
    const error: unknown = await loadUsersFile(file).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isHarnessError(error) && error.code).toBe("EHARNESS_CONFIG");
    expect(String(error)).toMatch(says);
    expect(isHarnessError(error) && error.fix).toMatch(/login, type: User\|Bot, permission/);
  });

  it("names every problem of the file at once", async () => {
    const file = await write(
      "many.yaml",
      "- {login: ada, permission: owner, token: ada-token-01}\n- {login: ada, permission: read}\n- {login: bo, permission: read, token: ada-token-01}\n",
    );
    const error: unknown = await loadUsersFile(file).catch((e: unknown) => e);
    expect(isHarnessError(error) && error.code).toBe("EHARNESS_CONFIG");
    const message = isHarnessError(error) ? error.message : "";
    expect(message).toMatch(/users\[0\]\.permission: /);
    expect(message).toContain('users[1] has the login "ada" of users[0]');
    expect(message).toMatch(/users\[1\]\.token: /);
    expect(message).toContain('users[2] ("bo") has the token of users[0]');
  });

  it("refuses a missing file with EHARNESS_USAGE", async () => {
    const error: unknown = await loadUsersFile(path.join(root, "nope.yaml")).catch((e: unknown) => e);
    expect(isHarnessError(error) && error.code).toBe("EHARNESS_USAGE");
  });
});

describe("REST webhooks of pull requests and comment edits", () => {
  it("delivers pull_request.opened, pull_request.labeled (not issues.labeled) and issue_comment.edited, the token's user as sender", async () => {
    const start = received.length;
    const main = (await (await api(fake.token, "GET", "/git/ref/heads/main")).json()) as { object: { sha: string } };
    const base = (await (await api(fake.token, "GET", `/git/commits/${main.object.sha}`)).json()) as { tree: { sha: string } };
    const change = (await (await api(fake.token, "POST", "/git/commits", { message: "change", tree: base.tree.sha, parents: [main.object.sha] })).json()) as {
      sha: string;
    };
    expect((await api(fake.token, "POST", "/git/refs", { ref: "refs/heads/feature", sha: change.sha })).status).toBe(201);
    const pr = (await (await api(fake.token, "POST", "/pulls", { title: "A change", head: "feature", base: "main" })).json()) as { number: number };
    expect((await api(fake.token, "POST", `/issues/${pr.number}/labels`, { labels: ["harness:pr"] })).status).toBe(200);
    const comment = (await (await api(fake.token, "POST", "/issues/1/comments", { body: "first" })).json()) as { id: number };
    expect((await api(fake.token, "PATCH", `/issues/comments/${comment.id}`, { body: "second" })).status).toBe(200);
    const got = (await deliveries(start + 4)).slice(start).map((d) => ({ event: d.event, payload: JSON.parse(d.body) as Record<string, unknown> }));
    expect(got.map((d) => `${d.event}.${String(d.payload.action)}`)).toEqual([
      "pull_request.opened",
      "pull_request.labeled",
      "issue_comment.created",
      "issue_comment.edited",
    ]);
    expect(got[0]?.payload).toMatchObject({
      number: pr.number,
      pull_request: { number: pr.number, head: { ref: "feature" } },
      sender: { login: "harness-tester" },
    });
    expect(got[1]?.payload).toMatchObject({ number: pr.number, label: { name: "harness:pr" }, pull_request: { number: pr.number } });
    expect(got[3]?.payload).toMatchObject({ comment: { id: comment.id, body: "second" }, changes: { body: { from: "first" } } });
  });
});
