import { z } from "zod";
import { prSchema } from "./pr-config.js";
import { HarnessError } from "./errors.js";
import { notifySchema } from "./notify-config.js";

/**
 * `.github/harness.yml` in the target repository. Every field has a default, so
 * an empty or missing file is a valid configuration. Unknown keys are refused
 * (a misspelt key would otherwise silently do nothing).
 */
/** GitHub refuses a label name over 50 characters (422 when the label is created or added). */
export const MAX_LABEL_LENGTH = 50;

/** A label name GitHub accepts: 1 to 50 characters. */
const labelName = z
  .string()
  .min(1)
  .refine((name) => [...name].length <= MAX_LABEL_LENGTH, { message: `must be at most ${MAX_LABEL_LENGTH} characters (GitHub refuses longer label names)` });

const labelsSchema = z
  .object({
    queued: labelName.default("harness:queued"),
    claimed: labelName.default("harness:claimed"),
    running: labelName.default("harness:running"),
    done: labelName.default("harness:done"),
    failed: labelName.default("harness:failed"),
    interrupted: labelName.default("harness:interrupted"),
    /** A tracking issue whose sub-issues are a convoy's items (docs/convoys.md); never a state of a worked issue. */
    convoy: labelName.default("harness:convoy"),
  })
  .strict();

const convoySchema = z
  .object({
    /** An item queued this long with no agent's claim shows as stranded in the convoy's status comment. */
    strandedMinutes: z
      .number()
      .positive()
      .max(7 * 24 * 60)
      .default(60),
  })
  .strict();

const timeoutsSchema = z
  .object({
    /** No event from the CLI for this long ends the session as `stalled`. */
    stallMinutes: z
      .number()
      .positive()
      .max(24 * 60)
      .default(5),
    /** Wall-clock limit of one session. */
    sessionMinutes: z
      .number()
      .positive()
      .max(24 * 60)
      .default(60),
  })
  .strict();

const leaseSchema = z
  .object({
    /** Refs are `refs/<refPrefix><issue>`; outside refs/heads so no push workflow fires. */
    refPrefix: z
      .string()
      .regex(/^(?!refs\/)[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*[/-]$/, "must be a ref path without 'refs/' that ends in '/' or '-', like 'harness/leases/issue-'")
      .default("harness/leases/issue-"),
    termMinutes: z
      .number()
      .positive()
      .max(24 * 60)
      .default(15),
  })
  .strict();

const priorityLabelsSchema = z
  .object({
    high: labelName.default("priority:high"),
    medium: labelName.default("priority:medium"),
    low: labelName.default("priority:low"),
  })
  .strict();

const reclaimSchema = z
  .object({
    /** A claim not renewed for its term plus this long is taken back. */
    graceMinutes: z
      .number()
      .nonnegative()
      .max(24 * 60)
      .default(2),
    /** Attempts (claims) an issue gets before it is marked failed. */
    maxAttempts: z.number().int().positive().max(100).default(3),
    /**
     * The wait before the first automatic retry (a transient failure, src/core/retry-policy.ts, or a
     * reclaimed lease); each next one waits 4× longer, up to the maximum, each ±20 % (2, 8, 32 minutes).
     */
    backoffMinutes: z
      .number()
      .nonnegative()
      .max(24 * 60)
      .default(2),
    backoffMaxMinutes: z
      .number()
      .nonnegative()
      .max(7 * 24 * 60)
      .default(32),
  })
  .strict();

const queueSchema = z
  .object({
    /**
     * An issue that has waited longer than this (since the queued label was last
     * added, else since it was opened) moves up one priority class, once.
     */
    agingHours: z
      .number()
      .positive()
      .max(365 * 24)
      .default(48),
  })
  .strict();

/**
 * What the agent's sandbox lets out. `isolated` (the default): the agent has its own network
 * namespace; the model is reached through the harness's proxy, and HTTP(S) only to `allowHosts`
 * through the harness's egress proxy. `open`: the host's network, unfiltered (loudly logged).
 */
const sandboxSchema = z
  .object({
    network: z.enum(["isolated", "open"]).default("isolated"),
    /** Hosts the agent may reach over HTTP(S): `registry.npmjs.org`, `*.pythonhosted.org`, `host:port`. Default: none. */
    allowHosts: z
      .array(
        z
          .string()
          .regex(
            /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?(:\d{1,5})?$/,
            "must be a host name like 'registry.npmjs.org', a suffix like '*.example.org', or either with ':port'",
          ),
      )
      .max(200)
      .default([]),
  })
  .strict();

/** Who may start agents beyond the repository's writers (see src/core/actor-gate.ts). */
const trustSchema = z
  .object({
    /** Bot logins (`name[bot]`) whose queue label starts an agent; by default no bot's does. */
    allowBots: z.array(z.string().min(1)).max(100).default([]),
    /** Whether the issue author's comments reach the prompt (quoted as untrusted) when the author has no write access; writers' comments always do. */
    authorComments: z.boolean().default(false),
  })
  .strict();

/**
 * The publish gate (src/core/publish-gate.ts): what is refused outright and
 * what opens the pull request as a draft for a person to review. Paths are
 * globs over the repository's paths: `*` within one segment, `**` any number.
 */
const publishSchema = z
  .object({
    /** A file larger than this is refused (GitHub itself refuses files over 100 MB). */
    maxFileMb: z.number().positive().max(100).default(10),
    /** Changes here open a draft labeled `needsReviewLabel`: CI, ownership, agent config, hooks. */
    reviewPaths: z
      .array(z.string().min(1))
      .max(200)
      .default([
        ".github/workflows/**",
        ".github/actions/**",
        "CODEOWNERS",
        ".github/CODEOWNERS",
        "docs/CODEOWNERS",
        ".claude/**",
        ".mcp.json",
        ".gitmodules",
        ".husky/**",
      ]),
    /** Lockfiles: a changed one is reviewed (a swapped registry URL or integrity hash is easy to miss). */
    lockfiles: z
      .array(z.string().min(1))
      .max(200)
      .default([
        "**/package-lock.json",
        "**/npm-shrinkwrap.json",
        "**/yarn.lock",
        "**/pnpm-lock.yaml",
        "**/bun.lock",
        "**/bun.lockb",
        "**/Cargo.lock",
        "**/Gemfile.lock",
        "**/poetry.lock",
        "**/Pipfile.lock",
        "**/uv.lock",
        "**/composer.lock",
        "**/go.sum",
      ]),
    /** `package.json` scripts npm runs on install: a change to any of them is reviewed. */
    installScripts: z.array(z.string().min(1)).max(50).default(["preinstall", "install", "postinstall", "prepare"]),
    needsReviewLabel: labelName.default("harness:needs-review"),
  })
  .strict();

/**
 * The issue's workspace. A host may reuse a worktree an earlier issue of the repository left
 * (HARNESS_WARM_WORKTREES): it is reset to the branch's start point and cleaned of everything git
 * does not track, except `keepPaths`, caches the repository opts into keeping (`node_modules`).
 * What is kept reaches the next issue's session as the last session left it.
 */
const keepPath = z
  .string()
  .min(1)
  .max(200)
  .regex(
    /^(?!\/)(?!.*\/$)[A-Za-z0-9._@+-]+(\/[A-Za-z0-9._@+-]+)*$/,
    "must be a relative path like 'node_modules' or 'packages/app/.cache' (no leading or trailing '/', no wildcards)",
  )
  .refine((p) => p.split("/").every((segment) => segment !== "." && segment !== ".." && segment !== ".git"), "may not contain '.', '..' or '.git' segments");
const workspaceSchema = z
  .object({
    /** Untracked paths kept when a worktree is reused for the next issue (caches); nothing by default. */
    keepPaths: z.array(keepPath).max(20).default([]),
  })
  .strict();

/**
 * Money (docs/ARCHITECTURE.md, "Daily budget"): a repository's dollars per UTC day, counting every
 * attempt's cost (the session records on refs/harness/knowledge); at the cap no new session
 * starts and the queue waits for the next UTC day. `maxIssueUsd` bounds what a `budget:N` label
 * may set as one session's `--max-budget-usd`.
 */
const budgetSchema = z
  .object({
    /** Dollars per UTC day for this repository; absent: no cap. */
    dailyUsd: z.number().positive().max(1_000_000).optional(),
    /** The highest `--max-budget-usd` a `budget:N` label may ask for. */
    maxIssueUsd: z.number().positive().max(1000).default(25),
  })
  .strict();

/**
 * The prompt's knowledge block (docs/knowledge.md). `textMatches` says what the full-text
 * index's matches may bring in: `curated` (the default) only curated documents merged on the
 * default branch (docs/research, docs/knowledge), `all` session records too. A session record
 * quotes an earlier model's words, and a text match is chosen by the new issue's text, which
 * whoever writes the issue controls: with `all`, a record planted by one issue can be pulled
 * into any other by wording. Records still come in through the link graph, whatever this says:
 * the issue's own attempts, its blockers' and convoy siblings' records.
 */
const knowledgeSchema = z
  .object({
    textMatches: z.enum(["all", "curated"]).default("curated"),
  })
  .strict();

export const configSchema = z
  .object({
    labels: labelsSchema.default(labelsSchema.parse({})),
    /** Model name passed to `claude --model`; the CLI's default when absent. */
    model: z.string().min(1).optional(),
    allowedTools: z
      .array(z.string().regex(/^[A-Za-z][\w]*(\(.*\))?$/, "must be a tool name like 'Bash' or 'Bash(npm test:*)'"))
      .min(1)
      .default(["Bash", "Read", "Edit", "Write", "Glob", "Grep"]),
    maxTurns: z.number().int().positive().max(1000).default(50),
    maxBudgetUsd: z.number().positive().max(1000).default(10),
    timeouts: timeoutsSchema.default(timeoutsSchema.parse({})),
    branchPrefix: z
      .string()
      .regex(/^[A-Za-z0-9._/-]+$/, "must contain only letters, digits, '.', '_', '/' and '-'")
      .default("harness/issue-"),
    /** A bootstrap prompt in the target repository that replaces prompts/bootstrap.md. */
    promptFile: z.string().min(1).optional(),
    /** A login to assign while an agent works the issue; skipped when not assignable. */
    assignee: z.string().min(1).optional(),
    lease: leaseSchema.default(leaseSchema.parse({})),
    /** Labels that order the queue; an issue with none counts as medium. */
    priorityLabels: priorityLabelsSchema.default(priorityLabelsSchema.parse({})),
    /** The reconciler walks this repository's queue at most this often (a lost webhook waits at most about this long). */
    reconcileMinutes: z
      .number()
      .positive()
      .max(24 * 60)
      .default(5),
    /** How often a running agent records that it is alive (local, free) and checks its lease for interrupts. */
    heartbeatSeconds: z.number().positive().max(3600).default(30),
    /** At most one progress edit of the tracking comment this often (each edit is a GitHub write). */
    progressMinutes: z
      .number()
      .positive()
      .max(24 * 60)
      .default(2),
    reclaim: reclaimSchema.default(reclaimSchema.parse({})),
    /** The queue's order (docs/ARCHITECTURE.md, "The queue"). */
    queue: queueSchema.default(queueSchema.parse({})),
    sandbox: sandboxSchema.default(sandboxSchema.parse({})),
    trust: trustSchema.default(trustSchema.parse({})),
    publish: publishSchema.default(publishSchema.parse({})),
    /** Notifications of transitions (docs/notifications.md); off by default. */
    notify: notifySchema.default({}),
    /** Convoys: tracking issues whose sub-issues are worked as one batch (docs/convoys.md). */
    convoy: convoySchema.default(convoySchema.parse({})),
    /** The pull request after it opens: CI and conflict fix sessions (docs/pull-request-follow-ups.md). */
    pr: prSchema.default(prSchema.parse({})),
    workspace: workspaceSchema.default(workspaceSchema.parse({})),
    budget: budgetSchema.default(budgetSchema.parse({})),
    knowledge: knowledgeSchema.default(knowledgeSchema.parse({})),
  })
  .strict();

export type HarnessConfig = z.infer<typeof configSchema>;

export const CONFIG_PATH = ".github/harness.yml";

/** The configuration with every default, for repositories without a config file. */
export function defaultConfig(): HarnessConfig {
  return configSchema.parse({});
}

/**
 * Validates a parsed YAML document. Throws EHARNESS_CONFIG naming every bad
 * field by its path, with what the field accepts.
 */
export function parseConfig(raw: unknown, source = CONFIG_PATH): HarnessConfig {
  const input = raw === null || raw === undefined ? {} : raw;
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "(top level)";
    return `\`${path}\`: ${issue.message}`;
  });
  throw new HarnessError("EHARNESS_CONFIG", {
    message: `${source} is not a valid harness configuration: ${problems.join("; ")}.`,
    fix: `Correct ${problems.length === 1 ? "this field" : "these fields"} in ${source} (see the configuration reference in the README), then label the issue again.`,
  });
}
