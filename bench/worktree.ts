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
 *   warm:     a parked worktree reused the way the next issue on the host reuses
 *             it (`takeWarmWorktree`: moved to the path, scrubbed, index
 *             set, `git clean -ffdx`, `git reset --hard`, checked clean), then
 *             `prepareAgentGit`. Before each run (untimed) the previous run's
 *             worktree is dirtied as a session might leave it (200 tracked files
 *             changed, 50 deleted, 500 untracked and 200 ignored files, a nested
 *             repository, a chmod 000 directory) and parked.
 * The arms run in a rotating order, after one untimed warm-up run of each.
 * Removal is not timed, and each run starts after a `sync` (untimed), so the
 * writeback of the previous run's 20,000 files does not land in the next one's
 * time. ratio = median(worktree) / median(clone); cloneToWarmRatio =
 * median(clone) / median(warm) (target ≥ 10). Last line:
 * {"bench":"worktree","files":…,"ratio":…,"worktreeMs":…,"cloneMs":…,"harnessWorktreeMs":…,"agentGitMs":…,
 *  "warmReuseMs":…,"warmReuseMinMs":…,"warmReuseMaxMs":…,"cloneToWarmRatio":…,"freshToWarmRatio":…}
 * (agentGitMs: prepareAgentGit alone, within harnessWorktreeMs; freshToWarmRatio:
 * median(harness) / median(warm), the harness's fresh worktree against its warm one).
 */
import { spawnSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { GitRepository, type WorktreeHandle } from "../src/adapters/git.js";
import { silentLogger } from "../src/adapters/logger.js";
import { StateDir } from "../src/runtime/state-dir.js";
import { parkWorktree, takeWarmWorktree } from "../src/runtime/warm-worktrees.js";
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
  /** The warm arm: a dirtied, parked worktree reused (median, min, max). */
  warmReuseMs: number;
  warmReuseMinMs: number;
  warmReuseMaxMs: number;
  /** median(clone) / median(warm): how much faster the next issue on a warm host gets its workspace (target ≥ 10). */
  cloneToWarmRatio: number;
  /** median(harness) / median(warm): the harness's fresh worktree against its warm one. */
  freshToWarmRatio: number;
}

/** What a session might leave in its worktree: tracked files changed and deleted, untracked and ignored files, a nested repository, a closed directory. */
async function dirty(dir: string, files: number, run: number): Promise<void> {
  for (let k = 0; k < Math.min(200, files); k += 1) await fs.writeFile(path.join(dir, filePath((k * 97 + run) % files)), `changed by run ${run}\n`);
  for (let k = 0; k < Math.min(50, files); k += 1) await fs.rm(path.join(dir, filePath((k * 389 + run * 7 + 1) % files)), { force: true });
  for (let k = 0; k < 500; k += 1) {
    const d = path.join(dir, "src", `dir${String(k % 200).padStart(3, "0")}`, "new");
    await fs.mkdir(d, { recursive: true });
    await fs.writeFile(path.join(d, `untracked${k}.ts`), `export const u = ${k};\n`);
  }
  await fs.mkdir(path.join(dir, "build"), { recursive: true });
  await fs.writeFile(path.join(dir, "build", ".gitignore"), "*\n");
  for (let k = 0; k < 200; k += 1) await fs.writeFile(path.join(dir, "build", `out${k}.js`), "ignored build output\n");
  spawnSync("git", ["init", "-q", path.join(dir, "vendor", "nested")], { env: gitEnv });
  await fs.mkdir(path.join(dir, "closed", "inner"), { recursive: true });
  await fs.writeFile(path.join(dir, "closed", "inner", "f"), "x\n");
  await fs.chmod(path.join(dir, "closed"), 0o000);
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
    const warmMs: number[] = [];
    // The warm arm's rig: the parked worktrees live in <root>/warm, as in a state directory.
    const state = new StateDir(root);
    const rig = { git: repository, state, owner: "bench", repo: "repo" };
    let warmRun = 0;
    let warmDirty: WorktreeHandle = await repository.addWorktree(path.join(root, "warm-seed"), "warm-seed", "refs/remotes/origin/main");
    const arms: Record<"worktree" | "clone" | "harness" | "warm", (i: number, record: boolean) => Promise<void>> = {
      worktree: async (i, record) => {
        const wt = path.join(root, `wt-${i}`);
        spawnSync("sync");
        const ms = timed(
          ["--git-dir", shared, "worktree", "add", "--quiet", "--force", "--no-track", "-B", `agent-${i}`, wt, "refs/remotes/origin/main"],
          root,
        );
        if (record) worktreeMs.push(ms);
        git(["--git-dir", shared, "worktree", "remove", "--force", wt], { env: gitEnv });
      },
      clone: async (i, record) => {
        const cl = path.join(root, `clone-${i}`);
        spawnSync("sync");
        const ms = timed(["clone", "--quiet", `file://${bare}`, cl], root);
        if (record) cloneMs.push(ms);
        await fs.rm(cl, { recursive: true, force: true });
      },
      harness: async (i, record) => {
        const hw = path.join(root, `harness-${i}`);
        spawnSync("sync");
        const h0 = performance.now();
        const handle = await repository.addWorktree(hw, `harness-${i}`, "refs/remotes/origin/main");
        const a0 = performance.now();
        await repository.prepareAgentGit(handle, path.join(root, `agent-${i}.git`));
        const end = performance.now();
        if (record) {
          harnessMs.push(end - h0);
          agentGitMs.push(end - a0);
        }
        await repository.removeWorktree(hw);
      },
      warm: async (i, record) => {
        warmRun += 1;
        // Untimed: the previous run's worktree left as a session might leave it, then parked.
        await repository.prepareAgentGit(warmDirty, path.join(root, `warm-agent-${warmRun}.git`));
        await dirty(warmDirty.path, files, warmRun);
        if (!(await parkWorktree({ ...rig, dir: warmDirty.path, limit: 1 }))) throw new Error("the warm arm's worktree was not parked");
        const target = path.join(root, `warm-${i}-${warmRun}`);
        spawnSync("sync");
        const w0 = performance.now();
        const took = await takeWarmWorktree({
          ...rig,
          target,
          branch: `warm-${warmRun}`,
          startPoint: "refs/remotes/origin/main",
          keepPaths: [],
          log: silentLogger(),
        });
        if (took === null) throw new Error("the warm arm's parked worktree could not be reused (see takeWarmWorktree)");
        await repository.prepareAgentGit(took.worktree, path.join(root, `warm-agent-${warmRun}-next.git`));
        const ms = performance.now() - w0;
        if (record) warmMs.push(ms);
        warmDirty = took.worktree;
      },
    };
    const names = Object.keys(arms) as (keyof typeof arms)[];
    // Warm-up: one untimed run of each arm (the page cache, git's first start).
    for (const name of names) await arms[name](-1, false);
    for (let i = 0; i < reps; i += 1) {
      // A rotating order, so no arm always runs right after the same other one.
      for (let k = 0; k < names.length; k += 1) await arms[names[(i + k) % names.length]!](i, true);
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
      warmReuseMs: Math.round(median(warmMs)),
      warmReuseMinMs: Math.round(Math.min(...warmMs)),
      warmReuseMaxMs: Math.round(Math.max(...warmMs)),
      cloneToWarmRatio: round(median(cloneMs) / median(warmMs), 1),
      freshToWarmRatio: round(median(harnessMs) / median(warmMs), 2),
    };
    printTable(
      `worktree vs clone: ${counted} files, ${history + 1} commits, pack ${result.repoMb} MB (generated in ${s(generateMs, 1)}), ${reps} repetitions, in ${os.tmpdir()}`,
      ["", "median", "min", "max"],
      [
        ["git worktree add (shared clone)", s(result.worktreeMs), s(Math.min(...worktreeMs)), s(Math.max(...worktreeMs))],
        ["git clone file:// (fresh)", s(result.cloneMs), s(Math.min(...cloneMs)), s(Math.max(...cloneMs))],
        ["harness: addWorktree + prepareAgentGit", s(result.harnessWorktreeMs), s(Math.min(...harnessMs)), s(Math.max(...harnessMs))],
        ["  of which prepareAgentGit", s(result.agentGitMs), s(Math.min(...agentGitMs)), s(Math.max(...agentGitMs))],
        ["harness: warm reuse (reset + full clean) + prepareAgentGit", s(result.warmReuseMs), s(result.warmReuseMinMs), s(result.warmReuseMaxMs)],
      ],
    );
    console.log(`  ratio worktree/clone ${result.ratio}`);
    console.log(`  fresh clone / warm reuse ${result.cloneToWarmRatio}x (target >= 10x); harness fresh worktree / warm reuse ${result.freshToWarmRatio}x`);
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
