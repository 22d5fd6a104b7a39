import { tokenOctokit } from "../adapters/octokit.js";
import type { HarnessConfig } from "../core/config.js";
import { EtagCache } from "../core/etag-cache.js";
import { toHarnessError } from "../core/errors.js";
import { GitHubClient, type GitHubApi } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import { loadConfig } from "../runtime/load-config.js";
import { describeWait } from "../core/queue.js";
import { readQueue, readRepositoryQueue } from "../runtime/read-queue.js";
import type { Claim, ClaimDeps, ClaimOutcome } from "../runtime/claim-issue.js";
import { HostRuntime } from "../runtime/host-runtime.js";
import { StateDir } from "../runtime/state-dir.js";
import { pruneSessions } from "../runtime/prune-sessions.js";
import { maintainClones } from "../runtime/maintain-clone.js";
import type { WorkDeps, WorkResult } from "../runtime/work-issue.js";
import { runClaude } from "../adapters/claude/run-claude.js";
import type { Sandbox } from "../adapters/sandbox/sandbox.js";
import { checkHost } from "../runtime/host-checks.js";
import type { ActionCore } from "./action-core.js";
import { createActionLogger } from "./action-logger.js";
import { jobSummaryErrors, jobSummaryRows, type IssueRun } from "./job-summary.js";
import { reclaimMode } from "./reclaim-mode.js";

/** The outputs of action/action.yml, in its order; every mode sets all of them (empty where they do not apply). */
export const OUTPUT_NAMES = ["outcome", "pr-number", "cost-usd", "session-id", "reclaimed"] as const;
export type ActionOutputs = Record<(typeof OUTPUT_NAMES)[number], string>;

/** Everything the Action runs with, read and validated by the runner. */
export interface ActionSettings {
  /** issue and worker run sessions; reclaim only takes back stalled leases (no CLI, no model). */
  mode: "issue" | "worker" | "reclaim";
  /** Mode issue: the issue to work. */
  issue: number | null;
  githubToken: string;
  /** REST root (GITHUB_API_URL). */
  apiUrl: string;
  repository: { owner: string; repo: string };
  /** The Claude Code CLI; null in mode reclaim, which runs no session. */
  claudePath: string | null;
  /** The only variables the CLI receives besides PATH, HOME, LANG, TMPDIR. */
  modelEnv: Record<string, string>;
  /** The agent's sandbox (HARNESS_SANDBOX; `none` only with HARNESS_UNSAFE_NO_SANDBOX=1), and the forwarder script it runs. */
  sandbox: Sandbox;
  forwarderPath: string;
  stateDir: string;
  maxIssues: number;
  agentId: string;
  host: string;
  runId: string;
  promptsDir: string;
  permissionMode: string;
  progressIntervalMs: number;
  /** Session directories in the state directory older than this are removed when the run starts (HARNESS_SESSION_RETENTION_DAYS). */
  sessionRetentionMs: number;
  /** HARNESS_SESSION_KEY: seals saved sessions and opens sealed ones. */
  sessionKey?: Buffer;
  /** Input `events-file` or HARNESS_EVENTS_FILE: every lifecycle event appended as a JSON line. */
  eventsFile?: string;
  /** HARNESS_DAILY_USD: the installation's dollars per UTC day (src/core/daily-budget.ts); absent: no cap. */
  dailyUsd?: number;
}

export interface MainDeps {
  core: ActionCore;
  now: () => Date;
  log?: Logger;
  /** The authenticated Octokit; by default Probot's (retries, throttling) with the token. */
  createApi?: (token: string, baseUrl: string) => GitHubApi;
  claim?: (deps: ClaimDeps, issue: number) => Promise<ClaimOutcome>;
  work?: (deps: WorkDeps, claim: Claim) => Promise<WorkResult>;
  /**
   * Aborted when the job is cancelled (the runner sends SIGINT, then SIGTERM
   * 7.5 s later): the running session is stopped, its process group killed, what
   * it did is published as an interrupted session, and no further issue is claimed.
   */
  cancel?: AbortSignal;
}

/** Short grace periods: a cancelled job has about ten seconds before the runner kills everything. */
const KILL_GRACE_MS = { interrupt: 2_000, terminate: 2_000 };

function defaultApi(token: string, baseUrl: string): GitHubApi {
  return tokenOctokit(token, baseUrl);
}

/** The outputs of a run: one issue's, or in mode worker the aggregate of all. */
export function actionOutputs(runs: readonly IssueRun[], mode: "issue" | "worker"): ActionOutputs {
  const worked = runs.flatMap((r) => (r.claimed ? [r.result] : []));
  let outcome: string;
  if (worked.length === 0) outcome = mode === "worker" ? "none" : "not_claimed";
  else outcome = worked.find((r) => r.outcome !== "success")?.outcome ?? "success";
  const cost = worked.reduce((sum, r) => sum + (r.report?.costUsd ?? 0), 0);
  return {
    outcome,
    "pr-number": worked.flatMap((r) => (r.pullRequest === null ? [] : [String(r.pullRequest)])).join(" "),
    "cost-usd": worked.length === 0 ? "" : String(Number(cost.toFixed(6))),
    "session-id": worked.flatMap((r) => (r.report?.sessionId ? [r.report.sessionId] : [])).join(" "),
    reclaimed: "",
  };
}

/**
 * The Action's logic. Mode issue: claim the issue and work it; an issue that
 * cannot be claimed (held elsewhere, not queued, closed) ends with a notice,
 * not a failure. Mode worker: claim the next claimable issue of the queue,
 * work it, and repeat until none is claimable or `maxIssues` were worked.
 * Mode reclaim: one pass of the stall reclaimer (see reclaim-mode.ts).
 * Outputs, the job summary and the step's status come from what happened.
 */
export async function main(deps: MainDeps, settings: ActionSettings): Promise<void> {
  if (settings.mode === "reclaim") return reclaimMode(deps, settings);
  const mode = settings.mode;
  const { core, now } = deps;
  const log = deps.log ?? createActionLogger(core);
  const fullName = `${settings.repository.owner}/${settings.repository.repo}`;
  const runs: IssueRun[] = [];
  try {
    const cliPath = settings.claudePath;
    if (cliPath === null) throw new Error(`mode ${mode} without the Claude Code CLI (the runner checks this)`);
    const github = new GitHubClient((deps.createApi ?? defaultApi)(settings.githubToken, settings.apiUrl), settings.repository);
    const config = await loadConfig(github);
    const state = new StateDir(settings.stateDir);
    await checkHost({ state, sandbox: settings.sandbox, log });
    // A self-hosted runner keeps its state directory between jobs: old sessions and the clone's leftovers go.
    await pruneSessions(state, { retentionMs: settings.sessionRetentionMs, now: now().getTime(), log }).catch((error: unknown) =>
      log.warn({ err: error }, "could not remove old session directories"),
    );
    await maintainClones(state, (error) => log.warn({ err: error }, "clone upkeep failed"));
    const runtime = new HostRuntime({
      state,
      host: settings.host,
      runId: settings.runId,
      claude: {
        cliPath,
        modelEnv: settings.modelEnv,
        permissionMode: settings.permissionMode,
        sandbox: settings.sandbox,
        forwarderPath: settings.forwarderPath,
        ...(settings.sessionKey ? { sessionKey: settings.sessionKey } : {}),
      },
      promptsDir: settings.promptsDir,
      log,
      now,
      progressIntervalMs: settings.progressIntervalMs,
      ...(settings.dailyUsd !== undefined ? { dailyUsd: settings.dailyUsd } : {}),
      // A cancelled job is a person's /interrupt: the work is pushed as WIP and the session
      // saved inside the runner's grace, the issue labeled interrupted (not queued again).
      requeueOnShutdown: false,
      ...(settings.eventsFile ? { eventsFile: settings.eventsFile } : {}),
      runSession: (options) => runClaude({ ...options, killGraceMs: KILL_GRACE_MS }),
      ...(deps.claim ? { claim: deps.claim } : {}),
      ...(deps.work ? { work: deps.work } : {}),
    });
    runtime.events.subscribe((event) => core.info(`Claimed ${event.issue}; working it.`), ["claimed"]);
    if (deps.cancel?.aborted) void runtime.shutdown(0);
    else deps.cancel?.addEventListener("abort", () => void runtime.shutdown(0), { once: true });
    const attempt = async (issue: number): Promise<IssueRun> => {
      if (deps.cancel?.aborted) return { issue, claimed: false, reason: "the job was cancelled" };
      const run = await runtime.runIssue({ github, config }, issue, settings.agentId, log);
      if (!run.claimed) return { issue, claimed: false, reason: run.reason };
      return { issue, claimed: true, result: run.result };
    };

    if (mode === "issue") {
      const issue = settings.issue;
      if (issue === null) throw new Error("mode issue without an issue number (the runner checks this)");
      // The event's issue obeys the queue's dependency rule too: an open or unreadable blocker holds it.
      const blocked = await blockedBy(github, config, issue, now(), log);
      const run: IssueRun = blocked !== null ? { issue, claimed: false, reason: blocked } : await attempt(issue);
      runs.push(run);
      if (!run.claimed) core.notice(`${fullName}#${issue} was not claimed: ${run.reason}. Nothing to do.`);
    } else {
      await drainQueue({ github, config, log, now, attempt, runs, maxIssues: settings.maxIssues, cancel: deps.cancel });
      if (runs.every((r) => !r.claimed)) core.notice(`No claimable issue labeled ${config.labels.queued} in ${fullName}. Nothing to do.`);
    }
  } catch (thrown) {
    const error = toHarnessError(thrown, "EHARNESS_GITHUB", "See the log above for the request that failed, then run the workflow again.");
    log.error({ code: error.code, err: thrown }, error.message);
    await writeSummary(core, runs, fullName, [`${error.code}: ${error.message} Fix: ${error.fix}`]);
    setOutputs(core, runs, mode, "error");
    core.setFailed(error.toString());
    return;
  }

  await writeSummary(core, runs, fullName, []);
  setOutputs(core, runs, mode);
  // Held back by a daily budget (`waiting`) is no failure of the job: the issue stays queued for the next UTC day.
  const failed = runs.flatMap((r) => (r.claimed && r.result.outcome !== "success" && r.result.outcome !== "waiting" ? [r] : []));
  if (failed.length > 0) {
    core.setFailed(
      failed
        .map((r) =>
          r.claimed && r.result.error
            ? `#${r.issue}: ${r.result.error.toString()}`
            : `#${r.issue}: the session ended ${r.claimed ? r.result.outcome : "unclaimed"}; see the summary comment on the issue.`,
        )
        .join("\n"),
    );
  }
}

function setOutputs(core: ActionCore, runs: readonly IssueRun[], mode: "issue" | "worker", outcome?: string): void {
  const outputs = actionOutputs(runs, mode);
  if (outcome !== undefined) outputs.outcome = outcome;
  for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value);
}

async function writeSummary(core: ActionCore, runs: readonly IssueRun[], fullName: string, extra: string[]): Promise<void> {
  try {
    core.summary.addHeading("claude-harness", 2);
    if (runs.length > 0) core.summary.addTable(jobSummaryRows(runs, fullName));
    else core.summary.addRaw("No issue was worked.", true);
    for (const line of [...jobSummaryErrors(runs), ...extra]) core.summary.addRaw(`\n\n${line}`, true);
    await core.summary.write();
  } catch (error) {
    // Without GITHUB_STEP_SUMMARY (a local run) there is no summary to write; the outputs still count.
    core.warning(`The job summary was not written: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Why the queue holds `issue` back for a blocker (src/core/queue.ts), or null when no blocker does. */
async function blockedBy(github: GitHubClient, config: HarnessConfig, issue: number, now: Date, log: Logger): Promise<string | null> {
  const data = await github.getIssue(issue);
  // Only the blockers are asked about here: the claim itself decides on the lease and the labels.
  const plan = await readQueue([{ ...data, createdAt: "" }], { github, config, cache: new EtagCache(), now, log });
  const waiting = plan.waiting.find((w) => w.issue === issue && w.reason.kind === "blocked");
  return waiting ? describeWait(waiting.reason, { owner: github.owner, repo: github.repo }) : null;
}

interface DrainOptions {
  github: GitHubClient;
  config: HarnessConfig;
  log: Logger;
  now: () => Date;
  attempt: (issue: number) => Promise<IssueRun>;
  runs: IssueRun[];
  maxIssues: number;
  cancel: AbortSignal | undefined;
}

/**
 * Mode worker: plan the queue (priority, age, blockers, leases held or backing
 * off), try the ready issues in order until one is claimed, work it, plan again.
 * An issue is tried at most once per run, so a run always ends.
 */
async function drainQueue(options: DrainOptions): Promise<void> {
  const { github, config, log, now, attempt, runs } = options;
  const cache = new EtagCache();
  const tried = new Set<number>();
  let worked = 0;
  while (worked < options.maxIssues && options.cancel?.aborted !== true) {
    const plan = await readRepositoryQueue({ github, config, cache, now: now(), log, skip: (n) => tried.has(n) });
    const next = plan.ready.filter((entry) => !tried.has(entry.issue));
    let claimedOne = false;
    for (const entry of next) {
      tried.add(entry.issue);
      const run = await attempt(entry.issue);
      if (!run.claimed) {
        log.info({ issue: entry.issue, reason: run.reason }, "not claimed; trying the next issue");
        continue;
      }
      runs.push(run);
      worked += 1;
      claimedOne = true;
      break;
    }
    if (!claimedOne) {
      log.info({ worked, waiting: plan.waiting.length }, "no claimable issue left");
      return;
    }
  }
  log.info({ worked }, "max-issues reached");
}
