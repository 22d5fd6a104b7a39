import { promises as fs } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { HarnessError } from "../core/errors.js";
import type { GitRepository, WorktreeHandle } from "../adapters/git.js";
import type { Logger } from "../adapters/logger.js";
import type { StateDir } from "./state-dir.js";

/**
 * A host's rig of a repository: the shared clone plus a few idle ("parked")
 * worktrees an earlier issue left, so the next issue of the repository on this
 * host starts from a checked-out tree instead of writing every file again.
 *
 * Everything in a worktree is data the agent wrote, so reuse trusts none of it:
 * - the directory is taken by a rename (atomic: two agents never get the same
 *   one), under `git worktree lock` so another agent's `git worktree prune`
 *   cannot drop its admin dir while it moves;
 * - before git runs on it, the tree is walked without following symlinks:
 *   every `.git` below the top is deleted (a planted nested repository, or a
 *   `.git` that would give the next session's git a config of the last
 *   session's making), directories made traversable and writable again, set-id
 *   bits dropped, unreadable files made readable; the top `.git` is rewritten
 *   to point at the harness's admin dir;
 * - the admin files are rewritten as the harness writes them (`sanitize`), the
 *   index is set to the start point first (so attributes come from the start
 *   point, never from a file of the last session), then `git clean -ffdx`
 *   (untracked and ignored files, nested repositories), `git reset --hard`
 *   (tracked files, modes, symlinks) and a check that `git status` sees
 *   nothing outside the kept paths. Any failure falls back to a fresh worktree.
 * The harness's git runs with its usual hardening (no hooks, no fsmonitor, no
 * attribute files of its own, config put back), on explicit git dir and work tree.
 */

/** Default of HARNESS_WARM_WORKTREES: idle worktrees kept per repository on a host. */
export const DEFAULT_WARM_WORKTREES = 2;

/** HARNESS_WARM_WORKTREES: idle worktrees kept per repository on this host; 0 removes every worktree after its issue (no reuse). */
export function warmWorktreeLimit(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.HARNESS_WARM_WORKTREES;
  if (value === undefined || value.trim() === "") return DEFAULT_WARM_WORKTREES;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 64) {
    throw new HarnessError("EHARNESS_USAGE", {
      message: `HARNESS_WARM_WORKTREES must be a whole number from 0 to 64, not "${value}".`,
      fix: `Set HARNESS_WARM_WORKTREES to a small number like ${DEFAULT_WARM_WORKTREES} (0 turns worktree reuse off), or unset it.`,
    });
  }
  return n;
}

/** Where the idle worktrees of every repository wait: `<state>/warm/<owner>--<repo>--slot-K`. */
export function warmDir(state: StateDir): string {
  return path.join(state.root, "warm");
}

const SLOT_NAME = /^(.+?)--(.+)--slot-(\d+)$/;

function slotDir(state: StateDir, owner: string, repo: string, slot: number): string {
  return path.join(warmDir(state), `${owner}--${repo}--slot-${slot}`);
}

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    () => false,
  );
}

/** The clone's admin dir of the worktree at `dir`, as the clone records it (its `gitdir` file); never read from the worktree. */
async function adminDirOf(git: GitRepository, dir: string): Promise<string | null> {
  const worktrees = path.join(git.cloneDir, "worktrees");
  const pointer = path.join(dir, ".git");
  for (const name of await fs.readdir(worktrees).catch(() => [] as string[])) {
    const recorded = await fs.readFile(path.join(worktrees, name, "gitdir"), "utf8").catch(() => "");
    if (recorded.trim() === pointer) return path.join(worktrees, name);
  }
  return null;
}

/** Moves the worktree at `from` to `to` (a rename of the directory, then the admin dir's pointer), locked against prune while it moves. */
async function moveWorktree(admin: string, from: string, to: string): Promise<boolean> {
  await fs.writeFile(path.join(admin, "locked"), "claude-harness: moving a reused worktree\n");
  try {
    await fs.rename(from, to);
  } catch (error) {
    // Gone: another agent took it and holds the lock now. Otherwise (a slot taken meanwhile) the lock is ours to drop.
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") await fs.rm(path.join(admin, "locked"), { force: true });
    return false;
  }
  await fs.writeFile(path.join(to, ".git"), `gitdir: ${admin}\n`);
  await fs.writeFile(path.join(admin, "gitdir"), `${path.join(to, ".git")}\n`);
  return true;
}

/**
 * Parks the worktree at `dir` (after its issue) in a free slot of the
 * repository's rig, up to `limit`. False when there is no free slot, reuse is
 * off, or the clone does not know the worktree: the caller removes it then.
 */
export async function parkWorktree(input: { git: GitRepository; state: StateDir; owner: string; repo: string; dir: string; limit: number }): Promise<boolean> {
  if (input.limit <= 0 || !(await exists(input.dir))) return false;
  const admin = await adminDirOf(input.git, input.dir);
  if (admin === null) return false;
  await fs.mkdir(warmDir(input.state), { recursive: true, mode: 0o700 });
  for (let slot = 0; slot < input.limit; slot += 1) {
    const target = slotDir(input.state, input.owner, input.repo, slot);
    // A rename onto a slot that holds a worktree fails (never empty: it has `.git`); onto a free one it succeeds.
    if (await exists(target)) continue;
    if (await moveWorktree(admin, input.dir, target)) return true;
  }
  return false;
}

/** The parked worktrees of a repository on this host. */
export async function parkedWorktrees(state: StateDir, owner: string, repo: string): Promise<string[]> {
  const names = await fs.readdir(warmDir(state)).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(`${owner}--${repo}--slot-`) && SLOT_NAME.test(n)).map((n) => path.join(warmDir(state), n));
}

/**
 * The repositories (`owner/repo`) that are warm on this host: an idle worktree
 * is parked, or the shared clone was fetched within `recentMs` of `nowMs`.
 */
export async function warmRepositories(state: StateDir, nowMs: number, recentMs: number): Promise<Set<string>> {
  const warm = new Set<string>();
  for (const name of await fs.readdir(warmDir(state)).catch(() => [] as string[])) {
    const m = SLOT_NAME.exec(name);
    if (m?.[1] && m[2]) warm.add(`${m[1]}/${m[2]}`);
  }
  for (const { owner, repo } of await state.clones()) {
    const fetched = await fs.stat(path.join(state.clone(owner, repo), "FETCH_HEAD")).catch(() => null);
    if (fetched !== null && nowMs - fetched.mtimeMs <= recentMs) warm.add(`${owner}/${repo}`);
  }
  return warm;
}

export interface WarmTake {
  worktree: WorktreeHandle;
  /** The paths kept from the last session (the opted-in caches that were there). */
  kept: string[];
}

/**
 * Takes a parked worktree of the repository to `target` for `branch` at
 * `startPoint` (a ref of the clone), cleaned to exactly the start point except
 * `keepPaths`. Null when none is parked or cleaning it failed (then it is
 * removed, and the caller makes a fresh worktree).
 */
export async function takeWarmWorktree(input: {
  git: GitRepository;
  state: StateDir;
  owner: string;
  repo: string;
  target: string;
  branch: string;
  startPoint: string;
  keepPaths: readonly string[];
  log: Logger;
}): Promise<WarmTake | null> {
  const { git } = input;
  for (const parked of await parkedWorktrees(input.state, input.owner, input.repo)) {
    const admin = await adminDirOf(git, parked);
    if (admin === null) {
      // Not a worktree the clone knows (a crash mid-move, a clone made again): of no use.
      await fs.rm(parked, { recursive: true, force: true }).catch(() => undefined);
      continue;
    }
    await git.removeWorktree(input.target);
    if (!(await moveWorktree(admin, parked, input.target))) continue; // another agent took it
    const worktree: WorktreeHandle = { path: input.target, gitDir: admin, branch: input.branch };
    try {
      const kept = await resetWorktree(git, worktree, input.startPoint, input.keepPaths);
      await fs.rm(path.join(admin, "locked"), { force: true });
      return { worktree, kept };
    } catch (error) {
      input.log.warn({ err: error, worktree: input.target }, "a parked worktree could not be cleaned; making a fresh one");
      await fs.rm(path.join(admin, "locked"), { force: true });
      await git.removeWorktree(input.target).catch(() => undefined);
      return null;
    }
  }
  return null;
}

/**
 * Resets the worktree (whatever the last session left in it) to `startPoint`
 * on `worktree.branch`: the walk, the admin files, index, clean, reset and the
 * check described at the top. Returns the kept paths that exist. Throws
 * EHARNESS_GIT when the tree is not exactly the start point afterwards.
 */
export async function resetWorktree(git: GitRepository, worktree: WorktreeHandle, startPoint: string, keepPaths: readonly string[]): Promise<string[]> {
  const at = { gitDir: worktree.gitDir, workTree: worktree.path };
  await git.restoreConfig();
  const start = (await git.run(["rev-parse", "--verify", "--quiet", `${startPoint}^{commit}`])).stdout.trim();
  // A kept path must be something the start point does not track (a cache, not source), else it is cleaned like the rest.
  const keep: string[] = [];
  for (const p of keepPaths) {
    const tracked = (await git.run(["ls-tree", "--name-only", "-z", start, "--", p])).stdout;
    if (tracked === "" && (await plainPath(worktree.path, p))) keep.push(p);
  }
  await scrubTree(worktree.path, keep);
  await fs.writeFile(path.join(worktree.path, ".git"), `gitdir: ${worktree.gitDir}\n`);
  await git.run(["update-ref", `refs/heads/${worktree.branch}`, start]);
  await git.sanitize(worktree);
  const excludes = keep.flatMap((p) => ["-e", `/${p}`]);
  // The index first (stat data kept where content matches): what is tracked, and which attributes apply, is the start point's.
  await git.run(["read-tree", "--reset", start], at);
  await git.run(["clean", "-ffdxq", ...excludes], at);
  await git.run(["reset", "--hard", "--quiet", start], at);
  await git.run(["clean", "-ffdxq", ...excludes], at);
  const head = (await git.run(["rev-parse", "HEAD"], at)).stdout.trim();
  const status = (await git.run(["status", "--porcelain=v1", "-z", "--ignored=matching", "--untracked-files=all", "--no-renames"], at)).stdout
    .split("\0")
    .filter((line) => line !== "")
    .map((line) => line.slice(3))
    .filter((p) => !keep.some((k) => p === k || p === `${k}/` || p.startsWith(`${k}/`)));
  if (head !== start || status.length > 0) {
    throw new HarnessError("EHARNESS_GIT", {
      message: `A reused worktree is not at its start point after cleaning (HEAD ${head}, expected ${start}; ${status.length} path(s) differ, e.g. ${status.slice(0, 3).join(", ")}).`,
      fix: "Nothing to do: the harness makes a fresh worktree instead. If it recurs, set HARNESS_WARM_WORKTREES=0 and report it.",
    });
  }
  const present: string[] = [];
  for (const p of keep) if (await exists(path.join(worktree.path, p))) present.push(p);
  return present;
}

/**
 * Whether `rel` under `root` is reached through real directories only and is
 * itself a directory or a regular file: a kept cache is never a symlink the
 * last session planted (to a host path, or around the tree).
 */
async function plainPath(root: string, rel: string): Promise<boolean> {
  const parts = rel.split("/");
  for (let i = 1; i <= parts.length; i += 1) {
    const stat = await fs.lstat(path.join(root, ...parts.slice(0, i))).catch(() => null);
    if (stat === null) return false;
    const last = i === parts.length;
    if (!(stat.isDirectory() || (last && stat.isFile()))) return false;
  }
  return true;
}

/**
 * Walks the tree (GNU find, never following a symlink), skipping the kept
 * paths: every `.git` below the top goes, and every fifo, socket or device
 * (which git neither tracks, cleans nor reports); a directory gets rwx for its
 * owner back before it is entered (a chmod 000 one is opened), and directories
 * and files lose set-id and sticky bits; an unreadable or unwritable file
 * becomes readable and writable for its owner, unless it has several links (it
 * may be a host file linked in; git replaces such a file rather than writing
 * through it). The top `.git` goes too; the caller writes the harness's pointer.
 */
async function scrubTree(root: string, keep: readonly string[]): Promise<void> {
  const stat = await fs.lstat(root);
  if (!stat.isDirectory())
    throw new HarnessError("EHARNESS_GIT", { message: `The parked worktree ${root} is not a directory.`, fix: "Nothing to do: a fresh worktree is made." });
  await fs.chmod(root, (stat.mode & 0o777) | 0o700);
  const skipped = [path.join(root, ".git"), ...keep.map((k) => path.join(root, k))].flatMap((p, i) => [...(i > 0 ? ["-o"] : []), "-path", p]);
  const args = [
    root,
    "-mindepth",
    "1",
    ...["(", ...skipped, ")", "-prune"],
    ...["-o", "-name", ".git", "-prune", "-exec", "rm", "-rf", "--", "{}", "+"],
    ...["-o", "-type", "d", "(", "!", "-perm", "-700", "-o", "-perm", "/7000", ")", "-exec", "chmod", "u+rwx,ug-s,a-t", "--", "{}", ";"],
    ...["-o", "!", "-type", "d", "!", "-type", "f", "!", "-type", "l", "-exec", "rm", "-f", "--", "{}", "+"],
    ...["-o", "-type", "f", "-links", "1", "(", "!", "-perm", "-600", "-o", "-perm", "/7000", ")", "-exec", "chmod", "u+rw,ug-s,a-t", "--", "{}", "+"],
  ];
  const result = await execa("find", args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" }, extendEnv: false, reject: false });
  if (result.exitCode !== 0) {
    throw new HarnessError("EHARNESS_GIT", {
      message: `Scrubbing the parked worktree ${root} failed (find exit ${result.exitCode ?? "?"}): ${String(result.stderr).slice(0, 500)}`,
      fix: "Nothing to do: a fresh worktree is made instead.",
    });
  }
  await fs.rm(path.join(root, ".git"), { recursive: true, force: true });
}
