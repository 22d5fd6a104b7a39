/**
 * Runs `harness worker` as child processes (tsx, as a person would) against the
 * fake GitHub and the scripted model of this process, and reads back what they
 * did from the fake's state and its bare repositories.
 */
import { randomBytes } from "node:crypto";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { startModelServer, type ModelServer, type Scenario } from "../../src/offline/model-server.js";

/** HARNESS_SESSION_KEY of the workers this process starts. */
const SESSION_KEY = randomBytes(32).toString("hex");

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = path.join(ROOT, "src", "cli", "main.ts");
const TSX = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;

export interface Bench {
  root: string;
  github: FakeGitHub;
  model: ModelServer;
  close(): Promise<void>;
}

export async function startBench(scenarios: Scenario[], options: { keep?: boolean } = {}): Promise<Bench> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-workers-"));
  const model = await startModelServer({ scenarios });
  const github = await startFakeGitHub({ dir: path.join(root, "github") });
  return {
    root,
    github,
    model,
    close: async () => {
      await github.close().catch(() => undefined);
      await model.close().catch(() => undefined);
      if (!options.keep)
        if (process.env.KEEP_BENCH) process.stderr.write(`bench kept at ${root}\n`);
        else await fs.rm(root, { recursive: true, force: true });
      // Strict: a bench, chaos or soak run whose requests broke GitHub's OpenAPI description fails, naming them (once).
      const report = github.violationReport();
      github.clearViolations();
      if (report) {
        process.stderr.write(`${report}\n`);
        throw new Error(report);
      }
    },
  };
}

/** A repository whose config sets the lease term, and whose bare repo logs every ref update (pushes included). */
export async function createRepo(bench: Bench, owner: string, name: string, config: string): Promise<void> {
  await bench.github.createRepo({ owner, name, files: { "README.md": `# ${name}\n`, ".github/harness.yml": config } });
  execFileSync("git", ["--git-dir", bench.github.repoPath(owner, name), "config", "core.logAllRefUpdates", "always"]);
}

export interface SpawnedWorker {
  child: ChildProcess;
  pid: number;
  stdout: string[];
  stderrFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let spawned = 0;

/** `harness worker …` (or another `command`: `app`, `reclaim`) in a child process: token mode against the bench, its own state dir. */
export function spawnWorker(
  bench: Bench,
  input: { stateDir: string; args: string[]; env?: Record<string, string>; logLevel?: string; command?: string; nodeArgs?: string[] },
): SpawnedWorker {
  const command = input.command ?? "worker";
  const stderrFile = path.join(bench.root, `${command}-${++spawned}.log`);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: path.join(bench.root, "home"),
    LANG: "C.UTF-8",
    GITHUB_TOKEN: bench.github.token,
    GITHUB_API_URL: bench.github.apiUrl,
    HARNESS_STATE_DIR: input.stateDir,
    // One key for every worker of this process: a session one saves, another resumes (sealed, as a public repository needs).
    HARNESS_SESSION_KEY: SESSION_KEY,
    ANTHROPIC_BASE_URL: bench.model.url,
    ANTHROPIC_API_KEY: "scripted-model-key",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    HARNESS_MIN_FREE_DISK_MB: "64",
    HARNESS_CLAIM_JITTER_SECONDS: "0.3",
    HARNESS_POLL_SECONDS: "0.5",
    LOG_LEVEL: input.logLevel ?? "info",
    ...input.env,
  };
  const child = spawn(process.execPath, [...(input.nodeArgs ?? []), "--import", TSX, MAIN, command, ...input.args], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  let buffered = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    stdout.push(...lines);
  });
  child.stderr?.pipe(createWriteStream(stderrFile));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, pid: child.pid ?? -1, stdout, stderrFile, exited };
}

function git(repoPath: string, args: string[]): string {
  return execFileSync("git", ["--git-dir", repoPath, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
}

export interface LeaseEntry {
  state: string;
  epoch: number;
  attempt: number;
  owner: { agent: string; host: string; runId: string };
  outcome?: string | null;
}

/** The lease ref's history, oldest first; [] when there is none. */
export function leaseHistory(bench: Bench, owner: string, repo: string, issue: number): LeaseEntry[] {
  try {
    return git(bench.github.repoPath(owner, repo), ["log", "--reverse", "--format=%B%x00", `refs/harness/leases/issue-${issue}`])
      .split("\0")
      .map((m) => m.trim())
      .filter((m) => m !== "")
      .map((m) => JSON.parse(m) as LeaseEntry);
  } catch {
    return [];
  }
}

/** Every value the issue's branch ever had on the fake (its reflog: every push). */
export function pushedHeads(bench: Bench, owner: string, repo: string, issue: number): string[] {
  try {
    return git(bench.github.repoPath(owner, repo), ["reflog", "show", "--format=%H", `refs/heads/harness/issue-${issue}`, "--"])
      .split("\n")
      .filter((l) => /^[0-9a-f]{40}$/.test(l));
  } catch {
    return [];
  }
}

/** True when `sha` is reachable from `ref` in the fake's repository. */
export function isAncestor(bench: Bench, owner: string, repo: string, sha: string, ref: string): boolean {
  try {
    execFileSync("git", ["--git-dir", bench.github.repoPath(owner, repo), "merge-base", "--is-ancestor", sha, ref], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Pids of live processes whose HARNESS_AGENT_ID starts with `prefix`. */
export async function markedProcesses(prefix: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const environ = await fs.readFile(`/proc/${name}/environ`, "latin1");
      if (environ.split("\0").some((e) => e.startsWith(`HARNESS_AGENT_ID=${prefix}`))) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

/** Polls `check` every `everyMs` until it holds; throws with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
