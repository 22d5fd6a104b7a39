/**
 * Every `harness` command's flags and help, in one light module: src/cli/main.ts
 * answers `--help` and refuses bad flags from these before it loads a command,
 * and each command parses its arguments with the same spec (src/cli/args.ts).
 */
import type { CommandSpec } from "./args.js";

const COMMON = `  -h, --help                          this help
  -V, --version                       the harness's version`;

const EXIT = `Exit codes: 0 done, 1 failed, 2 bad usage or bad input (EHARNESS_USAGE, EHARNESS_CONFIG on stderr).`;

function help(synopsis: string, what: string, flags: string, more = ""): string {
  return `Usage: ${synopsis}

${what}

Flags:
${flags ? `${flags}\n` : ""}${COMMON}
${more ? `\n${more}\n` : ""}
${EXIT}
`;
}

const APP_SYNOPSIS = "harness app";
export const appSpec = {
  name: "app",
  synopsis: APP_SYNOPSIS,
  help: help(
    APP_SYNOPSIS,
    "The GitHub App (Probot) with an in-process agent pool; webhooks at http://HOST:PORT/api/github/webhooks.\nIt is configured by its environment only (and .env); it runs until SIGINT/SIGTERM. With no credentials at all\nit serves the App's registration from app.yml on http://127.0.0.1:PORT instead (HARNESS_APP_ORG, HARNESS_PUBLIC_URL).",
    "",
    `Environment: APP_ID + PRIVATE_KEY (or PRIVATE_KEY_PATH) or GITHUB_TOKEN, WEBHOOK_SECRET,
GITHUB_API_URL (GitHub Enterprise Server), PORT (3000), HOST, HARNESS_STATE_DIR, HARNESS_AGENTS (1),
HARNESS_REPOSITORIES (token mode), HARNESS_RECONCILE_MINUTES (5), CLAUDE_PATH, ANTHROPIC_API_KEY (or
another model setting), HARNESS_SHUTDOWN_GRACE_SECONDS (30), HARNESS_EVENTS_FILE.`,
  ),
  flags: {},
} as const satisfies CommandSpec;

const DEMO_SYNOPSIS = "harness demo [--scenario FILE] [--repo-dir DIR] [--issue-file FILE] [--keep DIR] [--convoy]";
export const demoSpec = {
  name: "demo",
  synopsis: DEMO_SYNOPSIS,
  help: help(
    DEMO_SYNOPSIS,
    "The whole flow offline: fake GitHub, app, worker, the real Claude Code CLI and a scripted model;\nprints the pull request and its diff. Needs no credentials and no network.",
    `  --scenario FILE                     the scripted model's scenario (YAML or JSON; default examples/demo/scenario.yaml)
  --repo-dir DIR                      the repository's files (default examples/demo/repo)
  --issue-file FILE                   the issue: first line the title, the rest the body (default examples/demo/issue.md)
  --keep DIR                          keep the state (app, worker, the fake's repositories) in DIR, new or empty,
                                      and the app with its status page up until Ctrl-C
  --convoy                            a two-issue convoy instead (docs/convoys.md): harness convoy create,
                                      both issues worked, their pull requests merged, the convoy landed`,
  ),
  flags: {
    convoy: { type: "boolean" },
    scenario: { type: "string", value: "FILE" },
    "repo-dir": { type: "string", value: "DIR" },
    "issue-file": { type: "string", value: "FILE" },
    keep: { type: "string", value: "DIR" },
  },
} as const satisfies CommandSpec;

const OFFLINE_SYNOPSIS =
  "harness offline [--scenario FILE] [--repo-dir DIR] [--repo owner/name] [--issue-file FILE] [--users FILE] [--webhook-url URL] [--state-dir DIR]";
export const offlineSpec = {
  name: "offline",
  synopsis: OFFLINE_SYNOPSIS,
  help: help(
    OFFLINE_SYNOPSIS,
    "The fake GitHub and the scripted model on 127.0.0.1 until SIGINT/SIGTERM, with one repository and one issue;\nprints export lines (also DIR/env.sh) for 'harness worker' and 'harness app' (docs/offline.md, docs/scenarios.md).",
    `  --scenario FILE                     the scripted model's scenario (default examples/demo/scenario.yaml)
  --repo-dir DIR                      the repository's files (default examples/demo/repo)
  --repo owner/name                   the repository's name (default the demo's)
  --issue-file FILE                   the issue: first line the title, the rest the body
  --users FILE                        more people (login, permission, token), YAML or JSON
  --webhook-url URL                   deliver signed webhooks there (for 'harness app')
  --state-dir DIR                     keep env.sh, github.json and the bare repositories in DIR`,
  ),
  flags: {
    scenario: { type: "string", value: "FILE" },
    "repo-dir": { type: "string", value: "DIR" },
    repo: { type: "string", value: "owner/name" },
    "issue-file": { type: "string", value: "FILE" },
    users: { type: "string", value: "FILE" },
    "webhook-url": { type: "string", value: "URL" },
    "state-dir": { type: "string", value: "DIR" },
  },
} as const satisfies CommandSpec;

const SUMMARIZE_SYNOPSIS = "harness summarize <transcript.jsonl> [--json]";
export const summarizeSpec = {
  name: "summarize",
  synopsis: SUMMARIZE_SYNOPSIS,
  help: help(
    SUMMARIZE_SYNOPSIS,
    "The report of a saved stream-json transcript: outcome, turns, cost, tool calls, files changed.\nA file whose name starts with a dash goes after --: harness summarize -- -odd.jsonl",
    `  --json                              the report as JSON`,
  ),
  flags: { json: { type: "boolean" } },
  positionals: { name: "one transcript file", min: 1, max: 1 },
} as const satisfies CommandSpec;

const RECLAIM_SYNOPSIS = "harness reclaim --repo owner/repo [--repo owner/other …]";
export const reclaimSpec = {
  name: "reclaim",
  synopsis: RECLAIM_SYNOPSIS,
  help: help(
    RECLAIM_SYNOPSIS,
    "One pass of the stall reclaimer (for cron or a scheduled workflow): issues whose agent stopped renewing\nits lease are queued again. Environment: GITHUB_TOKEN, GITHUB_API_URL.",
    `  --repo owner/repo                   a repository (repeat for more; also HARNESS_REPOSITORIES=owner/repo,…)`,
  ),
  flags: { repo: { type: "string", value: "owner/repo", multiple: true } },
} as const satisfies CommandSpec;

const CONVOY_SYNOPSIS = 'harness convoy create --title "…" [--repo owner/repo] ITEM…';
export const convoySpec = {
  name: "convoy",
  synopsis: CONVOY_SYNOPSIS,
  help: help(
    CONVOY_SYNOPSIS,
    `Creates a convoy (docs/convoys.md): a tracking issue labeled harness:convoy in --repo whose sub-issues are
the ITEMs (12, '#12', owner/other#4 or an issue URL; quote '#12' in a shell, where # starts a comment).
Staging checks first and refuses with EHARNESS_CONVOY naming each problem, writing nothing: a cycle among
the items' blockers, an item in a repository that is not configured, under another owner, already with
another parent, or more than 100 items. The items are queued (harness:queued) and tracked by one status
comment on the convoy. Environment: GITHUB_TOKEN, GITHUB_API_URL, HARNESS_REPOSITORIES.`,
    `  --title "…"                         the convoy issue's title
  --repo owner/repo                   where the convoy issue is created (default: the one repository of
                                      HARNESS_REPOSITORIES); items may be in it or any configured repository`,
  ),
  flags: { title: { type: "string", value: "TEXT" }, repo: { type: "string", value: "owner/repo" } },
  positionals: { name: "create and the items", min: 2, max: 1000 },
} as const satisfies CommandSpec;

const WORKER_SYNOPSIS = "harness worker --agents N --repo owner/repo [--repo owner/other …] [--max-issues M] [--once]";
export const workerSpec = {
  name: "worker",
  synopsis: WORKER_SYNOPSIS,
  help: help(
    WORKER_SYNOPSIS,
    "N agents in this process drain the queues of the repositories (token mode). The first SIGINT/SIGTERM\ninterrupts running sessions and queues them again to resume; a second one exits at once.",
    `  --agents N                          agents in this process (default 1)
  --repo owner/repo                   a repository (repeat for more; also HARNESS_REPOSITORIES=owner/repo,…)
  --max-issues M                      stop after claiming M issues
  --once                              stop when the queues are empty`,
    `Environment: GITHUB_TOKEN, GITHUB_API_URL, HARNESS_STATE_DIR, CLAUDE_PATH, the model variables,
HARNESS_REPOSITORIES, HARNESS_MIN_FREE_DISK_MB (2048), HARNESS_POLL_SECONDS (30),
HARNESS_CLAIM_JITTER_SECONDS (1), HARNESS_SHUTDOWN_GRACE_SECONDS (30), HARNESS_EVENTS_FILE.`,
  ),
  flags: {
    agents: { type: "string", value: "N" },
    repo: { type: "string", value: "owner/repo", multiple: true },
    "max-issues": { type: "string", value: "M" },
    once: { type: "boolean" },
  },
} as const satisfies CommandSpec;

const STATUS_SYNOPSIS = "harness status [--json] [--repo owner/repo …]";
export const statusSpec = {
  name: "status",
  synopsis: STATUS_SYNOPSIS,
  help: help(
    STATUS_SYNOPSIS,
    "The agents on this host (dead ones marked), the queue of each repository and the leases held by other\nhosts. The queues need GITHUB_TOKEN; without it only the local agents are shown.",
    `  --json                              the status as JSON
  --repo owner/repo                   a repository (repeat for more; default HARNESS_REPOSITORIES, or those
                                      the workers on this host pull from)`,
  ),
  flags: { json: { type: "boolean" }, repo: { type: "string", value: "owner/repo", multiple: true } },
} as const satisfies CommandSpec;

const DOCTOR_SYNOPSIS = "harness doctor [--json] [--for app|worker] [--repo owner/repo …]";
export const doctorSpec = {
  name: "doctor",
  synopsis: DOCTOR_SYNOPSIS,
  help: help(
    DOCTOR_SYNOPSIS,
    "Checks this host as 'harness app' and 'harness worker' do at start (Node, git, the Claude CLI, the model\nendpoint and key, GitHub credentials, the webhook secret, the sandbox, free disk, the state directory)\nand prints one line per check, then the fix of each that did not pass. Exits 1 when a check failed.",
    `  --json                              { ok, checks: [{ name, status, detail, fix }] }
  --for app|worker                    check what that command needs (default: what the environment has)
  --repo owner/repo                   a repository to check GitHub access to (repeatable; also HARNESS_REPOSITORIES)`,
    `Environment: the variables of 'harness app' or 'harness worker'.`,
  ),
  flags: {
    json: { type: "boolean" },
    for: { type: "string", value: "app|worker" },
    repo: { type: "string", value: "owner/repo", multiple: true },
  },
} as const satisfies CommandSpec;

const REPORT_SYNOPSIS = "harness report [--since 7d] [--json] [--state-dir DIR]";
export const reportSpec = {
  name: "report",
  synopsis: REPORT_SYNOPSIS,
  help: help(
    REPORT_SYNOPSIS,
    "The trends this host recorded (harness app and harness worker keep them in the state directory), one row a\nUTC day: sessions, issues done and failed, success rate, cost, cost per success, p50 and p95 session time.",
    `  --since 7d                          the last N days (Nd, today included) or hours (Nh); default 7d
  --json                              { since, until, stateDir, days: [...], total } (docs/monitoring.md)
  --state-dir DIR                     the state directory (default HARNESS_STATE_DIR or ~/.claude-harness)`,
  ),
  flags: { since: { type: "string", value: "7d" }, json: { type: "boolean" }, "state-dir": { type: "string", value: "DIR" } },
} as const satisfies CommandSpec;

const KNOWLEDGE_SYNOPSIS =
  'harness knowledge search "QUERY" [--repo owner/repo] [--limit N] | show ID | graph ISSUE [--repo owner/repo] [--json] [--snapshot FILE] [--state-dir DIR]';
export const knowledgeSpec = {
  name: "knowledge",
  synopsis: KNOWLEDGE_SYNOPSIS,
  help: help(
    KNOWLEDGE_SYNOPSIS,
    `The knowledge base (docs/knowledge-search.md): what earlier sessions recorded and the merged docs, full-text indexed.
  search "QUERY"                      the best matches, each with its id, title and a snippet
  show ID                             one document whole (ids: doc:owner/repo:PATH, session:owner/repo#N/SESSION/ATTEMPT)
  graph ISSUE                         the links around an issue (N, #N or owner/repo#N): its attempts, blockers,
                                      convoy siblings, the files they touched, the documents they cite`,
    `  --repo owner/repo                   search: only this repository's documents; graph: the issue's repository
  --limit N                           search: at most N hits (default 10, at most 100)
  --json                              the answer as JSON
  --snapshot FILE                     read the documents from a knowledge snapshot (a session directory's knowledge.json)
                                      and bring the state directory's cached index up to date with it
  --state-dir DIR                     the state directory whose cached index is read (default HARNESS_STATE_DIR or ~/.claude-harness)`,
    `Exit code 1 also when the id or issue is not in the knowledge base (EHARNESS_KNOWLEDGE_NOT_FOUND); 2 for a missing
or invalid snapshot (EHARNESS_KNOWLEDGE).`,
  ),
  flags: {
    repo: { type: "string", value: "owner/repo" },
    limit: { type: "string", value: "N" },
    json: { type: "boolean" },
    snapshot: { type: "string", value: "FILE" },
    "state-dir": { type: "string", value: "DIR" },
  },
  // The subcommand and its argument; a query of several words may come unquoted.
  positionals: { name: "search QUERY, show ID or graph ISSUE", min: 1, max: 64 },
} as const satisfies CommandSpec;

/** Every command, by name (the order of `harness --help`). */
export const COMMANDS = {
  app: appSpec,
  demo: demoSpec,
  offline: offlineSpec,
  summarize: summarizeSpec,
  reclaim: reclaimSpec,
  convoy: convoySpec,
  worker: workerSpec,
  status: statusSpec,
  doctor: doctorSpec,
  report: reportSpec,
  knowledge: knowledgeSpec,
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;
