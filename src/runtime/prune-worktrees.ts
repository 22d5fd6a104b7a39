import { promises as fs } from "node:fs";
import path from "node:path";
import type { GitRepository } from "../adapters/git.js";
import type { LockHolder } from "../adapters/lockfile.js";
import type { Logger } from "../adapters/logger.js";
import { sharedClone } from "./shared-clone.js";
import type { StateDir } from "./state-dir.js";
import { liveness } from "./worker-registry.js";

const WORKTREE_NAME = /^(.+?)--(.+)--issue-(\d+)$/;

async function listDir(dir: string): Promise<string[]> {
  return fs.readdir(dir).catch(() => []);
}

/** True when the claim lock of `name` is held by a live process on this host. */
async function lockLive(state: StateDir, name: string): Promise<boolean> {
  let holder: LockHolder;
  try {
    holder = JSON.parse(await fs.readFile(path.join(state.claims(), `${name}.lock`), "utf8")) as LockHolder;
  } catch (error) {
    // No lock: nobody works there. An unreadable lock: never guess, keep the worktree.
    return (error as NodeJS.ErrnoException).code !== "ENOENT";
  }
  return (await liveness(holder)) !== "dead";
}

/**
 * Removes what dead agents left in the state directory: every worktree
 * directory whose claim lock no live process holds, then `git worktree prune`
 * on every shared clone (the administrative entries of worktrees that are gone).
 * Runs when a worker starts, before its agents claim anything.
 */
export async function pruneWorktrees(state: StateDir, log: Logger): Promise<string[]> {
  const removed: string[] = [];
  const worktrees = path.join(state.root, "worktrees");
  const repoFor = (owner: string, repo: string): GitRepository => sharedClone(state, { owner, repo });
  await fs.mkdir(state.gitHome(), { recursive: true });
  for (const name of await listDir(worktrees)) {
    if (await lockLive(state, name)) continue;
    const dir = path.join(worktrees, name);
    const m = WORKTREE_NAME.exec(name);
    if (m?.[1] && m[2]) {
      const clone = state.clone(m[1], m[2]);
      if (
        await fs.stat(path.join(clone, "HEAD")).then(
          () => true,
          () => false,
        )
      )
        await repoFor(m[1], m[2])
          .removeWorktree(dir)
          .catch(() => undefined);
    }
    await fs.rm(dir, { recursive: true, force: true });
    removed.push(name);
  }
  for (const { owner, repo } of await state.clones()) await repoFor(owner, repo).run(["worktree", "prune"], { allowFailure: true });
  if (removed.length > 0) log.warn({ removed }, "removed worktrees left by dead agents");
  return removed;
}
