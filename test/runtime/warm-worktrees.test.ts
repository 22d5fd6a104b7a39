/**
 * Reusing a worktree (a host's rig of a repository): the next issue gets a
 * worktree an earlier one left, reset to its branch's start point and cleaned
 * of everything the last session made, except the paths the repository opts
 * into keeping. Real git against the offline GitHub; what the "session" does
 * is done here directly on the files (the sandboxed run is test/security/warm-worktree.test.ts).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { parseConfig } from "../../src/core/config.js";
import { StepClock } from "../../src/core/step-clock.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { parkedWorktrees, parkWorktree, takeWarmWorktree, warmRepositories, warmWorktreeLimit } from "../../src/runtime/warm-worktrees.js";
import { prepareWorkspace, removeWorkspace, type Workspace } from "../../src/runtime/workspace.js";
import { testOctokit } from "../support/octokit.js";

const OWNER = "acme";
const REPO = "rig";
const FILES = {
  "README.md": "# rig\n",
  ".gitignore": "dist/\n*.log\n",
  "src/app.js": "export const app = 1;\n",
  "src/lib/util.js": "export const util = 1;\n",
  "scripts/run.sh": "#!/bin/sh\necho run\n",
};
let root: string;
let github: FakeGitHub;
let state: StateDir;
let client: GitHubClient;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-warm-"));
  github = await startFakeGitHub({ dir: path.join(root, "github") });
  await github.createRepo({ owner: OWNER, name: REPO, files: FILES });
  state = new StateDir(path.join(root, "state"));
  client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
});

afterAll(async () => {
  await github?.close();
  // The session made a directory unreadable; the cleanup of a failed run must still get in.
  execFileSync("chmod", ["-R", "u+rwX", root]);
  await fs.rm(root, { recursive: true, force: true });
});

function prepare(issue: number, keepPaths: string[] = [], warmLimit = 1): Promise<Workspace> {
  return prepareWorkspace({
    github: client,
    state,
    gitUrl: () => github.gitUrl(OWNER, REPO),
    issue,
    branch: `harness/issue-${issue}`,
    queuedLabel: "harness:queued",
    clock: new StepClock(),
    log: silentLogger(),
    keepPaths,
    warmLimit,
  });
}

const sha = (content: Buffer): string => createHash("sha256").update(content).digest("hex");

/** Every entry of the tree but the top `.git`: type, mode and content (of files and symlinks). */
async function manifest(dir: string, skip: readonly string[] = []): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const visit = async (abs: string, rel: string): Promise<void> => {
    for (const name of (await fs.readdir(abs)).sort()) {
      const childRel = rel === "" ? name : `${rel}/${name}`;
      if (childRel === ".git" || skip.includes(childRel)) continue;
      const child = path.join(abs, name);
      const s = await fs.lstat(child);
      const mode = (s.mode & 0o7777).toString(8);
      if (s.isDirectory()) {
        out.set(childRel, `dir ${mode}`);
        await visit(child, childRel);
      } else if (s.isSymbolicLink()) out.set(childRel, `link ${await fs.readlink(child)}`);
      else if (s.isFile()) out.set(childRel, `file ${mode} ${sha(await fs.readFile(child))}`);
      else out.set(childRel, `other ${mode}`);
    }
  };
  await visit(dir, "");
  return out;
}

/** What the start point is, as a fresh worktree of it shows it (the baseline the reused one must equal). */
let expected: Map<string, string>;

/** What an injected session leaves: every kind of leftover git sees and some it does not. */
async function dirty(ws: Workspace, markers: string): Promise<void> {
  const t = ws.worktree.path;
  const agentGit = path.join(root, `agent-git-${path.basename(t)}`);
  await ws.git.prepareAgentGit(ws.worktree, agentGit);
  const w = (p: string, body: string): Promise<void> =>
    fs.mkdir(path.dirname(path.join(t, p)), { recursive: true }).then(() => fs.writeFile(path.join(t, p), body));
  await w("untracked.txt", "left by the session\n");
  await w("src/new/deep/file.js", "untracked, deep\n");
  await w("dist/bundle.js", "ignored by the repository's .gitignore\n");
  await w("debug.log", "ignored too\n");
  await w(".gitignore", "dist/\n*.log\ncache/\n"); // a tracked file changed to hide more
  await w("cache/blob.bin", "ignored by the session's own rule\n");
  await w("src/app.js", "export const app = 'tampered';\n");
  await fs.rm(path.join(t, "src/lib/util.js"));
  await fs.chmod(path.join(t, "README.md"), 0o4777); // set-uid and world-writable on a tracked file
  await fs.chmod(path.join(t, "scripts/run.sh"), 0o000);
  // A nested repository, and a .git inside a tracked directory (the next session's git would read its config).
  execFileSync("git", ["init", "-q", path.join(t, "vendor/nested")]);
  await w("vendor/nested/x.txt", "nested\n");
  await w("src/.git/config", `[core]\n\tfsmonitor = touch ${markers}/fsmonitor\n`);
  // Filters and hooks: attributes in the tree and a driver and hooks in the clone's config.
  await w(".gitattributes", "* filter=pwn\n");
  await w("src/lib/.gitattributes", "* filter=pwn eol=crlf\n");
  await fs.appendFile(path.join(ws.git.cloneDir, "config"), `[filter "pwn"]\n\tsmudge = touch ${markers}/smudge; cat\n\tclean = touch ${markers}/clean; cat\n`);
  await fs.mkdir(path.join(ws.git.cloneDir, "hooks"), { recursive: true });
  await fs.writeFile(path.join(ws.git.cloneDir, "hooks", "post-checkout"), `#!/bin/sh\ntouch ${markers}/hook\n`, { mode: 0o755 });
  // Special files, a symlink out of the tree in place of a tracked directory, a closed directory.
  execFileSync("mkfifo", [path.join(t, "fifo")]);
  await fs.rm(path.join(t, "scripts"), { recursive: true, force: true });
  await fs.symlink("/etc", path.join(t, "scripts"));
  await w("locked/inner/secret.txt", "behind a chmod 000 directory\n");
  await w("locked/inner/.git/HEAD", "ref: refs/heads/main\n");
  await fs.chmod(path.join(t, "locked/inner"), 0o000);
  await fs.chmod(path.join(t, "locked"), 0o000);
  // The caches a repository opts into keeping.
  await w("node_modules/dep/index.js", "module.exports = 1;\n");
  await w("node_modules/.bin/tool", "#!/bin/sh\n");
  // The harness's own commit of the session's work (what publishing does), then the issue's end.
  await fs.chmod(path.join(t, "locked"), 0o700);
  await fs.chmod(path.join(t, "locked/inner"), 0o700);
  await ws.git.commitAll(ws.worktree, "session work").catch(() => null);
  await fs.chmod(path.join(t, "locked/inner"), 0o000);
  await fs.chmod(path.join(t, "locked"), 0o000);
}

describe("a reused worktree", () => {
  it("is exactly the start point: nothing the last session left, in git's view or outside it", async () => {
    const markers = path.join(root, "markers");
    await fs.mkdir(markers);
    const fresh = await prepare(100, [], 0);
    expect(fresh.ready.warm).toBe(false);
    expected = await manifest(fresh.worktree.path);
    await removeWorkspace({ github: client, state, issue: 100, log: silentLogger(), warmLimit: 0 });

    const first = await prepare(1, ["node_modules"]);
    expect(first.ready.warm).toBe(false);
    await dirty(first, markers);
    await removeWorkspace({ github: client, state, issue: 1, log: silentLogger(), warmLimit: 1 });
    expect(await parkedWorktrees(state, OWNER, REPO)).toHaveLength(1);
    expect(await fs.stat(first.worktree.path).catch(() => null)).toBeNull();

    const second = await prepare(2, ["node_modules"]);
    expect(second.ready.warm).toBe(true);
    expect(second.worktree.path).toBe(state.worktree(OWNER, REPO, 2));
    const tree = second.worktree.path;
    // Exactly the start point, apart from the kept cache.
    expect(await manifest(tree, ["node_modules"])).toEqual(expected);
    expect(await fs.readFile(path.join(tree, "node_modules/dep/index.js"), "utf8")).toBe("module.exports = 1;\n");
    // The harness's pointer, its branch at the start point, and no filter, hook or fsmonitor ever ran.
    expect(await fs.readFile(path.join(tree, ".git"), "utf8")).toBe(`gitdir: ${second.worktree.gitDir}\n`);
    const at = { gitDir: second.worktree.gitDir, workTree: tree };
    expect((await second.git.run(["symbolic-ref", "HEAD"], at)).stdout).toBe("refs/heads/harness/issue-2");
    expect(await second.git.head(second.worktree)).toBe(await github.readRef(OWNER, REPO, "refs/heads/main"));
    expect(await fs.readdir(markers)).toEqual([]);
    expect(await parkedWorktrees(state, OWNER, REPO)).toHaveLength(0);
    // The next session works in it: the agent's git dir is made as for a fresh worktree.
    await second.git.prepareAgentGit(second.worktree, path.join(root, "agent-git-2"));
    await removeWorkspace({ github: client, state, issue: 2, log: silentLogger(), warmLimit: 1 });
  });

  it("keeps nothing unasked: without keepPaths the cache goes too", async () => {
    const ws = await prepare(3, []);
    expect(ws.ready.warm).toBe(true);
    expect(await manifest(ws.worktree.path)).toEqual(expected);
    await removeWorkspace({ github: client, state, issue: 3, log: silentLogger(), warmLimit: 1 });
  });

  it("parks at most the limit per repository, and a full rig removes the rest", async () => {
    const a = await prepare(4);
    const b = await prepare(5, [], 0);
    await removeWorkspace({ github: client, state, issue: 4, log: silentLogger(), warmLimit: 1 });
    await removeWorkspace({ github: client, state, issue: 5, log: silentLogger(), warmLimit: 1 });
    expect(a.ready.warm).toBe(true);
    expect(b.ready.warm).toBe(false);
    expect(await parkedWorktrees(state, OWNER, REPO)).toHaveLength(1);
    expect(await fs.stat(b.worktree.path).catch(() => null)).toBeNull();
    // Only the parked one is a worktree of the clone still (the removed one's admin dir is pruned).
    const listed = (await a.git.run(["worktree", "list", "--porcelain"])).stdout.split("\n").filter((l) => l.startsWith("worktree "));
    expect(listed).toHaveLength(2); // the bare clone itself and the parked worktree
  });

  it("counts a repository warm with a parked worktree or a recent fetch", async () => {
    const now = Date.now();
    expect(await warmRepositories(state, now, 0)).toEqual(new Set([`${OWNER}/${REPO}`]));
    const ws = await prepare(6);
    expect(ws.ready.warm).toBe(true);
    expect(await warmRepositories(state, now + 3_600_000, 60_000)).toEqual(new Set());
    expect(await warmRepositories(state, now, 3_600_000)).toEqual(new Set([`${OWNER}/${REPO}`]));
    await removeWorkspace({ github: client, state, issue: 6, log: silentLogger(), warmLimit: 0 });
  });
});

describe("a kept path", () => {
  it("is never a symlink the last session planted, nor reached through one", async () => {
    const ws = await prepare(8, ["node_modules", "src/lib/.cache"], 0);
    await fs.symlink("/etc", path.join(ws.worktree.path, "node_modules"));
    await fs.rm(path.join(ws.worktree.path, "src", "lib"), { recursive: true });
    await fs.mkdir(path.join(root, "elsewhere", ".cache"), { recursive: true });
    await fs.symlink(path.join(root, "elsewhere"), path.join(ws.worktree.path, "src", "lib"));
    await removeWorkspace({ github: client, state, issue: 8, log: silentLogger(), warmLimit: 1 });
    const next = await prepare(9, ["node_modules", "src/lib/.cache"]);
    expect(next.ready.warm).toBe(true);
    expect(await manifest(next.worktree.path)).toEqual(expected);
    expect(await fs.readdir(path.join(root, "elsewhere"))).toEqual([".cache"]);
    await removeWorkspace({ github: client, state, issue: 9, log: silentLogger(), warmLimit: 0 });
  });
});

describe("agents of one host at once", () => {
  it("park no more than the limit and never take the same worktree twice", async () => {
    // Made one after another: concurrent `git worktree add`s on one clone race with each other's prune (not what this tests).
    const made: Workspace[] = [];
    for (const n of [20, 21, 22]) made.push(await prepare(n, [], 0));
    const git = made[0]!.git;
    const rig = { git, state, owner: OWNER, repo: REPO };
    const parked = await Promise.all(made.map((ws) => parkWorktree({ ...rig, dir: ws.worktree.path, limit: 2 })));
    expect(parked.filter(Boolean)).toHaveLength(2);
    expect(await parkedWorktrees(state, OWNER, REPO)).toHaveLength(2);
    const taken = await Promise.all(
      [23, 24, 25].map((n) =>
        takeWarmWorktree({
          ...rig,
          target: state.worktree(OWNER, REPO, n),
          branch: `harness/issue-${n}`,
          startPoint: "refs/remotes/origin/main",
          keepPaths: [],
          log: silentLogger(),
        }),
      ),
    );
    const got = taken.filter((t) => t !== null);
    expect(got).toHaveLength(2);
    expect(new Set(got.map((t) => t.worktree.gitDir)).size).toBe(2);
    for (const t of got) expect(await manifest(t.worktree.path)).toEqual(expected);
    for (const n of [20, 21, 22, 23, 24, 25]) await removeWorkspace({ github: client, state, issue: n, log: silentLogger(), warmLimit: 0 });
  });
});

describe("settings", () => {
  it("HARNESS_WARM_WORKTREES: a small default, 0 turns reuse off, anything else is refused", () => {
    expect(warmWorktreeLimit({})).toBe(2);
    expect(warmWorktreeLimit({ HARNESS_WARM_WORKTREES: "0" })).toBe(0);
    expect(warmWorktreeLimit({ HARNESS_WARM_WORKTREES: "4" })).toBe(4);
    for (const bad of ["-1", "two", "1.5", "1000"]) expect(() => warmWorktreeLimit({ HARNESS_WARM_WORKTREES: bad }), bad).toThrow(/HARNESS_WARM_WORKTREES/);
  });

  it("workspace.keepPaths: relative paths only, no wildcards, no '..' or '.git'", () => {
    expect(parseConfig({}).workspace.keepPaths).toEqual([]);
    expect(parseConfig({ workspace: { keepPaths: ["node_modules", "packages/app/.cache"] } }).workspace.keepPaths).toEqual([
      "node_modules",
      "packages/app/.cache",
    ]);
    for (const bad of ["/etc", "../x", "a/../b", "node_modules/", "*.cache", ".git", "a/.git", ""])
      expect(() => parseConfig({ workspace: { keepPaths: [bad] } }), bad).toThrow();
  });
});
