import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Octokit } from "@octokit/rest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { appJwt, appKeys } from "../support/app-keys.js";

// GitHub refuses a push whose new commits touch `.github/workflows/` unless the credential may
// write workflows: an App installation needs `workflows: write`, a personal token the
// `workflow` scope. The fake refuses the same way, with GitHub's words in git's report.

const exec = promisify(execFile);
const OWNER = "acme";
const APP_ID = 5151;
const keys = appKeys();
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

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

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await exec("git", args, { cwd, env })).stdout.trim();
}

/** `git push --porcelain`: exit code and everything git printed. */
async function push(cwd: string, url: string, refspec: string): Promise<{ ok: boolean; output: string }> {
  try {
    const r = await exec("git", ["push", "--porcelain", url, refspec], { cwd, env });
    return { ok: true, output: `${r.stdout}${r.stderr}` };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

let fake: FakeGitHub;
let root: string;

beforeAll(async () => {
  fake = await startFakeGitHub({ appKeys: { appId: APP_ID, publicKeyPem: keys.publicKey } });
  await fake.createRepo({ owner: OWNER, name: "ci", files: { "README.md": "# ci\n", ".github/workflows/old.yml": "on: push\n" } });
  root = await mkdtemp(join(tmpdir(), "workflow-guard-"));
});

afterAll(async () => {
  await fake?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

async function installationToken(): Promise<{ token: string; permissions: Record<string, string | undefined> }> {
  const app = new Octokit({ baseUrl: fake.apiUrl, auth: appJwt(keys.privateKey, APP_ID), log: quiet });
  const { data: inst } = await app.apps.getRepoInstallation({ owner: OWNER, repo: "ci" });
  const { data } = await app.apps.createInstallationAccessToken({ installation_id: inst.id });
  return { token: data.token, permissions: data.permissions as Record<string, string | undefined> };
}

/** A clone with one commit on `branch` made by `change`. */
async function cloneWith(name: string, branch: string, change: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(root, name);
  await git(root, "clone", "--quiet", fake.gitUrl(OWNER, "ci"), dir);
  await git(dir, "checkout", "--quiet", "-b", branch);
  await change(dir);
  await git(dir, "add", "-A");
  await git(dir, "commit", "--quiet", "-m", name);
  return dir;
}

const authed = (token: string): string => fake.gitUrl(OWNER, "ci").replace("http://", `http://x-access-token:${token}@`);

describe("pushes that touch .github/workflows/ (fake GitHub, real git)", () => {
  it("refuses an installation without `workflows` permission with GitHub's report, and accepts other changes", async () => {
    const { token, permissions } = await installationToken();
    expect(permissions.workflows).toBeUndefined();
    const adds = await cloneWith("adds", "adds-ci", async (dir) => {
      await mkdir(join(dir, ".github/workflows"), { recursive: true });
      await writeFile(join(dir, ".github/workflows/ci.yml"), "on: pull_request\n");
    });
    const refused = await push(adds, authed(token), "HEAD:refs/heads/adds-ci");
    expect(refused.ok).toBe(false);
    expect(refused.output).toContain(
      "[remote rejected] (refusing to allow a GitHub App to create or update workflow `.github/workflows/ci.yml` without `workflows` permission)",
    );
    expect(await fake.readRef(OWNER, "ci", "refs/heads/adds-ci")).toBeNull();

    // Deleting a workflow is a change to it, too.
    const deletes = await cloneWith("deletes", "drop-old", async (dir) => {
      await rm(join(dir, ".github/workflows/old.yml"));
    });
    const deleted = await push(deletes, authed(token), "HEAD:refs/heads/drop-old");
    expect(deleted.output).toContain("create or update workflow `.github/workflows/old.yml` without `workflows` permission");

    // The same token pushes anything else (and a branch with the existing workflow untouched).
    const other = await cloneWith("other", "docs", async (dir) => writeFile(join(dir, "docs.md"), "docs\n"));
    const accepted = await push(other, authed(token), "HEAD:refs/heads/docs");
    expect(accepted.ok, accepted.output).toBe(true);
    expect(await fake.readRef(OWNER, "ci", "refs/heads/docs")).toBe(await git(other, "rev-parse", "HEAD"));
    fake.assertNoViolations();
  });

  it("accepts the workflow push from an installation granted `workflows: write`", async () => {
    fake.setInstallationPermissions(OWNER, { issues: "write", pull_requests: "write", contents: "write", metadata: "read", workflows: "write" });
    try {
      const { token, permissions } = await installationToken();
      expect(permissions.workflows).toBe("write");
      const app = new Octokit({ baseUrl: fake.apiUrl, auth: appJwt(keys.privateKey, APP_ID), log: quiet });
      const { data: inst } = await app.apps.getRepoInstallation({ owner: OWNER, repo: "ci" });
      expect((await app.apps.getInstallation({ installation_id: inst.id })).data.permissions.workflows).toBe("write");
      const dir = await cloneWith("granted", "granted-ci", async (d) => {
        await mkdir(join(d, ".github/workflows"), { recursive: true });
        await writeFile(join(d, ".github/workflows/ci.yml"), "on: pull_request\n");
      });
      const pushed = await push(dir, authed(token), "HEAD:refs/heads/granted-ci");
      expect(pushed.ok, pushed.output).toBe(true);
      expect(await fake.readRef(OWNER, "ci", "refs/heads/granted-ci")).toBe(await git(dir, "rev-parse", "HEAD"));
    } finally {
      fake.setInstallationPermissions(OWNER, { issues: "write", pull_requests: "write", contents: "write", metadata: "read", actions: "write" });
    }
    fake.assertNoViolations();
  });

  it("refuses a personal token without the `workflow` scope, accepts it with the scope", async () => {
    const token = fake.userToken(OWNER);
    fake.setTokenScopes(token, ["repo"]);
    const dir = await cloneWith("pat", "pat-ci", async (d) => {
      await writeFile(join(d, ".github/workflows/old.yml"), "on: [push, pull_request]\n");
    });
    const refused = await push(dir, authed(token), "HEAD:refs/heads/pat-ci");
    expect(refused.ok).toBe(false);
    expect(refused.output).toContain(
      "[remote rejected] (refusing to allow a Personal Access Token to create or update workflow `.github/workflows/old.yml` without `workflow` scope)",
    );
    expect(await fake.readRef(OWNER, "ci", "refs/heads/pat-ci")).toBeNull();
    fake.setTokenScopes(token, ["repo", "workflow"]);
    const accepted = await push(dir, authed(token), "HEAD:refs/heads/pat-ci");
    expect(accepted.ok, accepted.output).toBe(true);
    fake.assertNoViolations();
  });
});
