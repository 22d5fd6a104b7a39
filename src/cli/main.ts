#!/usr/bin/env node
import { readFileSync } from "node:fs";
import path from "node:path";
import { HarnessError, isHarnessError } from "../core/errors.js";
import { processSecrets } from "../adapters/secrets.js";
import { parseCommandArgs } from "./args.js";
import { COMMANDS, type CommandName } from "./commands.js";
import { packageRoot } from "./paths.js";
import { loadDotEnv } from "./dotenv.js";

const USAGE = `harness: run Claude Code agents on a repository's issues

Usage:
  harness --version | -V              the harness's version
  harness COMMAND --help | -h         a command's flags (also: harness help COMMAND)
  harness app                         run the GitHub App (Probot) with an in-process agent pool
  harness demo [--scenario FILE] [--repo-dir DIR] [--issue-file FILE] [--keep DIR] [--convoy]
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
  harness convoy create --title "…" [--repo owner/repo] ITEM…
                                      a convoy: a tracking issue whose sub-issues (the items) are queued and
                                      tracked by one status comment (GITHUB_TOKEN; docs/convoys.md)
  harness worker --agents N --repo owner/repo [--repo …] [--max-issues M] [--once]
                                      N agents in this process drain the queues (GITHUB_TOKEN);
                                      SIGINT/SIGTERM interrupts running sessions and requeues them
  harness status [--json] [--repo owner/repo …]
                                      agents on this host, the queues, leases held elsewhere
  harness doctor [--json] [--for app|worker] [--repo owner/repo …]
                                      the checks app and worker run at start, each with a fix; exit 1 on a failure
  harness report [--since 7d] [--json] [--state-dir DIR]
                                      the trends this host recorded: one row a day (docs/monitoring.md)
  harness knowledge search "QUERY" | show ID | graph ISSUE [--repo owner/repo] [--json] [--snapshot FILE]
                                      the knowledge base: full-text search, one document, an issue's links
                                      (docs/knowledge-search.md)

Environment for 'app': APP_ID + PRIVATE_KEY (or PRIVATE_KEY_PATH) or GITHUB_TOKEN,
WEBHOOK_SECRET, GITHUB_API_URL (GitHub Enterprise Server), PORT, HARNESS_STATE_DIR,
HARNESS_AGENTS, CLAUDE_PATH, ANTHROPIC_API_KEY (or another model setting).
Environment for 'worker': GITHUB_TOKEN, GITHUB_API_URL, HARNESS_STATE_DIR, CLAUDE_PATH, the model
variables, HARNESS_REPOSITORIES (owner/repo,…), HARNESS_MIN_FREE_DISK_MB (default 2048),
HARNESS_POLL_SECONDS (30), HARNESS_CLAIM_JITTER_SECONDS (1).
Both: HARNESS_SHUTDOWN_GRACE_SECONDS (30: SIGINT/SIGTERM interrupts running sessions, queues
them again to resume, and exits within this), HARNESS_EVENTS_FILE (lifecycle events as JSON lines). Lease term, heartbeat and the
reclaimer's grace and backoff come from each repository's .github/harness.yml.

Flags take their value as --flag value or --flag=value. Exit codes: 0 done, 1 failed, 2 bad usage
or bad input (EHARNESS_USAGE, EHARNESS_CONFIG: the message and its fix on stderr).
`;

/** The version in the package's package.json, read at run time (from src/ with tsx, from dist/ when built or installed). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
}

const isCommand = (name: string | undefined): name is CommandName => name !== undefined && Object.hasOwn(COMMANDS, name);

/** Bad flags or input files (EHARNESS_USAGE, EHARNESS_CONFIG): the one-line error on stderr and exit code 2. */
async function usageErrorsExit2(run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (!isHarnessError(error) || (error.code !== "EHARNESS_USAGE" && error.code !== "EHARNESS_CONFIG")) throw error;
    process.stderr.write(`${error.toString()}\n`);
    return 2;
  }
}

const out = (line: string): void => void process.stdout.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (isCommand(command)) {
    // Every command: --help and --version answered, bad flags refused, before the command is loaded or does anything.
    const spec = COMMANDS[command];
    const parsed = parseCommandArgs(spec, rest);
    if (parsed.help) {
      process.stdout.write(spec.help);
      return 0;
    }
    if (parsed.version) {
      out(packageVersion());
      return 0;
    }
  }
  // Commands that talk to GitHub or the model read `.env` as Probot apps do (the environment wins).
  if (command === "app" || command === "worker" || command === "doctor" || command === "reclaim" || command === "status" || command === "convoy")
    loadDotEnv(process.env);
  switch (command) {
    case "app": {
      const { appCommand } = await import("./app-command.js");
      await appCommand(process.env, rest);
      return -1; // keeps running
    }
    case "demo": {
      const { parseDemoArgs, runDemo } = await import("./demo.js");
      return runDemo({ ...parseDemoArgs(rest), out });
    }
    case "offline": {
      const { offlineCommand } = await import("./offline-command.js");
      return offlineCommand(rest, process.env, { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
    }
    case "summarize": {
      const { parseSummarizeArgs, summarize } = await import("./summarize.js");
      const { file, json } = parseSummarizeArgs(rest);
      return summarize(
        file,
        { json },
        (s) => process.stdout.write(s.endsWith("\n") ? s : `${s}\n`),
        (s) => process.stderr.write(`${s}\n`),
      );
    }
    case "reclaim": {
      const { reclaimCommand } = await import("./reclaim-command.js");
      return reclaimCommand(rest, process.env, out);
    }
    case "convoy": {
      const { convoyCommand } = await import("./convoy-command.js");
      return convoyCommand(rest, process.env, out, (line) => void process.stderr.write(`${line}\n`));
    }
    case "worker": {
      const { workerCommand } = await import("./worker-command.js");
      return workerCommand(rest, process.env, out);
    }
    case "doctor": {
      const { doctorCommand } = await import("./doctor-command.js");
      return usageErrorsExit2(() => doctorCommand(rest, process.env, { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }));
    }
    case "status": {
      const { statusCommand } = await import("./status-command.js");
      return statusCommand(rest, process.env, out);
    }
    case "report": {
      const { reportCommand } = await import("./report-command.js");
      return reportCommand(rest, process.env, out);
    }
    case "knowledge": {
      const { knowledgeCommand } = await import("./knowledge-command.js");
      return knowledgeCommand(rest, process.env, { out, err: (line) => void process.stderr.write(`${line}\n`) });
    }
    case "help":
    case "--help":
    case "-h": {
      const [topic, ...more] = rest;
      if (more.length > 0 || (topic !== undefined && !isCommand(topic))) {
        throw new HarnessError("EHARNESS_USAGE", {
          message: `no help for "${rest.join(" ")}".`,
          fix: `Run harness help COMMAND, one of: ${Object.keys(COMMANDS).join(", ")}.`,
        });
      }
      process.stdout.write(isCommand(topic) ? COMMANDS[topic].help : USAGE);
      return 0;
    }
    case "--version":
    case "-V":
      if (rest.length > 0)
        throw new HarnessError("EHARNESS_USAGE", { message: `--version takes no arguments (got "${rest.join(" ")}").`, fix: "Run harness --version." });
      out(packageVersion());
      return 0;
    case undefined:
      process.stderr.write(USAGE);
      throw new HarnessError("EHARNESS_USAGE", { message: "harness needs a command.", fix: "Run harness COMMAND (harness --help lists them)." });
    default:
      throw new HarnessError("EHARNESS_USAGE", {
        message: `unknown ${command.startsWith("-") ? "flag" : "command"} "${command}".`,
        fix: `Run harness --help; the commands are ${Object.keys(COMMANDS).join(", ")}.`,
      });
  }
}

usageErrorsExit2(() => main(process.argv.slice(2))).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    const text = isHarnessError(error) ? error.toString() : String(error instanceof Error ? (error.stack ?? error.message) : error);
    process.stderr.write(`${processSecrets.redact(text)}\n`);
    process.exitCode = 1;
  },
);
