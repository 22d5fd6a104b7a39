#!/usr/bin/env node
import { isHarnessError } from "../core/errors.js";
import { processSecrets } from "../adapters/secrets.js";

const USAGE = `harness: run Claude Code agents on a repository's issues

Usage:
  harness app                         run the GitHub App (Probot) with an in-process agent pool
  harness demo [--scenario FILE] [--repo-dir DIR] [--issue-file FILE] [--keep DIR]
                                      the whole flow offline: fake GitHub, app, worker, real CLI, scripted model;
                                      prints the pull request and its diff (defaults: examples/demo/)
  harness offline [--scenario FILE] [--repo-dir DIR] [--repo owner/name] [--issue-file FILE]
                  [--users FILE] [--webhook-url URL] [--state-dir DIR]
                                      fake GitHub and scripted model on 127.0.0.1 until SIGINT/SIGTERM; prints
                                      export lines (also DIR/env.sh) for 'harness worker' and 'harness app'
                                      (docs/offline.md, docs/scenarios.md)
  harness summarize <transcript.jsonl> [--json]
                                      report of a saved stream-json transcript
  harness reclaim --repo owner/repo   one pass of the stall reclaimer (GITHUB_TOKEN)
  harness worker --agents N --repo owner/repo [--repo …] [--max-issues M] [--once]
                                      N agents in this process drain the queues (GITHUB_TOKEN);
                                      SIGINT/SIGTERM interrupts running sessions and requeues them
  harness status [--json] [--repo owner/repo …]
                                      agents on this host, the queues, leases held elsewhere
  harness doctor [--json] [--for app|worker] [--repo owner/repo …]
                                      the checks app and worker run at start, each with a fix; exit 1 on a failure

Environment for 'app': APP_ID + PRIVATE_KEY (or PRIVATE_KEY_PATH) or GITHUB_TOKEN,
WEBHOOK_SECRET, GITHUB_API_URL (GitHub Enterprise Server), PORT, HARNESS_STATE_DIR,
HARNESS_AGENTS, CLAUDE_PATH, ANTHROPIC_API_KEY (or another model setting).
Environment for 'worker': GITHUB_TOKEN, GITHUB_API_URL, HARNESS_STATE_DIR, CLAUDE_PATH, the model
variables, HARNESS_REPOSITORIES (owner/repo,…), HARNESS_MIN_FREE_DISK_MB (default 2048),
HARNESS_POLL_SECONDS (30), HARNESS_CLAIM_JITTER_SECONDS (1).
Both: HARNESS_SHUTDOWN_GRACE_SECONDS (30: SIGINT/SIGTERM interrupts running sessions, queues
them again to resume, and exits within this), HARNESS_EVENTS_FILE (lifecycle events as JSON lines). Lease term, heartbeat and the
reclaimer's grace and backoff come from each repository's .github/harness.yml.
`;

/** Bad flags or input files (EHARNESS_USAGE, EHARNESS_CONFIG): the one-line error and exit code 2. */
async function usageErrorsExit2(run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (!isHarnessError(error) || (error.code !== "EHARNESS_USAGE" && error.code !== "EHARNESS_CONFIG")) throw error;
    process.stderr.write(`${error.toString()}\n`);
    return 2;
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "app": {
      const { appCommand } = await import("./app-command.js");
      await appCommand();
      return -1; // keeps running
    }
    case "demo": {
      const { parseDemoArgs, runDemo } = await import("./demo.js");
      return usageErrorsExit2(async () => runDemo({ ...parseDemoArgs(rest), out: (line) => process.stdout.write(`${line}\n`) }));
    }
    case "offline": {
      const { offlineCommand } = await import("./offline-command.js");
      return usageErrorsExit2(() => offlineCommand(rest, process.env, { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }));
    }
    case "summarize": {
      const json = rest.includes("--json");
      const files = rest.filter((a) => a !== "--json");
      if (files.length !== 1) {
        process.stderr.write(`EHARNESS_USAGE: summarize takes one transcript file. Fix: harness summarize <transcript.jsonl> [--json]\n`);
        return 2;
      }
      const { summarize } = await import("./summarize.js");
      return summarize(files[0] as string, { json }, (s) => process.stdout.write(s.endsWith("\n") ? s : `${s}\n`));
    }
    case "reclaim": {
      const { reclaimCommand } = await import("./reclaim-command.js");
      return reclaimCommand(rest, process.env, (line) => process.stdout.write(`${line}\n`));
    }
    case "worker": {
      const { workerCommand } = await import("./worker-command.js");
      return workerCommand(rest, process.env, (line) => process.stdout.write(`${line}\n`));
    }
    case "doctor": {
      const { doctorCommand } = await import("./doctor-command.js");
      return usageErrorsExit2(() => doctorCommand(rest, process.env, { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }));
    }
    case "status": {
      const { statusCommand } = await import("./status-command.js");
      return statusCommand(rest, process.env, (line) => process.stdout.write(`${line}\n`));
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`EHARNESS_USAGE: unknown command "${command}". Fix: run harness --help.\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    const text = isHarnessError(error) ? error.toString() : String(error instanceof Error ? (error.stack ?? error.message) : error);
    process.stderr.write(`${processSecrets.redact(text)}\n`);
    process.exitCode = 1;
  },
);
