/**
 * Worktree from one shared clone against a fresh clone per agent.
 *
 *   npm run bench -- worktree [--files 20000] [--history 1000] [--reps 5] [--quick]
 *
 * Generates a bare repository of `--files` files (git fast-import, in a temp dir;
 * 200 directories, source-like text of 0.2–2 KB each) with `--history` later
 * commits of 20 changed files each (a project's history, which a fresh clone
 * transfers and a worktree from the shared clone does not), makes the shared clone
 * the way the harness does (init --bare, fetch into refs/remotes/origin/main),
 * then alternates, `--reps` times:
 *   worktree: `git worktree add --force --no-track -B <branch> <dir> refs/remotes/origin/main`
 *             (the harness's command) from the shared clone;
 *   clone:    `git clone file://<bare> <dir>` (the pack protocol, no hardlinks,
 *             like a clone over the network without the network).
 *   harness:  the same worktree through the harness's GitRepository (its hardened
 *             git), then `prepareAgentGit`: the agent's own git dir for the sandbox
 *             (HEAD, branch, index copied, objects borrowed by alternates, not copied).
 * Removal is not timed, and each run starts after a `sync` (untimed), so the
 * writeback of the previous run's 20,000 files does not land in the next one's
 * time. ratio = median(worktree) / median(clone). Last line:
 * {"bench":"worktree","files":…,"ratio":…,"worktreeMs":…,"cloneMs":…,"harnessWorktreeMs":…,"agentGitMs":…}
 * (agentGitMs: prepareAgentGit alone, within harnessWorktreeMs).
 */
import { spawnSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { GitRepository } from "../src/adapters/git.js";
import { git, positive, printTable, round, s } from "./_kit.js";

export interface WorktreeBenchResult {
  bench: "worktree";
  files: number;
  commits: number;
  repoMb: number;
  reps: number;
  ratio: number;
  worktreeMs: number;
  cloneMs: number;
  harnessWorktreeMs: number;
  agentGitMs: number;
}

const gitEnv: Record<string, string> = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: os.tmpdir(),
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  LANG: "C",
};

const filePath = (i: number): string => `src/dir${String(i % 200).padStart(3, "0")}/file${i}.ts`;

/** Source-like text for file `i` at version `version`. */
function fileBody(i: number, version: number): string {
  const size = 200 + ((i * 7919 + version * 104729) % 1800);
  const unit = `export const value${i} = ${i + version}; // module ${i % 200}, revision ${version}, line of generated source text\n`;
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

/** A fast-import stream: one commit with `files` files, then `history` commits of 20 changed files each. */
function fastImport(files: number, history: number): Buffer {
  const parts: string[] = [];
  const inline = (body: string): string => `data ${Buffer.byteLength(body)}\n${body}\n`;
  const commit = (n: number, message: string, changes: string[]): void => {
    parts.push(
      `commit refs/heads/main\ncommitter Bench <bench@example.com> ${1700000000 + n * 60} +0000\n${inline(message).slice(0, -1)}${changes.join("")}\n`,
    );
  };
  const first: string[] = [];
  for (let i = 0; i < files; i += 1) first.push(`M 100644 inline ${filePath(i)}\n${inline(fileBody(i, 0))}`);
  commit(0, `${files} generated files\n`, first);
  for (let c = 1; c <= history; c += 1) {
    const changes: string[] = [];
    for (let k = 0; k < 20; k += 1) {
      const i = (c * 7907 + k * 613) % files;
      changes.push(`M 100644 inline ${filePath(i)}\n${inline(fileBody(i, c))}`);
    }
    commit(c, `change ${c}\n`, changes);
  }
  return Buffer.from(parts.join(""));
}

function timed(args: string[], cwd: string): number {
  const t0 = performance.now();
  const r = spawnSync("git", args, { cwd, env: gitEnv, stdio: ["ignore", "ignore", "pipe"] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${r.stderr.toString("utf8").slice(-500)}`);
  return ms;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export async function runWorktreeBench(args: string[]): Promise<WorktreeBenchResult> {
  const { values } = parseArgs({
    args,
    options: { files: { type: "string" }, history: { type: "string" }, reps: { type: "string" }, quick: { type: "boolean" } },
    allowPositionals: true,
  });
  const quick = values.quick === true;
  const files = Math.max(1, Math.floor(positive(values.files, "files", 20_000)));
  const history = Math.floor(positive(values.history, "history", quick ? 100 : 1000));
  const reps = Math.max(1, Math.floor(positive(values.reps, "reps", quick ? 2 : 5)));
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-bench-worktree-"));
  try {
    const bare = path.join(root, "origin.git");
    const t0 = performance.now();
    git(["init", "--bare", "--quiet", "--initial-branch=main", bare], { env: gitEnv });
    const imported = spawnSync("git", ["--git-dir", bare, "fast-import", "--quiet"], {
      input: fastImport(files, history),
      env: gitEnv,
      stdio: ["pipe", "ignore", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
    if (imported.status !== 0) throw new Error(`fast-import failed: ${imported.stderr.toString("utf8")}`);
    git(["--git-dir", bare, "repack", "-a", "-d", "--quiet"], { env: gitEnv });
    const generateMs = performance.now() - t0;
    const counted = Number(git(["--git-dir", bare, "ls-tree", "-r", "--name-only", "main"], { env: gitEnv }).split("\n").length);
    const sizeKb = Number(/size-pack: (\d+)/.exec(git(["--git-dir", bare, "count-objects", "-v"], { env: gitEnv }))?.[1] ?? 0);

    const shared = path.join(root, "shared.git");
    git(["init", "--bare", "--quiet", shared], { env: gitEnv });
    git(["--git-dir", shared, "config", "gc.auto", "0"], { env: gitEnv });
    git(["--git-dir", shared, "fetch", "--quiet", "--no-tags", `file://${bare}`, "+refs/heads/main:refs/remotes/origin/main"], { env: gitEnv });

    const repository = new GitRepository({ cloneDir: shared, home: path.join(root, "git-home"), identity: { name: "bench", email: "bench@example.invalid" } });
    const worktreeMs: number[] = [];
    const cloneMs: number[] = [];
    const harnessMs: number[] = [];
    const agentGitMs: number[] = [];
    for (let i = 0; i < reps; i += 1) {
      const wt = path.join(root, `wt-${i}`);
      spawnSync("sync");
      worktreeMs.push(
        timed(["--git-dir", shared, "worktree", "add", "--quiet", "--force", "--no-track", "-B", `agent-${i}`, wt, "refs/remotes/origin/main"], root),
      );
      git(["--git-dir", shared, "worktree", "remove", "--force", wt], { env: gitEnv });
      const cl = path.join(root, `clone-${i}`);
      spawnSync("sync");
      cloneMs.push(timed(["clone", "--quiet", `file://${bare}`, cl], root));
      await fs.rm(cl, { recursive: true, force: true });
      const hw = path.join(root, `harness-${i}`);
      spawnSync("sync");
      const h0 = performance.now();
      const handle = await repository.addWorktree(hw, `harness-${i}`, "refs/remotes/origin/main");
      const a0 = performance.now();
      await repository.prepareAgentGit(handle, path.join(root, `agent-${i}.git`));
      const end = performance.now();
      harnessMs.push(end - h0);
      agentGitMs.push(end - a0);
      await repository.removeWorktree(hw);
    }
    const result: WorktreeBenchResult = {
      bench: "worktree",
      files: counted,
      commits: history + 1,
      repoMb: round(sizeKb / 1024, 1),
      reps,
      ratio: round(median(worktreeMs) / median(cloneMs)),
      worktreeMs: Math.round(median(worktreeMs)),
      cloneMs: Math.round(median(cloneMs)),
      harnessWorktreeMs: Math.round(median(harnessMs)),
      agentGitMs: round(median(agentGitMs), 1),
    };
    printTable(
      `worktree vs clone: ${counted} files, ${history + 1} commits, pack ${result.repoMb} MB (generated in ${s(generateMs, 1)}), ${reps} repetitions, in ${os.tmpdir()}`,
      ["", "median", "min", "max"],
      [
        ["git worktree add (shared clone)", s(result.worktreeMs), s(Math.min(...worktreeMs)), s(Math.max(...worktreeMs))],
        ["git clone file:// (fresh)", s(result.cloneMs), s(Math.min(...cloneMs)), s(Math.max(...cloneMs))],
        ["harness: addWorktree + prepareAgentGit", s(result.harnessWorktreeMs), s(Math.min(...harnessMs)), s(Math.max(...harnessMs))],
        ["  of which prepareAgentGit", s(result.agentGitMs), s(Math.min(...agentGitMs)), s(Math.max(...agentGitMs))],
      ],
    );
    console.log(`  ratio worktree/clone ${result.ratio}`);
    console.log(JSON.stringify(result));
    return result;
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

export default async function main(args: string[]): Promise<void> {
  await runWorktreeBench(args);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
