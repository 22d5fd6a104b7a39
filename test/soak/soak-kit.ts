/**
 * The soak: issues keep arriving on a seeded schedule, long-running
 * `harness worker` processes and one `harness app` (Probot, in-process agent
 * pool, fed by signed `issues.labeled` webhooks) keep working them, and faults
 * keep coming: transient GitHub errors (5xx, secondary rate limits) on a
 * fraction of REST requests, issues whose model session ends in an API error,
 * and now and then a worker SIGKILLed and started again (the reclaimer, which
 * every worker runs on each queue pass, takes its lease back). At the end the
 * arrivals stop, the queue drains, `harness reclaim` runs once, everything is
 * stopped, and the chaos invariants are checked for every issue; the RSS of
 * every harness process, sampled from /proc, is fitted with a line after a
 * warm-up and its slope reported.
 */
import { createServer } from "node:net";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { benchScenario, MARKER as BENCH_MARKER } from "../../bench/_kit.js";
import { isGitPush, type FaultKind, type FaultRequest } from "../../src/offline/fake-github/faults.js";
import type { Scenario } from "../../src/offline/model-server.js";
import { checkIssue, seeded, stopWorker } from "../chaos/chaos-kit.js";
import {
  createRepo,
  leaseHistory,
  markedProcesses,
  spawnWorker,
  startBench,
  waitFor,
  type Bench,
  type LeaseEntry,
  type SpawnedWorker,
} from "../chaos/worker-kit.js";

// ---------------------------------------------------------------------------
// Memory: least-squares slope of RSS after a warm-up, and the flatness verdict.

export interface RssSample {
  /** ms since the epoch */
  t: number;
  mb: number;
}

export interface RssSeries {
  /** `app`, `worker-1`, `worker-2.3` (the third process of worker slot 2). */
  name: string;
  pid: number;
  startedAt: number;
  /** When the process exited (killed, crashed or stopped); null while it runs. */
  endedAt: number | null;
  killed: boolean;
  /** RSS from /proc, every `sampleSeconds`. */
  samples: RssSample[];
  /** The live heap right after a full collection (test/soak/heap-probe.mjs), every few seconds. */
  heap: RssSample[];
}

/** Least-squares line through the samples: slope in MB per minute; null with fewer than two distinct times. */
export function fitSlope(samples: RssSample[]): { slopeMBPerMin: number; interceptMB: number } | null {
  const n = samples.length;
  if (n < 2) return null;
  const t0 = samples[0]?.t ?? 0;
  let sx = 0;
  let sy = 0;
  for (const s of samples) {
    sx += (s.t - t0) / 60_000;
    sy += s.mb;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  for (const s of samples) {
    const dx = (s.t - t0) / 60_000 - mx;
    sxx += dx * dx;
    sxy += dx * (s.mb - my);
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  return { slopeMBPerMin: slope, interceptMB: my - slope * mx };
}

export interface MemoryRule {
  /** Samples of a process's first `warmupMs` are not fitted (JIT, heap sizing, first clone). */
  warmupMs: number;
  /** Flat: the fitted slope is below this (MB/min). */
  thresholdMBPerMin: number;
  /** A slope is reported with at least this many samples after the warm-up... */
  minSamples: number;
  /** ...and judged only when they span at least this long. */
  minWindowMs: number;
}

/**
 * The documented rule: warm-up is the first 30 % of the run or its first
 * minute, whichever is longer (counted from each process's own start, so a
 * restarted worker warms up again); flat means a least-squares slope under
 * 2 MB/min (120 MB an hour) over at least 3 minutes of samples after that.
 * Shorter windows are reported, not judged: the RSS of these Node processes
 * saws by some 40 MB (the heap fills, then a major collection every one or two
 * minutes), and a line through less than a few teeth measures the saw.
 */
export function defaultMemoryRule(minutes: number): MemoryRule {
  return { warmupMs: Math.max(60_000, 0.3 * minutes * 60_000), thresholdMBPerMin: 2, minSamples: 10, minWindowMs: 180_000 };
}

/**
 * The verdict's rule, on the live heap after a full collection (no saw to
 * average out): the same warm-up; flat means under 1 MB/min (60 MB an hour)
 * over at least 2 minutes of samples.
 */
export function defaultHeapRule(minutes: number): MemoryRule {
  return { ...defaultMemoryRule(minutes), thresholdMBPerMin: 1, minWindowMs: 120_000 };
}

/** Loaded into every soaked harness process with --expose-gc: samples its heap after a full collection. */
const HEAP_PROBE = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), "heap-probe.mjs")).href;

/** The probe's samples of process `pid` (none when it wrote nothing). */
async function heapSamples(dir: string, pid: number): Promise<RssSample[]> {
  const text = await fs.readFile(path.join(dir, `${pid}.jsonl`), "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { t: number; heapMB: number })
    .map((x) => ({ t: x.t, mb: Math.round(x.heapMB * 100) / 100 }));
}

export interface SeriesVerdict {
  name: string;
  pid: number;
  killed: boolean;
  samples: number;
  startMB: number | null;
  endMB: number | null;
  maxMB: number | null;
  /** Seconds of samples fitted (after warm-up, before `until`). */
  windowS: number;
  /** null with fewer than `minSamples` samples after the warm-up. */
  slopeMBPerMin: number | null;
  /** null when the fitted window is shorter than `minWindowMs` (or there is no slope). */
  flat: boolean | null;
}

/** Per series: RSS at start, end and peak, and the slope after warm-up up to `until` (the end of the arrivals). */
export function judgeMemory(series: RssSeries[], rule: MemoryRule, until: number): { series: SeriesVerdict[]; flat: boolean | null } {
  const out = series.map((s): SeriesVerdict => {
    const from = s.startedAt + rule.warmupMs;
    const to = Math.min(until, s.endedAt ?? until);
    const fitted = s.samples.filter((x) => x.t >= from && x.t <= to);
    const windowMs = fitted.length > 1 ? (fitted.at(-1)?.t ?? 0) - (fitted[0]?.t ?? 0) : 0;
    const fit = fitted.length >= rule.minSamples ? fitSlope(fitted) : null;
    const judged = fit !== null && windowMs >= rule.minWindowMs;
    const mbs = s.samples.map((x) => x.mb);
    return {
      name: s.name,
      pid: s.pid,
      killed: s.killed,
      samples: s.samples.length,
      startMB: s.samples[0]?.mb ?? null,
      endMB: s.samples.at(-1)?.mb ?? null,
      maxMB: mbs.length > 0 ? Math.max(...mbs) : null,
      windowS: Math.round(windowMs / 1000),
      slopeMBPerMin: fit === null ? null : Math.round(fit.slopeMBPerMin * 1000) / 1000,
      flat: fit === null || !judged ? null : fit.slopeMBPerMin < rule.thresholdMBPerMin,
    };
  });
  const judged = out.filter((v) => v.flat !== null);
  return { series: out, flat: judged.length === 0 ? null : judged.every((v) => v.flat === true) };
}

// ---------------------------------------------------------------------------
// Leases and the verdict.

/**
 * Claims that overlap in the lease history: a claim must start from no lease or
 * a free state (released, reclaimed, interrupted) with the next epoch; a claim
 * right after a claim is only a renewal by the same holder in the same epoch.
 */
export function overlappingClaims(history: LeaseEntry[]): string[] {
  const out: string[] = [];
  const who = (e: LeaseEntry): string => `${e.owner.agent}@${e.owner.host}/${e.owner.runId.slice(0, 8)}`;
  history.forEach((entry, i) => {
    const previous = history[i - 1];
    if (entry.state !== "claimed") {
      if (previous !== undefined && entry.epoch !== previous.epoch) out.push(`${entry.state} in epoch ${entry.epoch} after epoch ${previous.epoch}`);
      return;
    }
    if (previous === undefined) {
      if (entry.epoch !== 1) out.push(`first claim has epoch ${entry.epoch}`);
    } else if (previous.state === "claimed") {
      if (who(previous) !== who(entry) || previous.epoch !== entry.epoch)
        out.push(`${who(entry)} claimed (epoch ${entry.epoch}) while ${who(previous)} held epoch ${previous.epoch}`);
    } else if (entry.epoch !== previous.epoch + 1) {
      out.push(`claim with epoch ${entry.epoch} after epoch ${previous.epoch}`);
    }
  });
  return out;
}

export interface SoakFacts {
  issues: number;
  /** Issues not in a terminal state at the end (still queued, claimed, running, or unlabeled). */
  lost: number;
  /** Issues that ended otherwise than their scenario says (done for the bench scenario, failed for a model API error). */
  unexpectedOutcomes: number;
  lostCommits: number;
  overlappingClaims: number;
  duplicatePRs: number;
  duplicateComments: number;
  labelMismatches: number;
  orphans: number;
  leftoverWorktrees: number;
  /** Harness processes that exited without being killed or stopped, or did not stop cleanly. */
  processProblems: number;
  /** null: no series was long enough after warm-up to be judged. */
  memoryFlat: boolean | null;
  /** What the soak was configured to cause and did not happen (no kill, no fault, no git push fault). */
  unmet?: string[];
}

/** The facts of `issues` issues before anything is counted against them (memory not judged yet). */
export function nothingWrong(issues: number): SoakFacts {
  return {
    issues,
    lost: 0,
    unexpectedOutcomes: 0,
    lostCommits: 0,
    overlappingClaims: 0,
    duplicatePRs: 0,
    duplicateComments: 0,
    labelMismatches: 0,
    orphans: 0,
    leftoverWorktrees: 0,
    processProblems: 0,
    memoryFlat: null,
  };
}

export function soakVerdict(f: SoakFacts): { pass: boolean; failures: string[] } {
  const failures: string[] = [];
  const counted: [keyof SoakFacts, string][] = [
    ["lost", "issues lost (not finished)"],
    ["unexpectedOutcomes", "issues with an unexpected outcome"],
    ["lostCommits", "pushed commits lost"],
    ["overlappingClaims", "overlapping claims"],
    ["duplicatePRs", "duplicate pull requests"],
    ["duplicateComments", "duplicate comments"],
    ["labelMismatches", "labels disagreeing with the lease"],
    ["orphans", "orphan agent processes"],
    ["leftoverWorktrees", "leftover worktrees"],
    ["processProblems", "harness processes that crashed or did not stop cleanly"],
  ];
  for (const [key, what] of counted) {
    const n = f[key];
    if (typeof n === "number" && n > 0) failures.push(`${n} ${what}`);
  }
  if (f.issues === 0) failures.push("no issue arrived");
  if (f.memoryFlat === false) failures.push("memory not flat after warm-up");
  for (const what of f.unmet ?? []) failures.push(`configured but did not happen: ${what}`);
  return { pass: failures.length === 0, failures };
}

// ---------------------------------------------------------------------------
// The run.

export interface SoakOptions {
  /** Minutes of arrivals (then the drain). */
  minutes: number;
  seed: number;
  /** Long-running `harness worker` processes. */
  workers: number;
  /** Agents per worker. */
  agents: number;
  /** Agents of the one `harness app` (0: no app). */
  appAgents: number;
  /** Issues per minute. */
  rate: number;
  /** Fraction of REST requests answered with a fault. */
  faultRate: number;
  faultKinds: FaultKind[];
  /** The same faults on git pushes too (the lease, the branch, the session save travel by push). */
  gitFaults?: boolean;
  /** Fraction of issues whose session ends in a model API error (expected to end harness:failed). */
  modelErrorRate: number;
  /** Mean seconds between worker SIGKILLs (0: none). */
  killEverySeconds: number;
  sampleSeconds: number;
  drainMinutes: number;
  /** RSS: reported (slope after the warm-up), not judged. */
  memory: MemoryRule;
  /** The live heap after a full collection: judged (the verdict's memory part). */
  heap: MemoryRule;
  /** Writes every RSS series (JSON) here, for a closer look. */
  rssFile?: string;
  keep?: boolean;
  out: (line: string) => void;
}

export const SOAK_DEFAULTS = {
  minutes: 5,
  workers: 2,
  agents: 2,
  appAgents: 2,
  rate: 6,
  faultRate: 0.03,
  faultKinds: ["5xx", "429", "403-secondary"] as FaultKind[],
  modelErrorRate: 0.1,
  killEverySeconds: 60,
  sampleSeconds: 2,
  drainMinutes: 4,
};

export interface SoakReport {
  pass: boolean;
  failures: string[];
  facts: SoakFacts;
  created: number;
  done: number;
  failed: number;
  expectedFailed: number;
  faults: Record<string, number>;
  githubFaults: number;
  /** Webhook deliveries the app answered with an error (a fault inside its handler). */
  webhookFailures: number;
  modelErrorIssues: number;
  kills: number;
  /** Leases the reclaimer took back (a killed worker was holding them). */
  reclaimed: number;
  memory: { series: SeriesVerdict[]; flat: boolean | null };
  heap: { series: SeriesVerdict[]; flat: boolean | null };
  problems: string[];
  /** Where the harness processes' logs are (kept with --keep, or copied when the soak failed). */
  logs: string | null;
  seconds: number;
  /** The last line: one JSON object. */
  json: Record<string, unknown>;
}

const OWNER = "soak-org";
const REPO = "queue";
const MODEL_ERROR_MARKER = "[scenario:soak-model-error]";
/**
 * 15 s leases (a beat every second): a SIGKILLed worker's issue is taken back
 * about 18 s later by the next queue pass of any worker. Five attempts, so a
 * few kills of the same issue still end in done.
 */
const CONFIG = [
  "lease:",
  "  termMinutes: 0.25",
  "heartbeatSeconds: 1",
  "progressMinutes: 0.05",
  "reclaim:",
  "  graceMinutes: 0.05",
  "  maxAttempts: 5",
  "  backoffMinutes: 0.01",
  "  backoffMaxMinutes: 0.05",
  "",
].join("\n");

/** A file written, then the model API answers 400: a commit, a draft PR, the issue failed. */
const MODEL_ERROR_SCENARIO: Scenario = {
  name: "soak-model-error",
  match: MODEL_ERROR_MARKER,
  turns: [
    { toolCalls: [{ name: "Write", input: { file_path: "{{cwd}}/partial.txt", content: "half done\n" } }], delayMs: 500 },
    { error: { status: 400, message: "scripted bad request (soak)" }, delayMs: 500 },
  ],
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function rssMB(pid: number): Promise<number | null> {
  try {
    const status = await fs.readFile(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? null : Number(kb) / 1024;
  } catch {
    return null;
  }
}

/** Live processes carrying an agent marker whose HOME lies under `dir` (the app's agents: their marker names no pid). */
async function agentProcessesUnder(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const environ = (await fs.readFile(`/proc/${name}/environ`, "latin1")).split("\0");
      if (environ.some((e) => e.startsWith("HARNESS_AGENT_ID=")) && environ.some((e) => e.startsWith(`HOME=${dir}/`))) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

interface Proc {
  name: string;
  slot: number;
  spawned: SpawnedWorker;
  series: RssSeries;
  /** Set before we kill or stop it: its exit is not a crash. */
  expectedExit: boolean;
  /** Its HARNESS_EVENTS_FILE (workers only): what it claimed and finished, read to pick a victim that holds a lease. */
  eventsFile: string | null;
}

/**
 * The leases a worker holds by its own lifecycle events: issues with a
 * `claimed` and no `issue_done` after it. An event appended while we read is
 * at worst missed until the next look.
 */
export async function leasesHeld(eventsFile: string): Promise<{ issue: string; epoch: number }[]> {
  const text = await fs.readFile(eventsFile, "utf8").catch(() => "");
  const held = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let event: { type?: string; issue?: string; epoch?: number };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      continue; // a line still being written
    }
    if (event.issue === undefined) continue;
    if (event.type === "claimed") held.set(event.issue, event.epoch ?? 0);
    else if (event.type === "issue_done") held.delete(event.issue);
  }
  return [...held].map(([issue, epoch]) => ({ issue, epoch }));
}

interface Arrival {
  issue: number;
  kind: "bench" | "model-error";
  at: number;
}

function terminalLabel(labels: string[]): "done" | "failed" | null {
  const harness = labels.filter((l) => l.startsWith("harness:"));
  if (harness.length !== 1) return null;
  if (harness[0] === "harness:done") return "done";
  if (harness[0] === "harness:failed") return "failed";
  return null;
}

/** What is wrong with `harness app`'s `/status`, `/metrics` and `/healthz` after the soak's work (empty: nothing). */
async function checkOperatorRoutes(appUrl: string): Promise<string[]> {
  const problems: string[] = [];
  const get = async (pathname: string): Promise<{ status: number; body: string }> => {
    try {
      const res = await fetch(`${appUrl}${pathname}`);
      return { status: res.status, body: await res.text() };
    } catch (error) {
      return { status: 0, body: String(error) };
    }
  };
  const status = await get("/status");
  if (status.status !== 200 || !status.body.includes("<table")) problems.push(`harness app /status answered ${status.status}: ${status.body.slice(0, 200)}`);
  const metrics = await get("/metrics");
  // Workers may win every claim, so the app's own counters can be empty: its series must exist and promtool-clean output is tested elsewhere.
  if (metrics.status !== 200 || !metrics.body.includes("# TYPE harness_claims_total counter")) {
    problems.push(`harness app /metrics answered ${metrics.status} without harness_claims_total`);
  }
  const healthz = await get("/healthz");
  if (healthz.status !== 200) problems.push(`harness app /healthz answered ${healthz.status}`);
  return problems;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const bench = await startBench([benchScenario(3, 1000), MODEL_ERROR_SCENARIO], { keep: options.keep === true });
  try {
    return await soak(bench, options);
  } finally {
    await bench.close();
  }
}

async function soak(bench: Bench, options: SoakOptions): Promise<SoakReport> {
  const { out } = options;
  const started = Date.now();
  const arrivalsRandom = seeded(options.seed);
  const killRandom = seeded(options.seed ^ 0x5bd1e995);
  const problems: string[] = [];
  /** Crashes, and processes that did not stop cleanly at the end. */
  const processProblems: string[] = [];
  const procs: Proc[] = [];
  const allSeries: RssSeries[] = [];
  const arrivals: Arrival[] = [];
  const workerState = path.join(bench.root, "workers-state");
  const appState = path.join(bench.root, "app-state");
  const repoName = `${OWNER}/${REPO}`;
  const heapDir = path.join(bench.root, "heap");
  const probe = {
    nodeArgs: ["--expose-gc", "--import", HEAP_PROBE],
    env: { HARNESS_HEAP_PROBE_DIR: heapDir, HARNESS_HEAP_PROBE_MS: String(Math.max(1000, options.sampleSeconds * 2000)) },
  };
  const workerEnv = { HARNESS_POLL_SECONDS: "1", HARNESS_CLAIM_JITTER_SECONDS: "0.3", ...probe.env };
  let kills = 0;
  /** The real `harness app`'s server, when the soak runs one. */
  let appUrl: string | null = null;
  /** The leases the killed workers held when they were killed. */
  const heldAtKill: { issue: string; epoch: number }[] = [];
  let webhookFailures = 0;
  let injector: ReturnType<Bench["github"]["setFaults"]> = null;
  let finishing = false;
  let sampler: NodeJS.Timeout | null = null;

  const track = (name: string, slot: number, spawned: SpawnedWorker): Proc => {
    const series: RssSeries = { name, pid: spawned.pid, startedAt: Date.now(), endedAt: null, killed: false, samples: [], heap: [] };
    const proc: Proc = { name, slot, spawned, series, expectedExit: false, eventsFile: eventsFileOf.get(spawned) ?? null };
    allSeries.push(series);
    procs.push(proc);
    void spawned.exited.then((exit) => {
      series.endedAt = Date.now();
      if (!proc.expectedExit) {
        processProblems.push(`${name} (pid ${spawned.pid}) exited by itself with ${exit.code ?? exit.signal}; see ${spawned.stderrFile}`);
        if (!finishing && slot > 0) startWorker(slot);
      }
    });
    return proc;
  };
  const generations = new Map<number, number>();
  const eventsFileOf = new Map<SpawnedWorker, string>();
  const startWorker = (slot: number): Proc => {
    const generation = (generations.get(slot) ?? 0) + 1;
    generations.set(slot, generation);
    const eventsFile = path.join(bench.root, "events", `worker-${slot}.${generation}.jsonl`);
    const spawned = spawnWorker(bench, {
      stateDir: workerState,
      args: ["--agents", String(options.agents), "--repo", repoName],
      env: { ...workerEnv, HARNESS_EVENTS_FILE: eventsFile },
      nodeArgs: probe.nodeArgs,
    });
    eventsFileOf.set(spawned, eventsFile);
    return track(generation === 1 ? `worker-${slot}` : `worker-${slot}.${generation}`, slot, spawned);
  };
  const current = (slot: number): Proc | undefined => procs.filter((p) => p.slot === slot && p.series.endedAt === null).at(-1);

  let arrivalsEnd = started;
  try {
    await createRepo(bench, OWNER, REPO, CONFIG);

    // The app: one `harness app` with its agent pool, fed by signed webhooks.
    if (options.appAgents > 0) {
      const port = await freePort();
      appUrl = `http://127.0.0.1:${port}`;
      const secret = `soak-${options.seed}-webhook-secret-0123456789abcdef`;
      const app = spawnWorker(bench, {
        command: "app",
        stateDir: appState,
        args: [],
        nodeArgs: probe.nodeArgs,
        env: {
          ...probe.env,
          WEBHOOK_SECRET: secret,
          PORT: String(port),
          HOST: "127.0.0.1",
          HARNESS_AGENTS: String(options.appAgents),
          HARNESS_REPOSITORIES: repoName,
          HARNESS_RECONCILE_MINUTES: "1",
        },
      });
      track("app", 0, app);
      await waitFor(
        "the app to listen",
        async () => {
          if (app.child.exitCode !== null) throw new Error(`harness app exited with ${app.child.exitCode}; see ${app.stderrFile}`);
          return fetch(`http://127.0.0.1:${port}/`).then(
            () => true,
            () => false,
          );
        },
        60_000,
        200,
      );
      bench.github.setWebhook({ url: `http://127.0.0.1:${port}/api/github/webhooks`, secret });
    }
    for (let slot = 1; slot <= options.workers; slot += 1) startWorker(slot);

    // Transient GitHub faults on a fraction of REST requests (seeded). Rate-limit
    // answers carry `retry-after: 1`: without it Octokit's throttling waits 60 s.
    if (options.faultRate > 0)
      injector = bench.github.setFaults({
        rate: options.faultRate,
        kinds: options.faultKinds,
        seed: options.seed,
        retryAfterSeconds: 1,
        ...(options.gitFaults ? { git: true, match: (r: FaultRequest) => r.kind === "rest" || isGitPush(r) } : {}),
      });

    // RSS of every harness process; the bench's own request records trimmed (nothing reads them here).
    const sample = async (): Promise<void> => {
      const now = Date.now();
      for (const p of procs) {
        if (p.series.endedAt !== null) continue;
        const mb = await rssMB(p.spawned.pid);
        if (mb !== null) p.series.samples.push({ t: now, mb: Math.round(mb * 10) / 10 });
      }
      bench.model.requests.splice(0);
      bench.github.requestLog.splice(0);
    };
    sampler = setInterval(() => void sample(), options.sampleSeconds * 1000);

    out(
      `soak: ${options.minutes} min of arrivals, seed ${options.seed}: ${options.workers} worker(s) × ${options.agents} agents` +
        `${options.appAgents > 0 ? ` + harness app × ${options.appAgents} agents` : ""}, ${options.rate} issues/min, ` +
        `GitHub faults on ${Math.round(options.faultRate * 1000) / 10}% of REST requests${options.gitFaults ? " and git pushes" : ""} (${options.faultKinds.join(", ")}), ` +
        `model errors on ${Math.round(options.modelErrorRate * 100)}% of issues, ` +
        `${options.killEverySeconds > 0 ? `a worker SIGKILLed about every ${options.killEverySeconds} s` : "no kills"}; state in ${bench.root}`,
    );

    const durationMs = options.minutes * 60_000;
    const stopAt = started + durationMs;
    const progress = (): string => {
      const counts = { done: 0, failed: 0, other: 0 };
      for (const a of arrivals) {
        const t = terminalLabel(bench.github.getIssue(OWNER, REPO, a.issue).labelNames);
        counts[t ?? "other"] += 1;
      }
      const faults = injector?.injected.length ?? 0;
      return `[${Math.round((Date.now() - started) / 1000)}s] created ${arrivals.length}, done ${counts.done}, failed ${counts.failed}, in flight ${counts.other}, GitHub faults ${faults}, kills ${kills}`;
    };

    const arrive = async (): Promise<void> => {
      let next = Date.now() + 1000;
      while (next < stopAt) {
        await sleep(Math.max(0, next - Date.now()));
        const kind = arrivalsRandom() < options.modelErrorRate ? "model-error" : "bench";
        const n = arrivals.length + 1;
        const body = kind === "bench" ? `${BENCH_MARKER} Write work.txt for soak task ${n}.` : `${MODEL_ERROR_MARKER} Soak task ${n}: the model API will fail.`;
        const issue = await bench.github.createIssue(OWNER, REPO, { title: `Soak task ${n}`, body });
        arrivals.push({ issue: issue.number, kind, at: Date.now() });
        // Labeling delivers `issues.labeled` to the app (when it runs); the workers find it on their next queue pass.
        const status = await bench.github.addLabel(OWNER, REPO, issue.number, "harness:queued");
        // A delivery the app answers with an error is not retried (GitHub does not either): the reconciler or a worker picks the issue up.
        if (status !== null && status !== 200) webhookFailures += 1;
        next += (60_000 / options.rate) * (0.5 + arrivalsRandom());
      }
    };
    const kill = async (): Promise<void> => {
      if (options.killEverySeconds <= 0 || options.workers === 0) return;
      // Any worker may be the victim: its slot gets a fresh worker at once.
      const victims = Array.from({ length: options.workers }, (_, i) => i + 1);
      for (;;) {
        const wait = options.killEverySeconds * 1000 * (0.5 + killRandom());
        if (Date.now() + wait >= stopAt) return;
        await sleep(wait);
        // Only a worker that holds a lease is killed: killing an idle one proves nothing about reclaiming.
        // None holds one now: look again shortly, until one does or arrivals end.
        let victim: Proc | undefined;
        let held: { issue: string; epoch: number }[] = [];
        while (victim === undefined && Date.now() < stopAt) {
          const holders: { proc: Proc; held: { issue: string; epoch: number }[] }[] = [];
          for (const slot of victims) {
            const proc = current(slot);
            if (proc?.eventsFile == null) continue;
            const leases = await leasesHeld(proc.eventsFile);
            if (leases.length > 0) holders.push({ proc, held: leases });
          }
          const pick = holders[Math.floor(killRandom() * holders.length)];
          if (pick === undefined) await sleep(250);
          else ({ proc: victim, held } = pick);
        }
        if (victim === undefined) return;
        const slot = victim.slot;
        heldAtKill.push(...held);
        victim.expectedExit = true;
        victim.series.killed = true;
        victim.spawned.child.kill("SIGKILL");
        await victim.spawned.exited;
        kills += 1;
        // A fresh worker on the same host (state dir): it kills the dead one's CLI sessions and prunes its worktrees.
        startWorker(slot);
      }
    };
    const report = async (): Promise<void> => {
      while (Date.now() < stopAt) {
        await sleep(Math.min(30_000, Math.max(0, stopAt - Date.now())));
        out(progress());
      }
    };
    await Promise.all([arrive(), kill(), report()]);
    arrivalsEnd = Date.now();

    // Drain: every issue done or failed, and its lease no longer claimed.
    out(`arrivals stopped after ${arrivals.length} issues; draining (at most ${options.drainMinutes} min)`);
    const settled = (a: Arrival): boolean => terminalLabel(bench.github.getIssue(OWNER, REPO, a.issue).labelNames) !== null;
    try {
      await waitFor(
        "the queue to drain",
        () => arrivals.every(settled) && arrivals.every((a) => leaseHistory(bench, OWNER, REPO, a.issue).at(-1)?.state !== "claimed"),
        options.drainMinutes * 60_000,
        1000,
      );
    } catch (error) {
      problems.push((error as Error).message);
    }
    out(progress());

    // One pass of the reclaimer as a person would run it: nothing should be left to take back.
    bench.github.setFaults(null);
    const reclaim = spawnWorker(bench, { command: "reclaim", stateDir: path.join(bench.root, "reclaim-state"), args: ["--repo", repoName] });
    // "close", not "exit": its stdout is read to the end.
    await new Promise((resolve) => reclaim.child.once("close", resolve));
    const reclaimExit = await reclaim.exited;
    if (reclaimExit.code !== 0) problems.push(`harness reclaim exited with ${reclaimExit.code ?? reclaimExit.signal}: ${reclaim.stdout.join(" | ")}`);
    const takenBack = reclaim.stdout.filter((l) => /\t(requeued|failed)\t/.test(l));
    if (takenBack.length > 0) problems.push(`harness reclaim took back leases after the drain: ${takenBack.join(" | ")}`);

    // The real app's operator routes answer a loopback client: the status page, metrics the app's agents fed, health.
    if (appUrl !== null) problems.push(...(await checkOperatorRoutes(appUrl)));
  } finally {
    finishing = true;
    if (sampler !== null) clearInterval(sampler);
    for (const p of procs) {
      if (p.series.endedAt !== null) continue;
      p.expectedExit = true;
      await stopWorker(p.spawned, processProblems, p.name);
    }
  }

  // The invariants, issue by issue.
  const pulls = await bench.github.listPulls(OWNER, REPO);
  const facts = nothingWrong(arrivals.length);
  let done = 0;
  let failed = 0;
  let reclaimed = 0;
  for (const a of arrivals) {
    const check = checkIssue(bench, OWNER, REPO, a.issue, pulls);
    reclaimed += check.history.filter((e) => e.state === "reclaimed").length;
    problems.push(...check.problems);
    facts.lostCommits += check.lostCommits;
    facts.duplicatePRs += check.duplicatePRs;
    facts.duplicateComments += check.duplicateComments;
    if (check.labelMismatch) facts.labelMismatches += 1;
    for (const overlap of overlappingClaims(check.history)) {
      facts.overlappingClaims += 1;
      problems.push(`#${a.issue}: ${overlap}`);
    }
    const end = terminalLabel(check.labels);
    const head = check.history.at(-1);
    if (end === null || head === undefined || head.state === "claimed") {
      facts.lost += 1;
      problems.push(`#${a.issue} (${a.kind}) did not finish: labels ${check.labels.join(",") || "none"}, lease ${head?.state ?? "none"}`);
      continue;
    }
    if (end === "done") done += 1;
    else failed += 1;
    const expected = a.kind === "bench" ? "done" : "failed";
    if (end !== expected) {
      facts.unexpectedOutcomes += 1;
      const errors = bench.github
        .listComments(OWNER, REPO, a.issue)
        .flatMap((c) => /\*\*(EHARNESS_[A-Z_]+)\*\*: ([^\n]{0,160})/.exec(c.body)?.slice(1, 3) ?? []);
      problems.push(
        `#${a.issue} (${a.kind}) ended ${end}, expected ${expected} (lease ${head.state}, ${head.outcome ?? "no outcome"}, attempt ${head.attempt}, ` +
          `owner ${head.owner.agent})${errors.length > 0 ? `: ${errors.join(" ")}` : ""}`,
      );
    } else if (end === "done" && check.openPulls !== 1) {
      facts.unexpectedOutcomes += 1;
      problems.push(`#${a.issue}: done with ${check.openPulls} open PRs`);
    }
  }
  for (const p of procs) {
    const pids = p.name === "app" ? await agentProcessesUnder(appState) : await markedProcesses(`w${p.spawned.pid}-`);
    if (pids.length > 0) problems.push(`${p.name}: ${pids.length} agent processes survived (${pids.join(", ")})`);
    facts.orphans += pids.length;
  }
  for (const dir of [workerState, appState]) {
    const left = await fs.readdir(path.join(dir, "worktrees")).catch(() => [] as string[]);
    if (left.length > 0) problems.push(`worktrees left in ${dir}: ${left.join(", ")}`);
    facts.leftoverWorktrees += left.length;
  }
  facts.processProblems = processProblems.length;
  problems.push(...processProblems);
  for (const s of allSeries) {
    s.heap = await heapSamples(heapDir, s.pid);
    // A probe that never wrote would leave memory unjudged without anybody noticing.
    if (s.heap.length === 0 && s.samples.length >= options.heap.minSamples) problems.push(`${s.name} (pid ${s.pid}): the heap probe wrote nothing`);
  }
  const memory = judgeMemory(allSeries, options.memory, arrivalsEnd);
  const heap = judgeMemory(
    allSeries.map((s) => ({ ...s, samples: s.heap })),
    options.heap,
    arrivalsEnd,
  );
  facts.memoryFlat = heap.flat;
  const unmet: string[] = [];
  if (options.killEverySeconds > 0 && options.workers > 0 && kills === 0) unmet.push("no worker holding a lease was killed");
  // Every kill was of a lease holder, so a kill that led to no reclaim means the reclaimer did not do its work.
  if (kills > 0 && reclaimed === 0) unmet.push(`${kills} lease holder(s) killed and no lease reclaimed`);
  const notReclaimed = heldAtKill.filter(({ issue, epoch }) => {
    const number = Number(issue.split("#")[1]);
    return !checkIssue(bench, OWNER, REPO, number, pulls).history.some((e) => e.epoch === epoch && e.state !== "claimed");
  });
  if (notReclaimed.length > 0) unmet.push(`leases of killed workers never freed: ${notReclaimed.map((h) => `${h.issue} epoch ${h.epoch}`).join(", ")}`);
  if (options.faultRate > 0 && (injector?.injected.length ?? 0) === 0) unmet.push("no GitHub fault was injected");
  const gitPushFaults = injector?.injected.filter((f) => f.path.endsWith("/git-receive-pack")).length ?? 0;
  if (options.faultRate > 0 && options.gitFaults && gitPushFaults === 0) unmet.push("no git push fault was injected");
  if (unmet.length > 0) facts.unmet = unmet;
  const verdict = soakVerdict(facts);
  const injected = injector?.counts() ?? null;
  const faults: Record<string, number> = {};
  for (const [k, v] of Object.entries(injected ?? {})) if (v > 0) faults[k] = v;
  const githubFaults = Object.values(faults).reduce((a, b) => a + b, 0);
  if (options.rssFile !== undefined) await fs.writeFile(options.rssFile, `${JSON.stringify({ arrivalsEnd, rule: options.memory, series: allSeries })}\n`);
  // A failed soak keeps the logs of every harness process for a person to read.
  let logs: string | null = null;
  if (!verdict.pass && options.keep !== true) {
    logs = await fs.mkdtemp(path.join(os.tmpdir(), "harness-soak-logs-"));
    for (const name of await fs.readdir(bench.root)) if (name.endsWith(".log")) await fs.copyFile(path.join(bench.root, name), path.join(logs, name));
  }

  const slopes: Record<string, number | null> = {};
  for (const s of memory.series) slopes[s.name] = s.slopeMBPerMin;
  const heapSlopes: Record<string, number | null> = {};
  for (const s of heap.series) heapSlopes[s.name] = s.slopeMBPerMin;
  const modelErrorIssues = arrivals.filter((a) => a.kind === "model-error").length;
  const json = {
    soak: verdict.pass ? "pass" : "fail",
    minutes: options.minutes,
    seed: options.seed,
    workers: options.workers,
    agents: options.agents,
    appAgents: options.appAgents,
    issues: arrivals.length,
    done,
    failed,
    lost: facts.lost,
    duplicated: facts.duplicatePRs + facts.duplicateComments + facts.overlappingClaims,
    unexpectedOutcomes: facts.unexpectedOutcomes,
    lostCommits: facts.lostCommits,
    overlappingClaims: facts.overlappingClaims,
    duplicatePRs: facts.duplicatePRs,
    duplicateComments: facts.duplicateComments,
    labelMismatches: facts.labelMismatches,
    orphans: facts.orphans,
    leftoverWorktrees: facts.leftoverWorktrees,
    processProblems: facts.processProblems,
    githubFaults,
    webhookFailures,
    modelErrorIssues,
    kills,
    reclaimed,
    heapSlopeMBPerMin: heapSlopes,
    rssSlopeMBPerMin: slopes,
    thresholdMBPerMin: options.heap.thresholdMBPerMin,
    warmupSeconds: Math.round(options.heap.warmupMs / 1000),
    flat: heap.flat,
  };
  return {
    pass: verdict.pass,
    failures: verdict.failures,
    facts,
    created: arrivals.length,
    done,
    failed,
    expectedFailed: modelErrorIssues,
    faults,
    githubFaults,
    webhookFailures,
    modelErrorIssues,
    kills,
    reclaimed,
    memory,
    heap,
    problems,
    logs: options.keep === true ? bench.root : logs,
    seconds: Math.round((Date.now() - started) / 1000),
    json,
  };
}

/** The report as a table (the JSON line is printed after it by the caller). */
export function formatReport(report: SoakReport, rule: MemoryRule, heapRule: MemoryRule): string[] {
  const lines: string[] = [];
  const f = report.facts;
  lines.push("");
  lines.push(
    `issues      created ${report.created}  done ${report.done}  failed ${report.failed} (${report.expectedFailed} with a model API error)  lost ${f.lost}  unexpected ${f.unexpectedOutcomes}`,
  );
  lines.push(
    `faults      GitHub ${report.githubFaults}${
      report.githubFaults > 0
        ? ` (${Object.entries(report.faults)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")})`
        : ""
    }  model errors ${report.modelErrorIssues}  workers SIGKILLed ${report.kills} (leases reclaimed ${report.reclaimed})  webhooks answered with an error ${report.webhookFailures}`,
  );
  lines.push(
    `invariants  lost commits ${f.lostCommits}  overlapping claims ${f.overlappingClaims}  duplicate PRs ${f.duplicatePRs}  duplicate comments ${f.duplicateComments}  ` +
      `label mismatches ${f.labelMismatches}  orphans ${f.orphans}  leftover worktrees ${f.leftoverWorktrees}  process problems ${f.processProblems}`,
  );
  lines.push(
    `memory      per process, slopes fitted after a ${Math.round(heapRule.warmupMs / 1000)} s warm-up until the arrivals stop. Judged: the live heap after a full ` +
      `collection, flat below ${heapRule.thresholdMBPerMin} MB/min over ${Math.round(heapRule.minWindowMs / 1000)} s or more. ` +
      `Reported: RSS (it saws with the collector; its slope means something over ${Math.round(rule.minWindowMs / 1000)} s or more)`,
  );
  const header = [
    "process",
    "pid",
    "heap start MB",
    "heap end MB",
    "heap slope MB/min",
    "RSS start MB",
    "RSS end MB",
    "RSS max MB",
    "RSS slope MB/min",
    "fitted s",
    "verdict",
  ];
  const two = (n: number | null): string => (n === null ? "-" : n.toFixed(2));
  const rows = report.heap.series.map((h, i) => {
    const r = report.memory.series[i];
    return [
      h.name,
      String(h.pid),
      two(h.startMB),
      two(h.endMB),
      two(h.slopeMBPerMin),
      r?.startMB?.toFixed(1) ?? "-",
      r?.endMB?.toFixed(1) ?? "-",
      r?.maxMB?.toFixed(1) ?? "-",
      two(r?.slopeMBPerMin ?? null),
      String(h.windowS),
      `${h.flat === null ? `not judged (under ${Math.round(heapRule.minWindowMs / 1000)} s)` : h.flat ? "flat" : "GROWING"}${h.killed ? ", killed" : ""}`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ")}`.trimEnd();
  lines.push(line(header));
  for (const r of rows) lines.push(line(r));
  if (report.problems.length > 0) {
    lines.push("problems:");
    for (const p of report.problems.slice(0, 50)) lines.push(`  - ${p}`);
    if (report.problems.length > 50) lines.push(`  … and ${report.problems.length - 50} more`);
  }
  if (report.logs !== null) lines.push(`logs        ${report.logs}`);
  lines.push(`verdict     ${report.pass ? "PASS" : `FAIL: ${report.failures.join("; ")}`} (${report.seconds} s)`);
  return lines;
}
