/**
 * The chaos trial: `harness worker` child processes against the fake GitHub and
 * the scripted model (real CLI), one of them SIGKILLed at a chosen point of its
 * work on an issue (found by watching what the fake and the model see), then
 * the reclaimer and a fresh worker on the same host finish the work. Each trial
 * checks the invariants that must survive any crash.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { loadScenario } from "../../src/offline/model-server.js";
import {
  createRepo,
  isAncestor,
  leaseHistory,
  markedProcesses,
  pushedHeads,
  ROOT,
  spawnWorker,
  startBench,
  waitFor,
  type Bench,
  type LeaseEntry,
  type SpawnedWorker,
} from "./worker-kit.js";
import type { PullView } from "../../src/offline/fake-github/index.js";
import { isGitPush } from "../../src/offline/fake-github/faults.js";
import { seeded } from "../support/seeded-random.js";
export { seeded } from "../support/seeded-random.js";

export const KILL_POINTS = ["claim", "mid-session", "commit-before-push", "push-before-pr", "release"] as const;
export type KillPoint = (typeof KILL_POINTS)[number];

/**
 * Where the victim's work on issue 1 stood at the kill, from its own lifecycle events
 * (HARNESS_EVENTS_FILE): nothing yet or only its claim, inside the session, between the
 * session's end and the publication, published (releasing).
 */
export type KillPhase = "claim" | "session" | "publishing" | "published";
/** The phase each kill point must land in. */
const POINT_PHASE: Record<KillPoint, KillPhase> = {
  claim: "claim",
  "mid-session": "session",
  "commit-before-push": "publishing",
  "push-before-pr": "publishing",
  release: "published",
};

/** The phase the last of the victim's lifecycle events for `issue` says its work was in. */
export function phaseOf(events: Array<{ type: string; issue?: string }>, issue: string): KillPhase {
  let phase: KillPhase = "claim";
  for (const e of events) {
    if (e.issue !== issue) continue;
    if (e.type === "worktree_ready" || e.type === "session_started" || e.type === "progress") phase = "session";
    else if (e.type === "session_ended") phase = "publishing";
    else if (e.type === "published" || e.type === "released" || e.type === "issue_done") phase = "published";
  }
  return phase;
}

async function readEvents(file: string): Promise<Array<{ type: string; issue?: string }>> {
  const text = await fs.readFile(file, "utf8").catch(() => "");
  const events: Array<{ type: string; issue?: string }> = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      events.push(JSON.parse(line) as { type: string; issue?: string });
    } catch {
      // The last line may be cut by the SIGKILL.
    }
  }
  return events;
}

export interface TrialResult {
  trial: number;
  point: KillPoint;
  /** The kill point was seen and the victim killed there (false: it finished first). */
  killed: boolean;
  /** The phase the victim's lifecycle events say it was in at the kill (null: not killed). */
  phaseAtKill: KillPhase | null;
  recovered: boolean;
  lostCommits: number;
  duplicatePRs: number;
  duplicateComments: number;
  orphans: number;
  leftoverWorktrees: number;
  labelMismatches: number;
  /** Branch updates the fake recorded (every push of every issue's branch). */
  pushes: number;
  problems: string[];
  seconds: number;
}

export interface ChaosSummary {
  trials: number;
  recovered: number;
  lostCommits: number;
  duplicatePRs: number;
  duplicateComments: number;
  orphans: number;
  leftoverWorktrees: number;
  labelMismatches: number;
  seed: number;
  /** The kill points a trial actually hit (killed there, and the victim's lifecycle events agree). */
  pointsHit: KillPoint[];
  /** Configured kill points no trial hit: the run fails. */
  pointsMissed: KillPoint[];
  /** Faults injected on git pushes. */
  gitPushFaults: number;
}

const OWNER = "chaos-org";
const ISSUES = [1, 2];
/** 15 s leases renewed every 5 s (a beat every 1 s); the reclaimer takes one back 3 s after it runs out, with a backoff under a second. */
const CONFIG = "lease:\n  termMinutes: 0.25\nheartbeatSeconds: 1\nreclaim:\n  graceMinutes: 0.05\n  backoffMinutes: 0.01\n  backoffMaxMinutes: 0.05\n";
const WORKER_ENV = { HARNESS_POLL_SECONDS: "0.5" };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function readLooseRef(file: string): Promise<string | null> {
  return fs.readFile(file, "utf8").then(
    (s) => s.trim(),
    () => null,
  );
}

/** Waits for the observable event that marks `point` in the victim's work on issue 1. */
async function reachPoint(bench: Bench, repo: string, stateDir: string, point: KillPoint, victim: SpawnedWorker, eventsFile: string): Promise<void> {
  const gone = (): boolean => victim.child.exitCode !== null || victim.child.signalCode !== null;
  const until = async (what: string, check: () => boolean | Promise<boolean>): Promise<void> =>
    waitFor(
      what,
      async () => {
        if (gone()) throw new Error(`the victim exited before ${what}`);
        return check();
      },
      120_000,
      20,
    );
  const issueOne = `--${repo}--issue-1`;
  switch (point) {
    case "claim":
      // The lease ref is there: labels, assignee and tracking comment are next.
      return until("the lease claim", async () => (await bench.github.readRef(OWNER, repo, "refs/harness/leases/issue-1")) !== null);
    case "mid-session":
      // The model was asked for a turn after the first tool call: the CLI (and its Bash tool) run.
      return until("a turn mid-session", () => bench.model.requests.some((r) => r.kind === "turn" && (r.turn ?? 0) >= 1 && (r.cwd ?? "").includes(issueOne)));
    case "commit-before-push": {
      // The publisher commits the session's work on the clone's branch first, then saves the session and pushes the
      // branch side by side. The agent commits in a git dir of its own, so the clone's branch stays where the session
      // started until that commit: read it at the session's start, then wait for the session's end and a moved branch.
      const issue = `${OWNER}/${repo}#1`;
      const ref = path.join(stateDir, "repos", OWNER, `${repo}.git`, "refs", "heads", "harness", "issue-1");
      await until("the session start", async () => (await readEvents(eventsFile)).some((e) => e.issue === issue && e.type === "session_started"));
      const before = await readLooseRef(ref);
      return until(
        "the commit after the session",
        async () => phaseOf(await readEvents(eventsFile), issue) === "publishing" && (await readLooseRef(ref)) !== before,
      );
    }
    case "push-before-pr":
      return until("the push", async () => (await bench.github.readRef(OWNER, repo, "refs/heads/harness/issue-1")) !== null);
    case "release":
      // Published (the victim's own event): the lease release follows.
      return until("the publication", async () => phaseOf(await readEvents(eventsFile), `${OWNER}/${repo}#1`) === "published");
  }
}

function labelsAgree(labels: string[], lease: { state: string; outcome?: string | null; notBefore?: string | null } | undefined): boolean {
  const harness = labels.filter((l) => l.startsWith("harness:")).sort();
  if (lease === undefined) return harness.length === 0 || (harness.length === 1 && harness[0] === "harness:queued");
  switch (lease.state) {
    case "released":
      // A release with a backoff is an automatic retry of a transient failure (src/core/retry-policy.ts): queued again.
      if (lease.outcome !== "success" && typeof lease.notBefore === "string") return harness.length === 1 && harness[0] === "harness:queued";
      return harness.length === 1 && harness[0] === (lease.outcome === "success" ? "harness:done" : "harness:failed");
    case "claimed":
      return harness.length === 1 && (harness[0] === "harness:claimed" || harness[0] === "harness:running");
    case "reclaimed":
      return harness.length === 1 && (harness[0] === "harness:queued" || harness[0] === "harness:failed");
    case "interrupted":
      return harness.length === 1 && (harness[0] === "harness:interrupted" || harness[0] === "harness:queued");
    default:
      return false;
  }
}

/** What one issue's end state says about the invariants that must survive any crash. */
export interface IssueCheck {
  /** Open pull requests from the issue's branch. */
  openPulls: number;
  /** Pull requests from the branch beyond the first, open or closed. */
  duplicatePRs: number;
  /** Pushed commits that are not in the branch's final head. */
  lostCommits: number;
  /** Comments beyond the first for the same attempt, and summaries beyond the first of a session (an interruption's aside). */
  duplicateComments: number;
  labelMismatch: boolean;
  /** Branch updates the fake recorded for the issue. */
  pushes: number;
  /** The lease ref's history, oldest first. */
  history: LeaseEntry[];
  labels: string[];
  problems: string[];
}

/** The chaos invariants for issue `n`: lost commits, duplicate PRs and comments, labels against the lease. */
export function checkIssue(bench: Bench, owner: string, repo: string, n: number, pulls: PullView[]): IssueCheck {
  const problems: string[] = [];
  const branch = `harness/issue-${n}`;
  const mine = pulls.filter((p) => p.head.ref === branch);
  const openPulls = mine.filter((p) => p.state === "open").length;
  const pushes = pushedHeads(bench, owner, repo, n);
  if (openPulls > 0 && pushes.length === 0) problems.push(`#${n}: no push recorded (is the fake's reflog on?)`);
  let lostCommits = 0;
  for (const sha of pushes) {
    if (!isAncestor(bench, owner, repo, sha, `refs/heads/${branch}`)) {
      lostCommits += 1;
      problems.push(`#${n}: pushed commit ${sha.slice(0, 10)} is not in the final branch`);
    }
  }
  // One comment per attempt (created at the claim, it ends as the summary), and one summary per session.
  let duplicateComments = 0;
  const seen = new Map<string, number>();
  const count = (key: string): void => {
    seen.set(key, (seen.get(key) ?? 0) + 1);
  };
  for (const c of bench.github.listComments(owner, repo, n)) {
    if (!/^<!-- harness:(summary|tracking)/.test(c.body)) continue;
    const attempt = /(?:· |<sub>agent `[^`]*` · )attempt (\d+)/.exec(c.body)?.[1];
    count(`the comment of attempt ${attempt ?? "?"}`);
    const session = /^<!-- harness:summary session=(\S+)/.exec(c.body)?.[1];
    if (session && !c.body.includes("✋ interrupted")) count(`the summary of session ${session}`);
  }
  for (const [what, times] of seen) {
    if (times > 1) {
      duplicateComments += times - 1;
      problems.push(`#${n}: ${times} comments for ${what}`);
    }
  }
  const history = leaseHistory(bench, owner, repo, n);
  const head = history.at(-1);
  const labels = bench.github.getIssue(owner, repo, n).labelNames;
  const labelMismatch = !labelsAgree(labels, head);
  if (labelMismatch)
    problems.push(`#${n}: labels ${labels.join(",")} disagree with the lease (${head?.state ?? "none"}${head?.outcome ? `, ${head.outcome}` : ""})`);
  return {
    openPulls,
    duplicatePRs: Math.max(0, mine.length - 1),
    lostCommits,
    duplicateComments,
    labelMismatch,
    pushes: pushes.length,
    history,
    labels,
    problems,
  };
}

/** SIGTERM, then up to 45 s for a clean exit (code 0); anything else is a problem. */
export async function stopWorker(worker: SpawnedWorker, problems: string[], name: string): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.child.kill("SIGTERM");
  const exited = await Promise.race([worker.exited, sleep(45_000).then(() => null)]);
  if (exited === null) {
    problems.push(`${name} did not stop within 45 s of SIGTERM`);
    worker.child.kill("SIGKILL");
    await worker.exited;
  } else if (exited.code !== 0) {
    problems.push(`${name} exited with ${exited.code ?? exited.signal}`);
  }
}

/** One trial in its own repository and state directory. */
export async function runTrial(bench: Bench, trial: number, point: KillPoint, random: () => number): Promise<TrialResult> {
  const started = Date.now();
  const repo = `trial-${trial}`;
  const stateDir = path.join(bench.root, `state-${trial}`);
  const problems: string[] = [];
  await createRepo(bench, OWNER, repo, CONFIG);
  for (const n of ISSUES)
    await bench.github.createIssue(OWNER, repo, {
      title: `Chaos task ${n}`,
      body: `[scenario:chaos] Task ${n} of trial ${trial}.`,
      labels: ["harness:queued"],
    });
  const args = ["--agents", "1", "--repo", `${OWNER}/${repo}`];
  const eventsFile = path.join(bench.root, `events-${trial}.jsonl`);
  const victim = spawnWorker(bench, { stateDir, args, env: { ...WORKER_ENV, HARNESS_EVENTS_FILE: eventsFile } });
  const victimPrefix = `w${victim.pid}-`;
  const others: SpawnedWorker[] = [];
  let killed = false;
  let phaseAtKill: KillPhase | null = null;
  try {
    // The victim alone first: it claims #1 (the oldest), then a second worker joins for #2.
    // The lease ref of #1 exists (pushed, or created through REST when pushes are refused).
    await waitFor("the victim's claim", async () => (await bench.github.readRef(OWNER, repo, "refs/harness/leases/issue-1")) !== null, 120_000, 20);
    if (point !== "claim") others.push(spawnWorker(bench, { stateDir, args, env: WORKER_ENV }));
    try {
      await reachPoint(bench, repo, stateDir, point, victim, eventsFile);
      await sleep(Math.round(random() * 150));
      victim.child.kill("SIGKILL");
      killed = true;
    } catch (error) {
      problems.push(`kill point not reached: ${(error as Error).message}`);
    }
    await victim.exited;
    if (killed) {
      phaseAtKill = phaseOf(await readEvents(eventsFile), `${OWNER}/${repo}#1`);
      if (phaseAtKill !== POINT_PHASE[point]) problems.push(`killed at ${point} but the victim's events say it was in the ${phaseAtKill} phase`);
    }
    if (point === "claim") others.push(spawnWorker(bench, { stateDir, args, env: WORKER_ENV }));
    // A fresh worker on the same host: it kills the dead worker's leftovers and prunes its worktree.
    others.push(spawnWorker(bench, { stateDir, args: ["--agents", "2", "--repo", `${OWNER}/${repo}`], env: WORKER_ENV }));
    const done = (n: number): boolean => {
      const history = leaseHistory(bench, OWNER, repo, n);
      const head = history.at(-1);
      const labels = bench.github.getIssue(OWNER, repo, n).labelNames;
      return head?.state === "released" && (labels.includes("harness:done") || labels.includes("harness:failed"));
    };
    try {
      await waitFor("every issue finished", () => ISSUES.every(done), 240_000, 500);
    } catch (error) {
      problems.push((error as Error).message);
    }
  } finally {
    if (victim.child.exitCode === null && victim.child.signalCode === null) victim.child.kill("SIGKILL");
    for (const [i, worker] of others.entries()) await stopWorker(worker, problems, `worker ${i + 2}`);
  }

  // The invariants.
  const pulls = await bench.github.listPulls(OWNER, repo);
  let lostCommits = 0;
  let duplicatePRs = 0;
  let duplicateComments = 0;
  let labelMismatches = 0;
  let recovered = true;
  let pushCount = 0;
  for (const n of ISSUES) {
    const check = checkIssue(bench, OWNER, repo, n, pulls);
    if (check.openPulls !== 1) problems.push(`#${n}: ${check.openPulls} open PRs`);
    problems.push(...check.problems);
    duplicatePRs += check.duplicatePRs;
    lostCommits += check.lostCommits;
    duplicateComments += check.duplicateComments;
    pushCount += check.pushes;
    if (check.labelMismatch) labelMismatches += 1;
    const head = check.history.at(-1);
    if (!(head?.state === "released" && head.outcome === "success" && check.openPulls === 1 && check.labels.includes("harness:done"))) recovered = false;
  }
  const orphans =
    (await markedProcesses(victimPrefix)).length + (await Promise.all(others.map((w) => markedProcesses(`w${w.pid}-`)))).reduce((n, p) => n + p.length, 0);
  if (orphans > 0) problems.push(`${orphans} agent processes survived`);
  const worktrees = await fs.readdir(path.join(stateDir, "worktrees")).catch(() => []);
  if (worktrees.length > 0) problems.push(`worktrees left: ${worktrees.join(", ")}`);
  if (problems.length > 0) recovered = false;
  return {
    trial,
    point,
    killed,
    phaseAtKill,
    recovered,
    lostCommits,
    duplicatePRs,
    duplicateComments,
    orphans,
    leftoverWorktrees: worktrees.length,
    labelMismatches,
    pushes: pushCount,
    problems,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}

/** Runs `trials` trials, cycling through the kill points from a seeded start; prints one line per trial. */
export async function runChaos(options: {
  trials: number;
  seed: number;
  out: (line: string) => void;
  keep?: boolean;
  points?: KillPoint[];
  /** Fraction of git pushes (claims, renewals, session saves, branches, releases) answered with a fault: a 5xx, a reset mid-pack, a lost answer after applying. Default 0.1. */
  gitFaultRate?: number;
}): Promise<{ summary: ChaosSummary; results: TrialResult[] }> {
  const random = seeded(options.seed);
  const bench = await startBench([await loadScenario(path.join(ROOT, "test/fixtures/scenarios/chaos.yaml"))], { keep: options.keep === true });
  const results: TrialResult[] = [];
  const gitFaults = bench.github.setFaults({
    rate: options.gitFaultRate ?? 0.1,
    kinds: ["5xx", "reset", "lost-response"],
    seed: options.seed,
    git: true,
    match: isGitPush,
  });
  const points = options.points ?? KILL_POINTS;
  const offset = Math.floor(random() * KILL_POINTS.length);
  try {
    for (let trial = 1; trial <= options.trials; trial += 1) {
      const point = points[(offset + trial - 1) % points.length] as KillPoint;
      const result = await runTrial(bench, trial, point, random);
      results.push(result);
      options.out(
        `trial ${trial}\t${point}\t${result.killed ? `killed (${result.phaseAtKill ?? "?"} phase)` : "not killed"}\t${result.recovered ? "recovered" : "NOT RECOVERED"}\t${result.pushes} pushes\t${result.seconds}s${result.problems.length > 0 ? `\t${result.problems.join("; ")}` : ""}`,
      );
    }
  } finally {
    await bench.close();
  }
  // A point is hit when a trial killed there and the victim's events agree on the phase.
  const pointsHit = points.filter((p) => results.some((r) => r.point === p && r.killed && r.phaseAtKill === POINT_PHASE[p]));
  const sum = (key: "lostCommits" | "duplicatePRs" | "duplicateComments" | "orphans" | "leftoverWorktrees" | "labelMismatches"): number =>
    results.reduce((n, r) => n + r[key], 0);
  return {
    results,
    summary: {
      trials: results.length,
      recovered: results.filter((r) => r.recovered).length,
      lostCommits: sum("lostCommits"),
      duplicatePRs: sum("duplicatePRs"),
      duplicateComments: sum("duplicateComments"),
      orphans: sum("orphans"),
      leftoverWorktrees: sum("leftoverWorktrees"),
      labelMismatches: sum("labelMismatches"),
      seed: options.seed,
      pointsHit,
      gitPushFaults: gitFaults?.injected.length ?? 0,
      pointsMissed: points.filter((p) => !pointsHit.includes(p)),
    },
  };
}
