import type { HarnessErrorCode } from "./errors.js";

/**
 * What each coded error means and what usually fixes it: the source of the
 * README's Troubleshooting table (`npm run docs:errors` writes it, and
 * test/docs/errors.test.ts fails when the table and this catalogue differ).
 * The Record type makes a new code in `HarnessErrorCode` a type error here
 * until it is described. Each error also carries its own, more specific fix.
 */
export interface CatalogueEntry {
  /** When a person sees it, in a few words. */
  when: string;
  /** What usually fixes it. */
  fix: string;
}

export const ERROR_CATALOGUE: Readonly<Record<HarnessErrorCode, CatalogueEntry>> = {
  EHARNESS_CONFIG: {
    when: "`.github/harness.yml` (or a command's input file) is invalid; the error names the field",
    fix: "Correct the field named in the error on the default branch, then label the issue `harness:queued` again.",
  },
  EHARNESS_PROMPT: {
    when: "a prompt template is missing or has an unknown placeholder",
    fix: "Commit the prompt file to the default branch, use only the documented placeholders, or remove `promptFile` from the configuration.",
  },
  EHARNESS_CLI_MISSING: {
    when: "the `claude` executable is not where the harness looks",
    fix: "Install `@anthropic-ai/claude-code` or set `CLAUDE_PATH` to the `claude` binary; `harness doctor` shows where it looked.",
  },
  EHARNESS_NO_DEFAULT_BRANCH: {
    when: "the repository has no commit on its default branch",
    fix: "Push a first commit to the default branch, then label the issue again.",
  },
  EHARNESS_PUSH_REJECTED: {
    when: "the remote `harness/issue-N` branch has commits the agent does not have",
    fix: "The harness never force-pushes: merge or delete the remote branch, then comment `/retry`.",
  },
  EHARNESS_GIT: {
    when: "a git command failed (clone, fetch, worktree, commit or push)",
    fix: "Check the harness's access to the repository (contents: write), the network and the state directory; the log has git's output.",
  },
  EHARNESS_LEASE_LOST: {
    when: "another agent or the reclaimer took the issue's lease; this agent writes nothing more",
    fix: "Nothing to do: whoever holds the lease now works the issue. `/status` on the issue says who.",
  },
  EHARNESS_LEASE_CORRUPT: {
    when: "the lease ref `refs/harness/leases/issue-N` holds something the harness did not write",
    fix: "Once no agent works the issue, delete the ref (`git push origin :refs/harness/leases/issue-N`); the next claim recreates it.",
  },
  EHARNESS_NO_WEBHOOK_SECRET: {
    when: "the app was started without `WEBHOOK_SECRET`",
    fix: "Set `WEBHOOK_SECRET` to the secret of the GitHub App's webhook.",
  },
  EHARNESS_CREDENTIALS: {
    when: "no usable GitHub credentials (`APP_ID` + `PRIVATE_KEY`, or `GITHUB_TOKEN`)",
    fix: "Set the App's id and private key, or a token with contents and issues write access.",
  },
  EHARNESS_TRANSCRIPT: {
    when: "`harness summarize` could not read the transcript",
    fix: "Pass a `transcript.jsonl` a session wrote (`claude -p --output-format stream-json --verbose`), e.g. from the state directory's session directory.",
  },
  EHARNESS_USAGE: {
    when: "a command got a flag or an environment variable it cannot use",
    fix: "Run the command with `--help`; the error names the flag or variable and an accepted value.",
  },
  EHARNESS_GITHUB: {
    when: "GitHub answered with an error or kept failing",
    fix: "Usually transient (outage, rate limit): the issue stays queued and a later pass tries again. A proxy must pass conditional requests through.",
  },
  EHARNESS_SESSION: {
    when: "the session to continue was not saved, cannot be read, or its key is missing or wrong",
    fix: "Comment `/retry fresh` to start a new session that carries the last summary; give every host the same `HARNESS_SESSION_KEY`.",
  },
  EHARNESS_DISK: {
    when: "free disk under the state directory is below `HARNESS_MIN_FREE_DISK_MB`",
    fix: "Free disk space, point `HARNESS_STATE_DIR` at a larger disk, or lower `HARNESS_MIN_FREE_DISK_MB`.",
  },
  EHARNESS_SANDBOX: {
    when: "the agent sandbox cannot run here, or its settings are invalid",
    fix: "Install bubblewrap (`apt-get install bubblewrap`) and leave `HARNESS_SANDBOX` unset; the error says what the check saw.",
  },
  EHARNESS_PUBLISH_REFUSED: {
    when: "the publish gate refused what the session changed (workflows, install scripts, symlinks, large files, secrets)",
    fix: "Review the change kept on the host (the comment names the ref); allow it in `publish` of `.github/harness.yml` only if it is wanted.",
  },
  EHARNESS_WORKFLOW_PERMISSION: {
    when: "the session changed `.github/workflows/`, and GitHub refuses that push from this App (no `workflows` permission) or token (no `workflow` scope); nothing was pushed",
    fix: "Grant the App the Workflows permission (app.yml `workflows: write`, then accept it on the installation) or the token the `workflow` scope, then /retry; or make the change by hand from the commit kept on the host.",
  },
  EHARNESS_PREFLIGHT: {
    when: "`harness app` or `harness worker` found a failed check at start (CLI, model key, GitHub credentials, sandbox, disk, state directory)",
    fix: "Run `harness doctor` on the host: it lists every check with its own fix. Nothing was claimed.",
  },
  EHARNESS_NOT_ALLOWED: {
    when: "someone without write access (or a bot not in `trust.allowBots`) labeled or steered an issue",
    fix: "Ask a person with write, maintain or admin on the repository to add the label; allow a bot by login in `trust.allowBots`.",
  },
  EHARNESS_UNAPPROVED_EDIT: {
    when: "the issue's title or description was edited after the queue label by someone without write access",
    fix: "A person with write, maintain or admin reviews the issue's text as it is now (its edit history shows what changed) and adds the label again.",
  },
  EHARNESS_KNOWLEDGE: {
    when: "`harness knowledge` (or the session's knowledge server) has no knowledge snapshot to read, or the file is not a KnowledgeSnapshot",
    fix: "Pass `--snapshot FILE` (a session directory's `knowledge.json`) or point `--state-dir` at a host whose sessions built the index; see docs/knowledge-search.md.",
  },
  EHARNESS_KNOWLEDGE_NOT_FOUND: {
    when: "`harness knowledge show` or `graph` was given an id or issue the knowledge base does not hold",
    fix: "Find the id with `harness knowledge search`; ids look like `doc:owner/repo:PATH` or `session:owner/repo#N/SESSION/ATTEMPT`.",
  },
  EHARNESS_CONVOY: {
    when: "a convoy was refused at staging: its items' blockers form a cycle, an item is in a repository the harness does not reach, already has another parent, or there are more than 100; the error names each",
    fix: "Fix what the error names (break the cycle, drop or move the item, install the App or configure the repository, split the convoy) and stage it again. Nothing was written.",
  },
  EHARNESS_CONFLICT_UNRESOLVED: {
    when: "a session that merged the moved base into the pull request's branch left conflict markers in a file",
    fix: "Nothing was pushed: resolve the conflict by hand on the branch, or comment `/retry <instructions>` saying how to resolve it.",
  },
  EHARNESS_BUDGET_SETTING: {
    when: "the host setting HARNESS_DAILY_USD (the installation's dollars per UTC day) is not a positive number",
    fix: "Set HARNESS_DAILY_USD to a number of dollars like 50 (decimals allowed), or unset it for no installation cap; the host starts nothing until then.",
  },
};

/** The Markdown table of every code: the README's Troubleshooting section. */
export function renderErrorTable(): string {
  const rows = Object.entries(ERROR_CATALOGUE).map(([code, { when, fix }]) => `| \`${code}\` | ${when} | ${fix} |`);
  return ["| code | when | fix |", "|---|---|---|", ...rows].join("\n");
}
