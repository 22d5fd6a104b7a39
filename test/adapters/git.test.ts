import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GitRepository } from "../../src/adapters/git.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";

// The remote is the offline fake GitHub over git's smart HTTP: the harness's
// git refuses every other transport, local paths included.
let fake: FakeGitHub;
let repos = 0;
let root: string;
/** The remote's URL, as the harness pushes to it. */
let remote: string;
/** The remote's bare repository on disk, for the test's own git. */
let remotePath: string;
let git: GitRepository;

function sh(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null", GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" },
  }).trim();
}

beforeAll(async () => {
  fake = await startFakeGitHub();
});

afterAll(async () => {
  await fake?.close();
});

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-git-"));
  const name = `repo-${++repos}`;
  await fake.createRepo({ owner: "octo", name, files: { "README.md": "hello\n" } });
  remote = fake.gitUrl("octo", name);
  remotePath = fake.repoPath("octo", name);
  sh(root, "clone", "--quiet", remotePath, path.join(root, "seed"));
  git = new GitRepository({ cloneDir: path.join(root, "clone.git"), home: path.join(root, "home"), identity: { name: "harness", email: "h@example.com" } });
  await fs.mkdir(path.join(root, "home"));
  await git.ensureClone();
});

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const creds = (): { token: string } => ({ token: fake.token });

describe("GitRepository", () => {
  it("reports remote heads, with absent branches left out", async () => {
    const heads = await git.remoteHeads(remote, ["main", "harness/issue-1"]);
    expect([...heads.keys()]).toEqual(["main"]);
    expect(heads.get("main")).toBe(sh(remotePath, "rev-parse", "main"));
  });

  it("works an issue in a worktree: commit what was left, push without force", async () => {
    await git.fetchBranches(remote, ["main"]);
    const wt = await git.addWorktree(path.join(root, "wt", "issue-1"), "harness/issue-1", "refs/remotes/origin/main");
    await fs.writeFile(path.join(wt.path, "hello.txt"), "hi\n");
    const head = await git.commitAll(wt, "harness: work on #1");
    expect(head).toMatch(/^[0-9a-f]{40}$/);
    expect(await git.commitAll(wt, "nothing new")).toBeNull();
    await git.push(remote, wt, creds());
    expect(sh(remotePath, "rev-parse", "harness/issue-1")).toBe(head);
    expect(sh(remotePath, "show", "harness/issue-1:hello.txt")).toBe("hi");
    expect(await git.countCommits("refs/remotes/origin/main..refs/heads/harness/issue-1")).toBe(1);
    await git.removeWorktree(wt.path);
    await expect(fs.stat(wt.path)).rejects.toThrow();
    expect(sh(git.cloneDir, "worktree", "list")).not.toContain("issue-1");
  });

  it("runs no hook the agent planted and trusts no config the agent wrote", async () => {
    await git.fetchBranches(remote, ["main"]);
    const wt = await git.addWorktree(path.join(root, "wt", "issue-2"), "harness/issue-2", "refs/remotes/origin/main");
    // What an injected agent could do with its Bash tool:
    const marker = path.join(root, "hook-ran");
    const hooks = path.join(git.cloneDir, "hooks");
    await fs.mkdir(hooks, { recursive: true });
    for (const hook of ["pre-commit", "commit-msg", "post-commit", "pre-push", "reference-transaction"]) {
      await fs.writeFile(path.join(hooks, hook), `#!/bin/sh\necho ${hook} >> ${marker}\n`, { mode: 0o755 });
    }
    sh(wt.path, "config", "core.hooksPath", hooks);
    const evil = path.join(root, "evil.git");
    sh(root, "init", "--quiet", "--bare", evil);
    sh(wt.path, "config", `url.${evil}.insteadOf`, remote);
    sh(wt.path, "config", "credential.helper", `!f() { echo leaked >> ${marker}; }; f`);
    await fs.writeFile(path.join(wt.path, ".git"), `gitdir: ${evil}\n`);
    await fs.writeFile(path.join(wt.path, "work.txt"), "done\n");

    await git.commitAll(wt, "harness: work on #2");
    await git.push(remote, wt, creds());

    await expect(fs.readFile(marker, "utf8")).rejects.toThrow(); // no hook, no helper ran
    expect(sh(remotePath, "show", "harness/issue-2:work.txt")).toBe("done");
    expect(sh(evil, "for-each-ref")).toBe(""); // nothing went to the redirected remote
    expect(await fs.readFile(path.join(git.cloneDir, "config"), "utf8")).not.toContain("insteadOf");
  });

  it("refuses to force: a remote branch that moved gives EHARNESS_PUSH_REJECTED and keeps the local commit", async () => {
    await git.fetchBranches(remote, ["main"]);
    const wt = await git.addWorktree(path.join(root, "wt", "issue-3"), "harness/issue-3", "refs/remotes/origin/main");
    // Somebody else pushed to the branch meanwhile.
    const other = path.join(root, "other");
    sh(root, "clone", "--quiet", remotePath, other);
    sh(other, "checkout", "--quiet", "-b", "harness/issue-3");
    await fs.writeFile(path.join(other, "theirs.txt"), "theirs\n");
    sh(other, "add", ".");
    sh(other, "commit", "--quiet", "-m", "theirs");
    sh(other, "push", "--quiet", "origin", "harness/issue-3");
    const theirs = sh(remotePath, "rev-parse", "harness/issue-3");

    await fs.writeFile(path.join(wt.path, "mine.txt"), "mine\n");
    const mine = await git.commitAll(wt, "mine");
    await expect(git.push(remote, wt, creds())).rejects.toMatchObject({ code: "EHARNESS_PUSH_REJECTED" });
    expect(sh(remotePath, "rev-parse", "harness/issue-3")).toBe(theirs);
    expect(await git.head(wt)).toBe(mine);
  });
});

describe("fetchChanged", () => {
  it("fetches only branches whose remote-tracking ref is behind the remote head", async () => {
    const heads = await git.remoteHeads(remote, ["main"]);
    await git.fetchChanged(remote, heads);
    expect(sh(git.cloneDir, "rev-parse", "refs/remotes/origin/main")).toBe(heads.get("main"));
    // Nothing to fetch: the same heads again leave the clone untouched (a fetch would be logged in FETCH_HEAD).
    const fetchHead = path.join(git.cloneDir, "FETCH_HEAD");
    await fs.rm(fetchHead, { force: true });
    await git.fetchChanged(remote, heads);
    await expect(fs.stat(fetchHead)).rejects.toThrow();
    // A new commit on the remote is fetched.
    const seed = path.join(root, "seed");
    await fs.writeFile(path.join(seed, "more.txt"), "more\n");
    sh(seed, "add", ".");
    sh(seed, "commit", "--quiet", "-m", "more");
    sh(seed, "push", "--quiet", "origin", "main");
    const newer = await git.remoteHeads(remote, ["main"]);
    await git.fetchChanged(remote, newer);
    expect(sh(git.cloneDir, "rev-parse", "refs/remotes/origin/main")).toBe(newer.get("main"));
  });
});

describe("fetchChanged with refs riding along (refs/harness/knowledge)", () => {
  const REF = "refs/harness/knowledge";

  it("brings a ref that is behind in the same fetch as the branches, and nothing once it is current", async () => {
    // The ref on the remote: a commit of its own, as the knowledge appends make.
    sh(remotePath, "update-ref", REF, sh(remotePath, "rev-parse", "refs/heads/main"));
    const refs = await git.remoteRefs(remote, ["refs/heads/main", "refs/heads/harness/issue-9", REF]);
    expect([...refs.keys()].sort()).toEqual([REF, "refs/heads/main"]); // exact names only; the absent branch left out
    const heads = new Map([["main", refs.get("refs/heads/main") as string]]);
    const also = new Map([[REF, refs.get(REF) as string]]);
    expect(await git.fetchChanged(remote, heads, undefined, also)).toEqual(new Set([REF]));
    expect(sh(git.cloneDir, "rev-parse", REF)).toBe(refs.get(REF));
    expect(sh(git.cloneDir, "rev-parse", "refs/remotes/origin/main")).toBe(refs.get("refs/heads/main"));
    // Everything current: no fetch at all (a fetch would write FETCH_HEAD), and the ref still counts as current.
    const fetchHead = path.join(git.cloneDir, "FETCH_HEAD");
    await fs.rm(fetchHead, { force: true });
    expect(await git.fetchChanged(remote, heads, undefined, also)).toEqual(new Set([REF]));
    await expect(fs.stat(fetchHead)).rejects.toThrow();
  });

  it("still fetches the branches when the ref riding along is gone from the remote by then", async () => {
    sh(remotePath, "update-ref", REF, sh(remotePath, "rev-parse", "refs/heads/main"));
    const refs = await git.remoteRefs(remote, ["refs/heads/main", REF]);
    sh(remotePath, "update-ref", "-d", REF); // deleted between the ls-remote and the fetch
    const heads = new Map([["main", refs.get("refs/heads/main") as string]]);
    expect(await git.fetchChanged(remote, heads, undefined, new Map([[REF, refs.get(REF) as string]]))).toEqual(new Set());
    expect(sh(git.cloneDir, "rev-parse", "refs/remotes/origin/main")).toBe(refs.get("refs/heads/main"));
    expect(() => sh(git.cloneDir, "rev-parse", "--verify", "--quiet", REF)).toThrow();
  });
});

describe("a shared clone under contention", () => {
  it("tries again while another process holds the lock of a ref it updates", async () => {
    const heads = await git.remoteHeads(remote, ["main"]);
    const lock = path.join(git.cloneDir, "refs", "remotes", "origin", "main.lock");
    await fs.mkdir(path.dirname(lock), { recursive: true });
    await fs.writeFile(lock, "");
    // Another agent's fetch holds the lock for a moment, then lets go.
    const release = new Promise<void>((resolve) => setTimeout(() => void fs.rm(lock, { force: true }).then(() => resolve()), 150));
    await git.fetchBranches(remote, ["main"]);
    await release;
    expect(sh(git.cloneDir, "rev-parse", "refs/remotes/origin/main")).toBe(heads.get("main"));
  });
});
