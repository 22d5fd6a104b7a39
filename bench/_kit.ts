/**
 * Shared by the end-to-end benches: the fake GitHub and the scripted model in
 * this process, `harness worker` (tsx, as test/chaos/worker-kit.ts runs it) as a
 * child process with a CPU probe and HARNESS_EVENTS_FILE, and the worker's
 * typed lifecycle events (src/core/lifecycle-events.ts) read back as a
 * per-issue timeline (claimed → worktree_ready → session_started →
 * session_ended → issue_done with its steps). No bench reads log text: the
 * worker's log is kept only for a person reading a failed run.
 */
import { randomBytes } from "node:crypto";
import { execFileSync, spawn } from "node:child_process";
import { promises as fs, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { EventOf, LifecycleEvent, LifecycleEventType } from "../src/core/lifecycle-events.js";
import type { RecordedRequest, Scenario, ScenarioTurn } from "../src/offline/model-server.js";
import { startBench, type Bench } from "../test/chaos/worker-kit.js";

/** HARNESS_SESSION_KEY of the workers this process starts. */
const SESSION_KEY = randomBytes(32).toString("hex");

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

/** The worker's lifecycle events as its HARNESS_EVENTS_FILE has them: every type and the fields each line must carry. */
const EVENT_FIELDS: { [T in LifecycleEventType]: readonly Exclude<keyof EventOf<T>, "type">[] } = {
  claimed: ["issue", "agent", "at", "epoch", "attempt", "sessionId", "mode"],
  not_claimed: ["issue", "agent", "at", "reason"],
  worktree_ready: ["issue", "agent", "at", "path", "startPoint"],
  session_started: ["issue", "agent", "at", "sessionId", "resume"],
  progress: ["issue", "agent", "at", "turns", "costUsd", "lastToolCall"],
  session_ended: ["issue", "agent", "at", "outcome", "turns", "costUsd", "durationMs"],
  session_usage: ["issue", "agent", "at", "models"],
  lease_renewal: ["issue", "agent", "at", "result"],
  reclaimed: ["issue", "agent", "at", "reason", "action", "attempt"],
  published: ["issue", "agent", "at", "outcome", "label", "pullRequest", "pushed"],
  interrupted: ["issue", "agent", "at", "pushed", "byShutdown"],
  failed: ["issue", "agent", "at", "code", "message"],
  fenced: ["issue", "agent", "at"],
  released: ["issue", "agent", "at", "outcome", "ok"],
  requeued: ["issue", "agent", "at", "reason"],
  budget_wait: ["issue", "agent", "at", "scope", "spentUsd", "capUsd", "until"],
  issue_done: ["issue", "agent", "at", "outcome", "label", "pullRequest", "steps"],
  host_started: ["at", "host", "agents", "repositories"],
};

function isEventType(value: unknown): value is LifecycleEventType {
  return typeof value === "string" && Object.hasOwn(EVENT_FIELDS, value);
}

/**
 * A HARNESS_EVENTS_FILE's lines as typed events. Every non-empty line must be a
 * JSON object whose `type` is a LifecycleEvent discriminant, carrying that
 * type's fields, with a parseable `at` (and numeric `steps` on issue_done): a
 * line that is not is an error naming the file and the line, never skipped.
 */
export function parseEvents(text: string, source = "events file"): LifecycleEvent[] {
  const out: LifecycleEvent[] = [];
  const lines = text.split("\n");
  for (const [index, line] of lines.entries()) {
    if (line.trim() === "") continue;
    const where = `${source}:${index + 1}`;
    const bad = (why: string): Error => new Error(`${where}: ${why}: ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw bad("not JSON");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad("not a JSON object");
    const o = value as Record<string, unknown>;
    if (!isEventType(o.type)) throw bad(`unknown event type ${JSON.stringify(o.type)}`);
    const missing = EVENT_FIELDS[o.type].filter((f) => !Object.hasOwn(o, f));
    if (missing.length > 0) throw bad(`${o.type} without ${missing.join(", ")}`);
    if (typeof o.at !== "string" || Number.isNaN(Date.parse(o.at))) throw bad("`at` is not an ISO time");
    if (o.type !== "host_started" && (typeof o.issue !== "string" || typeof o.agent !== "string")) throw bad("`issue` and `agent` must be strings");
    if (o.type === "issue_done") {
      const steps = o.steps;
      if (typeof steps !== "object" || steps === null || Object.values(steps).some((ms) => typeof ms !== "number")) throw bad("`steps` is not a map of ms");
    }
    out.push(o as unknown as LifecycleEvent);
  }
  return out;
}

/** Milliseconds since the epoch of an event's `at`. */
export function timeOf(event: LifecycleEvent): number {
  return Date.parse(event.at);
}

/** What went wrong in a run, from its events: failed and fenced issues, and issues that ended other than in success. */
export function eventErrors(events: LifecycleEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e.type === "failed") out.push(`${e.issue} failed ${e.code}: ${e.message}`);
    else if (e.type === "fenced") out.push(`${e.issue} fenced (its lease is somebody else's)`);
    else if (e.type === "issue_done" && e.outcome !== "success") out.push(`${e.issue} done: ${e.outcome} (${e.label})`);
  }
  return out;
}

export interface WorkerRun {
  exit: { code: number | null; signal: NodeJS.Signals | null };
  spawnedAt: number;
  exitedAt: number;
  wallMs: number;
  cpu: CpuSample | null;
  /** The worker's lifecycle events (its HARNESS_EVENTS_FILE), in the order it wrote them. */
  events: LifecycleEvent[];
  eventsFile: string;
  stdout: string[];
  /** The worker's pino log (stderr), for a person reading a failed run; nothing here parses it. */
  logFile: string;
}

/**
 * `harness worker --agents N --once --repo OWNER/name` in a child process, in
 * token mode against the env, with product defaults (claim jitter, poll) unless
 * `extraEnv` says otherwise, and HARNESS_EVENTS_FILE in its run directory.
 * Resolves when it exits. `stateDir` (default: the run's own) lets runs share
 * the harness's state (its shared clones) like one long-lived host.
 */
export async function runWorker(
  env: BenchEnv,
  input: {
    agents: number;
    repo: string;
    tag: string;
    stateDir?: string;
    extraEnv?: Record<string, string>;
    /** Another checkout of the harness to run the worker from (its root; default: this one), to compare two versions in one run. */
    checkout?: string;
  },
): Promise<WorkerRun> {
  const dir = path.join(env.root, input.tag);
  await fs.mkdir(path.join(dir, "home"), { recursive: true });
  const cpuFile = path.join(dir, "cpu.json");
  const logFile = path.join(dir, "worker.log");
  const eventsFile = path.join(dir, "events.jsonl");
  const childEnv: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: path.join(dir, "home"),
    LANG: "C.UTF-8",
    GITHUB_TOKEN: env.github.token,
    GITHUB_API_URL: env.github.apiUrl,
    HARNESS_STATE_DIR: input.stateDir ?? path.join(dir, "state"),
    HARNESS_EVENTS_FILE: eventsFile,
    // One key for every worker of this process: a session one saves, another resumes (sealed, as a public repository needs).
    HARNESS_SESSION_KEY: SESSION_KEY,
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
    [
      "--import",
      TSX,
      "--import",
      PROBE,
      input.checkout ? path.join(input.checkout, "src", "cli", "main.ts") : MAIN,
      "worker",
      "--agents",
      String(input.agents),
      "--once",
      "--repo",
      `${OWNER}/${input.repo}`,
    ],
    {
      cwd: input.checkout ?? ROOT,
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
  await fs.writeFile(logFile, Buffer.concat(stderr));
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
  // A worker that died before its first event wrote no file: no events, and the caller reports the exit.
  const eventsText = await fs.readFile(eventsFile, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw error;
  });
  return { exit, spawnedAt, exitedAt, wallMs, cpu, events: parseEvents(eventsText, eventsFile), eventsFile, stdout, logFile };
}

/**
 * A failed run's log and events, copied out of the bench's directory (which
 * goes with the bench) for a person to read; returns where they are.
 */
export async function keepRun(run: WorkerRun, name: string): Promise<string> {
  const kept = path.join(os.tmpdir(), `harness-bench-${name}-${Date.now()}`);
  await fs.mkdir(kept, { recursive: true });
  await fs.copyFile(run.logFile, path.join(kept, "worker.log"));
  await fs.copyFile(run.eventsFile, path.join(kept, "events.jsonl")).catch(() => undefined);
  return kept;
}

/** Throws, with the run's errors from its events and where its log is kept, unless every one of `issues` issues ended in success. */
export async function assertAllSucceeded(run: WorkerRun, name: string, issues: number): Promise<void> {
  const done = run.events.filter((e) => e.type === "issue_done");
  const ok = done.filter((e) => e.type === "issue_done" && e.outcome === "success");
  if (run.exit.code === 0 && done.length === issues && ok.length === issues) return;
  const kept = await keepRun(run, name);
  throw new Error(
    `${name}: worker exit ${JSON.stringify(run.exit)}, ${ok.length}/${issues} issues done in success (${done.length} done); ` +
      `errors: ${eventErrors(run.events).join(" | ") || "none in the events"}; log and events kept in ${kept}`,
  );
}

export interface IssueTimeline {
  /** `owner/repo#N` */
  issue: string;
  agent: string;
  /** End of the agent's previous issue (or the worker's host_started): queue pass, jitter, claim until here. */
  readyAt: number;
  claimedAt: number;
  worktreeAt: number;
  /** The worktree's path: the session's cwd, which the scripted model sees. */
  worktreePath: string;
  sessionStartedAt: number;
  sessionEndedAt: number;
  doneAt: number;
  outcome: string;
  /** The issue_done event's steps: ms per step, from the claim's first step to cleanup. */
  steps: Record<string, number>;
}

/** Per-issue timestamps from the worker's events; throws when an issue is missing one, or was claimed twice. */
export function timelines(events: LifecycleEvent[]): { startedAt: number; issues: IssueTimeline[] } {
  const started = events.find((e) => e.type === "host_started");
  if (!started) throw new Error("no host_started event: the worker never got ready to claim");
  const startedAt = timeOf(started);
  const byIssue = new Map<string, Partial<IssueTimeline>>();
  const lastEnd = new Map<string, number>();
  for (const e of events) {
    if (e.type === "host_started") continue;
    const t = byIssue.get(e.issue) ?? { issue: e.issue };
    switch (e.type) {
      case "claimed":
        if (t.claimedAt !== undefined) throw new Error(`${e.issue}: claimed twice in one run`);
        t.claimedAt = timeOf(e);
        t.agent = e.agent;
        t.readyAt = lastEnd.get(e.agent) ?? startedAt;
        break;
      case "worktree_ready":
        t.worktreeAt = timeOf(e);
        t.worktreePath = e.path;
        break;
      case "session_started":
        t.sessionStartedAt = timeOf(e);
        break;
      case "session_ended":
        t.sessionEndedAt = timeOf(e);
        break;
      case "issue_done":
        t.doneAt = timeOf(e);
        t.outcome = e.outcome;
        t.steps = e.steps;
        lastEnd.set(e.agent, timeOf(e));
        break;
      default:
        break;
    }
    byIssue.set(e.issue, t);
  }
  const issues: IssueTimeline[] = [];
  for (const t of byIssue.values()) {
    if (t.claimedAt === undefined) continue; // only looked at, never claimed
    const missing = (["agent", "readyAt", "worktreeAt", "worktreePath", "sessionStartedAt", "sessionEndedAt", "doneAt", "outcome", "steps"] as const).filter(
      (k) => t[k] === undefined,
    );
    if (missing.length > 0) throw new Error(`${t.issue}: incomplete timeline, no ${missing.join(", ")}: ${JSON.stringify(t)}`);
    issues.push(t as IssueTimeline);
  }
  issues.sort((a, b) => a.claimedAt - b.claimedAt);
  return { startedAt, issues };
}

export interface PhaseTotals {
  /** previous end → claimed: queue pass, claim jitter, the claim itself. */
  preClaim: number;
  /** claimed → worktree ready: repository, clone/fetch, worktree. */
  worktree: number;
  /** worktree ready → session ended: previous summary, prompts, the CLI session, the last progress edit. */
  session: number;
  /** session ended → issue done: save session, commit, push, PR, summary, labels, release, cleanup. */
  publish: number;
}

export function phaseMeans(issues: IssueTimeline[]): PhaseTotals {
  const n = Math.max(1, issues.length);
  const sum = (f: (t: IssueTimeline) => number): number => issues.reduce((acc, t) => acc + f(t), 0) / n;
  return {
    preClaim: sum((t) => t.claimedAt - t.readyAt),
    worktree: sum((t) => t.worktreeAt - t.claimedAt),
    session: sum((t) => t.sessionEndedAt - t.worktreeAt),
    publish: sum((t) => t.doneAt - t.sessionEndedAt),
  };
}

/** Mean time per issue of each step of the issue_done events, in the order the steps first appear. */
export function stepMeans(issues: IssueTimeline[]): Record<string, number> {
  const sums = new Map<string, number>();
  for (const t of issues) for (const [name, ms] of Object.entries(t.steps)) sums.set(name, (sums.get(name) ?? 0) + ms);
  return Object.fromEntries([...sums].map(([name, total]) => [name, Math.round(total / Math.max(1, issues.length))]));
}

/**
 * The scripted model's waiting in an issue's session: its turn requests from
 * the issue's worktree (the cwd in the system prompt) × the delay each is
 * answered after. Side requests (no tools) are answered at once.
 */
export function modelWaitMs(issue: IssueTimeline, requests: readonly RecordedRequest[], delayMs: number): number {
  return requests.filter((r) => r.kind === "turn" && r.cwd === issue.worktreePath).length * delayMs;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
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
