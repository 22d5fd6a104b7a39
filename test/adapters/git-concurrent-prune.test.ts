import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitRepository } from "../../src/adapters/git.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";

const run = promisify(execFile);
const OWNER = "octo";

let fake: FakeGitHub;
let root: string;

beforeAll(async () => {
  fake = await startFakeGitHub();
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-git-prune-"));
});

afterAll(async () => {
  await fake?.close();
  await fs.rm(root, { recursive: true, force: true });
});

/**
 * Agents of one host share a clone; each one's worktree upkeep runs `git worktree
 * prune` on it while another agent publishes. Prune deletes the admin dir of a
 * worktree whose `gitdir` file it reads empty, so rewriting that file must never
 * leave it empty for an instant (a worker with three agents lost an issue's admin
 * dir this way: "git add failed: not a git repository").
 */
describe("a worktree's admin files under another agent's git worktree prune", () => {
  it("survive 300 rewrites (sanitize) racing a prune loop on the same clone", async () => {
    await fake.createRepo({ owner: OWNER, name: "prune", files: { "README.md": "hello\n" } });
    const git = new GitRepository({
      cloneDir: path.join(root, "clone.git"),
      home: path.join(root, "home"),
      identity: { name: "harness", email: "h@example.com" },
    });
    await git.ensureClone();
    await git.fetchBranches(fake.gitUrl(OWNER, "prune"), ["main"], { token: fake.token });
    const worktree = await git.addWorktree(path.join(root, "worktrees", "issue-1"), "harness/issue-1", "refs/remotes/origin/main");
    await git.prepareAgentGit(worktree, path.join(root, "session", "agent.git"));

    let rewriting = true;
    let prunes = 0;
    const pruner = (async () => {
      while (rewriting) {
        await run("git", ["--git-dir", git.cloneDir, "worktree", "prune"]);
        prunes += 1;
      }
    })();
    for (let i = 0; i < 300; i += 1) await git.sanitize(worktree);
    rewriting = false;
    await pruner;

    expect(prunes).toBeGreaterThan(0);
    // The admin dir is still there, so the harness's own git still works in the worktree.
    await expect(fs.stat(path.join(worktree.gitDir, "gitdir"))).resolves.toBeDefined();
    await git.commitAll(worktree, "still a worktree");
  }, 120_000);
});
