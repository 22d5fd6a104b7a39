/**
 * Red team: a reused worktree carries nothing of the last session into the next.
 *
 * The real `harness worker` CLI works two issues of one repository on one host
 * (one agent, `--once`), the real Claude Code CLI in the real sandbox driven by
 * the scripted model: issue 1's session runs attacks/dirty-worktree.sh
 * (untracked and ignored files, a nested repository, a `.git` in a tracked
 * directory, a modified tracked file, changed modes, a chmod 000 directory, a
 * fifo, filters and hooks, a cache the repository keeps), then the worktree is
 * parked; issue 2's session gets it back (the summary says warm) and records
 * everything it sees (attacks/inspect-worktree.sh). The control is the same
 * inspection on a fresh host (a cold worktree of the same start point): the two
 * must be equal except the kept `node_modules`, and no planted filter, hook or
 * fsmonitor ran anywhere. Once with bwrap, and with the uid backend as root.
 */
import { execFileSync, spawn } from "node:child_process";
import { promises as fs, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { startModelServer, type ModelServer, type Scenario } from "../../src/offline/model-server.js";
import { StateDir } from "../../src/runtime/state-dir.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = path.join(ROOT, "src", "cli", "main.ts");
const ATTACKS = path.join(ROOT, "test", "security", "attacks");
const OWNER = "acme";
const WORKER_LIMIT_MS = 240_000;
const TEST_LIMIT_MS = 2 * WORKER_LIMIT_MS + 30_000;
const AS_ROOT = process.geteuid?.() === 0;
/** Slot uids of this file's uid runs: a range no other test file uses. */
const UID_RANGE = "29320-29323";

let root: string;
/** The uid backend's runs: a directory others may traverse, not list. */
let uidRoot: string;
let github: FakeGitHub;
let model: ModelServer;
const scenarios: Scenario[] = [];

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

function script(name: string, file: string, args: string[]): Scenario {
  return {
    name,
    match: `[scenario:${name}]`,
    turns: [
      { toolCalls: [{ name: "Write", input: { file_path: "{{cwd}}/attack.sh", content: readFileSync(path.join(ATTACKS, file), "utf8") } }] },
      { toolCalls: [{ name: "Bash", input: { command: `bash attack.sh ${args.map(shellQuote).join(" ")}`, description: "Run the script" } }] },
      { text: "Done as the issue asked." },
    ],
  };
}

async function runWorker(repo: string, state: string, uid: boolean): Promise<{ code: number | null; output: string }> {
  const base = uid ? uidRoot : root;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: path.join(base, "home"),
    LANG: "C.UTF-8",
    GITHUB_TOKEN: github.token,
    GITHUB_API_URL: github.apiUrl,
    HARNESS_REPOSITORIES: `${OWNER}/${repo}`,
    HARNESS_STATE_DIR: state,
    HARNESS_CLAIM_JITTER_SECONDS: "0",
    HARNESS_WARM_WORKTREES: "1",
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: "sk-ant-test-warm-worktree",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    ...(uid ? { HARNESS_SANDBOX: "uid", HARNESS_SANDBOX_UIDS: UID_RANGE } : {}),
  };
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, "worker", "--agents", "1", "--once"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const guard = setTimeout(() => child.kill("SIGKILL"), WORKER_LIMIT_MS);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  clearTimeout(guard);
  return { code, output };
}

async function queue(repo: string, scenario: string): Promise<number> {
  const issue = await github.createIssue(OWNER, repo, {
    title: "Please run the script",
    body: `[scenario:${scenario}] Run attack.sh as described.`,
    user: "maintainer",
  });
  await github.addLabel(OWNER, repo, issue.number, "harness:queued", { sender: "maintainer" });
  return issue.number;
}

function pushed(repo: string, issue: number, file: string): string {
  return execFileSync("git", ["--git-dir", github.repoPath(OWNER, repo), "show", `harness/issue-${issue}:${file}`], { encoding: "utf8" });
}

/** A file of the commit the publish gate refused and the harness kept on the host (the nested repository is a gitlink). */
function kept(state: string, repo: string, issue: number, file: string): string {
  return execFileSync("git", ["--git-dir", new StateDir(state).clone(OWNER, repo), "show", `refs/kept/harness/issue-${issue}/attempt-1:${file}`], {
    encoding: "utf8",
  });
}

/** The summary's workspace row of the issue's last attempt. */
function workspaceRow(repo: string, issue: number): string {
  const bodies = github.listComments(OWNER, repo, issue).map((c) => c.body);
  return bodies.flatMap((b) => b.split("\n")).find((line) => line.startsWith("| Workspace |")) ?? "";
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-warm-redteam-"));
  await fs.mkdir(path.join(root, "home"), { recursive: true });
  if (AS_ROOT) {
    uidRoot = await fs.mkdtemp(path.join(os.tmpdir(), "harness-warm-redteam-uid-"));
    await fs.chmod(uidRoot, 0o711);
    await fs.mkdir(path.join(uidRoot, "home"), { mode: 0o700 });
  }
  github = await startFakeGitHub({ dir: path.join(root, "github") });
  model = await startModelServer({ scenarios });
});

afterAll(async () => {
  await model?.close();
  await github?.close();
  for (const dir of [root, uidRoot]) {
    if (!dir) continue;
    // A failed run may leave the session's closed directory behind.
    execFileSync("chmod", ["-R", "u+rwX", dir]);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

let repoCount = 0;

async function warmAgainstCold(uid: boolean): Promise<void> {
  repoCount += 1;
  const repo = `rig-${repoCount}`;
  const base = uid ? uidRoot : root;
  await github.createRepo({
    owner: OWNER,
    name: repo,
    defaultBranch: "main",
    collaborators: { maintainer: "maintain" },
    files: {
      "README.md": "# rig\n",
      ".gitignore": "*.log\n",
      "src/app.js": "export const app = 1;\n",
      ".github/harness.yml": "workspace:\n  keepPaths: [node_modules]\n",
    },
  });
  const markers = path.join(base, `markers-${repo}`);
  await fs.mkdir(markers, { mode: 0o700 });
  scenarios.push(script(`dirty-${repo}`, "dirty-worktree.sh", [markers]), script(`inspect-${repo}`, "inspect-worktree.sh", []));

  // One host: issue 1 dirties its worktree, issue 2 gets it back.
  const dirty = await queue(repo, `dirty-${repo}`);
  const warm = await queue(repo, `inspect-${repo}`);
  const state = path.join(base, `state-${repo}`);
  const run = await runWorker(repo, state, uid);
  expect(run.code, run.output.slice(-3000)).toBe(0);
  const comments = (n: number): string =>
    github
      .listComments(OWNER, repo, n)
      .map((c) => c.body)
      .join("\n---\n");
  expect(workspaceRow(repo, dirty), comments(dirty)).toMatch(/\| Workspace \| cold/);
  expect(
    workspaceRow(repo, warm),
    `${comments(warm)}\n${run.output
      .split("\n")
      .filter((l) => /worktree|park|clean/i.test(l))
      .join("\n")}`,
  ).toMatch(/\| Workspace \| warm .*, ready in \d+\.\ds \|/);
  // The attack ran to its end (its work was refused by the publish gate: a nested repository is a gitlink).
  expect(kept(state, repo, dirty, "loot/ran")).toBe("done\n");

  // A fresh host: the same inspection of a new worktree of the same start point.
  const cold = await queue(repo, `inspect-${repo}`);
  const control = await runWorker(repo, path.join(base, `state-${repo}-fresh`), uid);
  expect(control.code, control.output.slice(-3000)).toBe(0);
  expect(workspaceRow(repo, cold)).toMatch(/\| Workspace \| cold/);

  const withoutCache = (text: string): string[] =>
    text
      .split("\n")
      .filter((line) => line !== "" && !/(^|\s)\.\/node_modules(\/|$)/.test(line))
      .sort();
  const warmManifest = pushed(repo, warm, "loot/manifest.txt");
  const coldManifest = pushed(repo, cold, "loot/manifest.txt");
  // The judge can fail: the cold tree is the repository's, and the warm one has the kept cache on top.
  expect(withoutCache(coldManifest)).toContain("f 644 ./src/app.js");
  expect(coldManifest).not.toContain("node_modules");
  expect(warmManifest).toContain("./node_modules/dep/index.js");
  expect(withoutCache(warmManifest)).toEqual(withoutCache(coldManifest));
  expect(withoutCache(pushed(repo, warm, "loot/hashes.txt"))).toEqual(withoutCache(pushed(repo, cold, "loot/hashes.txt")));
  for (const planted of ["untracked.txt", "src/deep", "cache", "debug.log", "vendor", "src/.git", ".gitattributes", "src/.gitattributes", "pipe", "locked"])
    expect(warmManifest, planted).not.toMatch(new RegExp(` \\./${planted.replace(".", "\\.")}(/|$)`, "m"));
  // No filter, hook or fsmonitor of the session ran, in the harness's git or the next session's.
  expect(await fs.readdir(markers)).toEqual([]);
}

describe("a reused worktree in the sandbox", () => {
  it("bwrap: the next issue's session sees exactly its start point and the kept cache", () => warmAgainstCold(false), TEST_LIMIT_MS);
  it.runIf(AS_ROOT)("uid: the same with the agent's files owned by a slot uid", () => warmAgainstCold(true), TEST_LIMIT_MS);
});
