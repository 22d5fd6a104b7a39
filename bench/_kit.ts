/**
 * Shared by the end-to-end benches: the fake GitHub and the scripted model in
 * this process, `harness worker` (tsx, as test/chaos/worker-kit.ts runs it) as a
 * child process with a CPU probe, and the worker's pino log read back as a
 * per-issue timeline (claimed → worktree ready → session ended → issue done).
 */
import { execFileSync, spawn } from "node:child_process";
import { promises as fs, readFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Scenario, ScenarioTurn } from "../src/offline/model-server.js";
import { startBench, type Bench } from "../test/chaos/worker-kit.js";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = path.join(ROOT, "src", "cli", "main.ts");
const TSX = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
const PROBE = pathToFileURL(path.join(ROOT, "bench", "fixtures", "cpu-probe.mjs")).href;
const CLK_TCK = 100;

export const OWNER = "bench-org";
export const MARKER = "[scenario:bench]";

/**
 * `turns` model turns, each answered after `delayMs`: Write, Read, Edit, Bash,
 * … then the final text (a tool call on every turn but the last).
 */
export function benchScenario(turns: number, delayMs: number): Scenario {
  const tools: ScenarioTurn[] = [
    { toolCalls: [{ name: "Write", input: { file_path: "{{cwd}}/work.txt", content: "worked by the bench scenario\n" } }] },
    { toolCalls: [{ name: "Read", input: { file_path: "{{cwd}}/work.txt" } }] },
    { toolCalls: [{ name: "Edit", input: { file_path: "{{cwd}}/work.txt", old_string: "worked", new_string: "edited" } }] },
    { toolCalls: [{ name: "Bash", input: { command: "ls -la", description: "List files" } }] },
    { toolCalls: [{ name: "Glob", input: { pattern: "*.txt" } }] },
  ];
  const out: ScenarioTurn[] = [];
  for (let i = 0; i < turns - 1; i += 1) out.push({ ...(tools[i % tools.length] ?? {}), delayMs });
  out.push({ text: "Done: wrote and edited work.txt.", delayMs });
  return { name: "bench", match: MARKER, turns: out };
}

/** The fake GitHub and the scripted model of a bench run: the same setup the chaos test uses. */
export type BenchEnv = Bench;

export function startEnv(scenarios: Scenario[]): Promise<BenchEnv> {
  return startBench(scenarios);
}

/** A repository with `issues` queued issues of the bench scenario. */
export async function createQueuedRepo(env: BenchEnv, name: string, issues: number): Promise<void> {
  await env.github.createRepo({ owner: OWNER, name, files: { "README.md": `# ${name}\n`, ".github/harness.yml": "lease:\n  termMinutes: 5\n" } });
  for (let i = 1; i <= issues; i += 1) {
    await env.github.createIssue(OWNER, name, { title: `Task ${i}`, body: `${MARKER} Write work.txt for task ${i}.`, labels: ["harness:queued"] });
  }
}

export interface CpuSample {
  /** The process's own CPU (ms). */
  selfMs: number;
  /** CPU of its reaped descendants: the CLI sessions, git, tools (ms). */
  childrenMs: number;
}

export interface LogLine {
  time: number;
  msg: string;
  level: number;
  issue: number | null;
  agent: string | null;
  /** "issue steps": where the issue's time went, per step (ms). */
  steps: Record<string, number> | null;
}

export interface WorkerRun {
  exit: { code: number | null; signal: NodeJS.Signals | null };
  spawnedAt: number;
  exitedAt: number;
  wallMs: number;
  cpu: CpuSample | null;
  logs: LogLine[];
  stdout: string[];
  logFile: string;
}

function issueOf(value: unknown): number | null {
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const m = /#(\d+)$/.exec(value);
    return m?.[1] ? Number(m[1]) : null;
  }
  return null;
}

export function parseLog(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      out.push({
        time: typeof o.time === "number" ? o.time : 0,
        msg: typeof o.msg === "string" ? o.msg : "",
        level: typeof o.level === "number" ? o.level : 0,
        issue: issueOf(o.issue),
        agent: typeof o.agent === "string" ? o.agent : null,
        steps: typeof o.steps === "object" && o.steps !== null ? (o.steps as Record<string, number>) : null,
      });
    } catch {
      // not a log line
    }
  }
  return out;
}

/**
 * `harness worker --agents N --once --repo OWNER/name` in a child process, in
 * token mode against the env, with product defaults (claim jitter, poll) unless
 * `extraEnv` says otherwise. Resolves when it exits.
 */
export async function runWorker(env: BenchEnv, input: { agents: number; repo: string; tag: string; extraEnv?: Record<string, string> }): Promise<WorkerRun> {
  const dir = path.join(env.root, input.tag);
  await fs.mkdir(path.join(dir, "home"), { recursive: true });
  const cpuFile = path.join(dir, "cpu.json");
  const logFile = path.join(dir, "worker.log");
  const childEnv: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: path.join(dir, "home"),
    LANG: "C.UTF-8",
    GITHUB_TOKEN: env.github.token,
    GITHUB_API_URL: env.github.apiUrl,
    HARNESS_STATE_DIR: path.join(dir, "state"),
    ANTHROPIC_BASE_URL: env.model.url,
    ANTHROPIC_API_KEY: "scripted-model-key",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    HARNESS_MIN_FREE_DISK_MB: "64",
    HARNESS_BENCH_CPU_FILE: cpuFile,
    LOG_LEVEL: "info",
    ...input.extraEnv,
  };
  const spawnedAt = Date.now();
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    ["--import", TSX, "--import", PROBE, MAIN, "worker", "--agents", String(input.agents), "--once", "--repo", `${OWNER}/${input.repo}`],
    {
      cwd: ROOT,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const stdout: string[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) =>
    stdout.push(
      ...c
        .toString("utf8")
        .split("\n")
        .filter((l) => l !== ""),
    ),
  );
  child.stderr.on("data", (c: Buffer) => stderr.push(c));
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  const wallMs = performance.now() - t0;
  const exitedAt = Date.now();
  const text = Buffer.concat(stderr).toString("utf8");
  await fs.writeFile(logFile, text);
  let cpu: CpuSample | null = null;
  try {
    const probe = JSON.parse(readFileSync(cpuFile, "utf8")) as { userUs: number; systemUs: number; ticks: { cutime: number; cstime: number } | null };
    cpu = {
      selfMs: (probe.userUs + probe.systemUs) / 1000,
      childrenMs: probe.ticks ? ((probe.ticks.cutime + probe.ticks.cstime) * 1000) / CLK_TCK : Number.NaN,
    };
  } catch {
    // the probe did not run
  }
  return { exit, spawnedAt, exitedAt, wallMs, cpu, logs: parseLog(text), stdout, logFile };
}

export interface IssueTimeline {
  issue: number;
  agent: string;
  /** End of the agent's previous issue (or the worker's start): queue pass, jitter, claim until here. */
  readyAt: number;
  claimedAt: number;
  worktreeAt: number;
  sessionEndedAt: number;
  doneAt: number;
}

/** Per-issue timestamps from the worker's log; throws when an issue is missing a step. */
export function timelines(logs: LogLine[]): { startedAt: number; issues: IssueTimeline[] } {
  const started = logs.find((l) => l.msg === "worker started");
  if (!started) throw new Error("no 'worker started' in the worker log");
  const byIssue = new Map<number, Partial<IssueTimeline>>();
  const lastEnd = new Map<string, number>();
  for (const l of logs) {
    if (l.issue === null) continue;
    const t = byIssue.get(l.issue) ?? { issue: l.issue };
    if (l.msg === "claimed") {
      t.claimedAt = l.time;
      if (l.agent !== null) {
        t.agent = l.agent;
        t.readyAt = lastEnd.get(l.agent) ?? started.time;
      }
    } else if (l.msg === "worktree ready") t.worktreeAt = l.time;
    else if (l.msg === "session ended") t.sessionEndedAt = l.time;
    else if (l.msg === "issue done") {
      t.doneAt = l.time;
      if (l.agent !== null) lastEnd.set(l.agent, l.time);
    }
    byIssue.set(l.issue, t);
  }
  const issues: IssueTimeline[] = [];
  for (const t of byIssue.values()) {
    if (t.claimedAt === undefined) continue; // only looked at, never claimed
    if (t.agent === undefined || t.readyAt === undefined || t.worktreeAt === undefined || t.sessionEndedAt === undefined || t.doneAt === undefined) {
      throw new Error(`issue #${t.issue}: incomplete timeline ${JSON.stringify(t)}`);
    }
    issues.push(t as IssueTimeline);
  }
  issues.sort((a, b) => a.claimedAt - b.claimedAt);
  return { startedAt: started.time, issues };
}

export interface PhaseTotals {
  /** previous end → claimed: queue pass, claim jitter, the claim itself. */
  preClaim: number;
  /** claimed → worktree ready: labels, repository, clone/fetch, worktree. */
  worktree: number;
  /** worktree ready → session ended: prompts, the CLI session. */
  session: number;
  /** session ended → issue done: save session, commit, push, PR, summary, labels, release. */
  publish: number;
}

export function phaseMeans(issues: IssueTimeline[]): PhaseTotals {
  const n = Math.max(1, issues.length);
  const sum = (f: (t: IssueTimeline) => number): number => issues.reduce((s, t) => s + f(t), 0) / n;
  return {
    preClaim: sum((t) => t.claimedAt - t.readyAt),
    worktree: sum((t) => t.worktreeAt - t.claimedAt),
    session: sum((t) => t.sessionEndedAt - t.worktreeAt),
    publish: sum((t) => t.doneAt - t.sessionEndedAt),
  };
}

/** Mean time per issue of each step the worker logged ("issue steps"), in the order the steps first appear. */
export function stepMeans(logs: LogLine[]): Record<string, number> {
  const sums = new Map<string, number>();
  const perIssue = logs.filter((l) => l.msg === "issue steps" && l.steps !== null);
  for (const l of perIssue) for (const [name, ms] of Object.entries(l.steps ?? {})) sums.set(name, (sums.get(name) ?? 0) + ms);
  return Object.fromEntries([...sums].map(([name, total]) => [name, Math.round(total / Math.max(1, perIssue.length))]));
}

/** Sessions running at once, sampled over the worker's run: mean and max. */
export function concurrency(issues: IssueTimeline[], from: number, to: number): { mean: number; max: number } {
  let max = 0;
  let area = 0;
  const step = 100;
  for (let t = from; t < to; t += step) {
    const n = issues.filter((i) => i.worktreeAt <= t && t < i.sessionEndedAt).length;
    max = Math.max(max, n);
    area += n;
  }
  return { mean: area / Math.max(1, Math.ceil((to - from) / step)), max };
}

/** This process's CPU (the fake GitHub, the scripted model) since `since`, in ms. */
export function ownCpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

export function git(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): string {
  return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 256 * 1024 * 1024, ...options }).trim();
}

export function s(ms: number, digits = 2): string {
  return `${(ms / 1000).toFixed(digits)} s`;
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function printTable(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ")}`.trimEnd();
  console.log(title);
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

export function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${value}`);
  return n;
}
