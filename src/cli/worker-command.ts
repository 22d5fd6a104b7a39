import { tokenOctokit } from "../adapters/octokit.js";
import { sessionRetentionMs } from "../runtime/prune-sessions.js";
import { HarnessError } from "../core/errors.js";
import { createLogger } from "../adapters/logger.js";
import { processSecrets } from "../adapters/secrets.js";
import { DEFAULT_MIN_FREE_DISK_MB } from "../runtime/free-disk.js";
import { QueueWorker } from "../worker/queue-worker.js";
import { DEFAULT_SHUTDOWN_GRACE_MS } from "../runtime/host-runtime.js";
import { assertPreflight } from "../runtime/preflight.js";
import { hostSettingsFromEnv } from "./host-settings.js";
import { parseCommandArgs, usageError } from "./args.js";
import { workerSpec } from "./commands.js";
import { repositoriesFrom } from "./repositories.js";
import { recordTrends } from "../runtime/record-trends.js";
import { TrendStore, trendRetentionDays } from "../runtime/trend-store.js";

export interface WorkerArgs {
  agents: number;
  repositories: { owner: string; repo: string }[];
  maxIssues: number | null;
  once: boolean;
}

function usage(message: string): HarnessError {
  return usageError(workerSpec, message);
}

function count(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (value === undefined || value === "" || !Number.isInteger(n) || n < min)
    throw usage(`${name} must be an integer of at least ${min}, not "${value ?? ""}".`);
  return n;
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallbackMs: number): number {
  const value = env[name];
  if (value === undefined || value === "") return fallbackMs;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    throw new HarnessError("EHARNESS_USAGE", { message: `${name} must be a number of seconds, not "${value}".`, fix: `Set ${name} to a number like 30.` });
  }
  return Math.round(n * 1000);
}

/** `--agents N [--repo owner/repo …] [--max-issues M] [--once]`; repositories also from HARNESS_REPOSITORIES (comma-separated). */
export function parseWorkerArgs(args: string[], env: NodeJS.ProcessEnv): WorkerArgs {
  const { values } = parseCommandArgs(workerSpec, args);
  const parsed: WorkerArgs = {
    agents: values.agents === undefined ? 1 : count("--agents", values.agents, 1),
    repositories: repositoriesFrom({ flags: values.repo, env }, usage),
    maxIssues: values["max-issues"] === undefined ? null : count("--max-issues", values["max-issues"], 1),
    once: values.once === true,
  };
  if (parsed.repositories.length === 0) throw usage("worker needs at least one repository (--repo owner/repo or HARNESS_REPOSITORIES).");
  return parsed;
}

/**
 * `harness worker`: N agents in this process drain the queues of the named
 * repositories, in token mode (GITHUB_TOKEN, GITHUB_API_URL for GitHub
 * Enterprise Server). The first SIGINT/SIGTERM interrupts running sessions
 * (their work pushed as WIP, the issue queued again to resume); a second one
 * exits at once (the leases expire and the reclaimer requeues the issues).
 */
export async function workerCommand(args: string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  const parsed = parseWorkerArgs(args, env);
  if (!env.GITHUB_TOKEN) {
    throw new HarnessError("EHARNESS_CREDENTIALS", {
      message: "worker needs GITHUB_TOKEN.",
      fix: "Set GITHUB_TOKEN to a token with contents, issues and pull requests write access.",
    });
  }
  processSecrets.addFromEnv(env);
  const log = createLogger({ level: env.LOG_LEVEL ?? "info" });
  const api = tokenOctokit(env.GITHUB_TOKEN, env.GITHUB_API_URL);
  const minFreeDiskMb = env.HARNESS_MIN_FREE_DISK_MB ? count("HARNESS_MIN_FREE_DISK_MB", env.HARNESS_MIN_FREE_DISK_MB, 0) : DEFAULT_MIN_FREE_DISK_MB;
  const host = hostSettingsFromEnv(env);
  // The host's checks (harness doctor --for worker): a failure refuses the start (EHARNESS_PREFLIGHT) before anything is claimed.
  await assertPreflight({
    env,
    role: "worker",
    cliPath: host.claude.cliPath,
    stateDir: host.state.root,
    sandbox: host.claude.sandbox,
    repositories: parsed.repositories,
    log,
  });
  const worker = new QueueWorker({
    agents: parsed.agents,
    repositories: parsed.repositories,
    api,
    ...host,
    log,
    once: parsed.once,
    maxIssues: parsed.maxIssues,
    pollMs: seconds(env, "HARNESS_POLL_SECONDS", 30_000),
    jitterMs: seconds(env, "HARNESS_CLAIM_JITTER_SECONDS", 1_000),
    minFreeDiskMb,
    sessionRetentionMs: sessionRetentionMs(env),
    onResult: (r) => out(`${r.repository}#${r.issue}\t${r.outcome}\t${r.label}\t${r.pullRequest === null ? "-" : `PR #${r.pullRequest}`}`),
  });
  // Trends without Prometheus (harness report): per-minute counters in the state directory.
  const trends = recordTrends(worker.runtime.events, new TrendStore(host.state, { retentionDays: trendRetentionDays(env) }), (error) =>
    log.warn({ err: error }, "could not record trends"),
  );
  const graceMs = seconds(env, "HARNESS_SHUTDOWN_GRACE_SECONDS", DEFAULT_SHUTDOWN_GRACE_MS);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals === 1) {
      log.warn({ signal, graceMs }, "stopping: interrupting running sessions (signal again to exit now)");
      void worker.stop(graceMs).then(({ unfinished }) => {
        if (unfinished.length === 0) return;
        log.warn({ unfinished }, "exiting after the shutdown grace: leases expire and the reclaimer requeues these issues");
        process.exit(1);
      });
    } else {
      log.warn({ signal }, "exiting now: leases expire and the reclaimer requeues the issues");
      process.exit(130);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const summary = await worker.run();
    const failed = summary.results.filter((r) => r.error !== null).length;
    out(JSON.stringify({ worker: summary.workerId, claimed: summary.claimed, finished: summary.results.length, failed, requeued: summary.requeued }));
    return 0;
  } finally {
    await trends.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
