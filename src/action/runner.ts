import { constants, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { HarnessError, toHarnessError, type HarnessErrorCode } from "../core/errors.js";
import { parseSessionKey } from "../core/session-seal.js";
import { parseDailyUsdSetting } from "../core/daily-budget.js";
import { modelEnvFrom } from "../runtime/model-env.js";
import { sandboxFromEnv } from "../runtime/host-checks.js";
import type { Sandbox } from "../adapters/sandbox/sandbox.js";
import { sessionRetentionMs } from "../runtime/prune-sessions.js";
import type { ActionCore } from "./action-core.js";
import { createActionLogger } from "./action-logger.js";
import { main as realMain, type ActionSettings, type MainDeps } from "./main.js";
import { processSecrets } from "../adapters/secrets.js";

/**
 * Reads and validates everything the Action runs with, in one place: the
 * inputs of action.yml, the runner's environment (GITHUB_*), the event that
 * started the job, and, in the modes that run sessions (issue, worker), the
 * Claude Code CLI on the runner, the model's credentials and the prompts.
 * Every problem is reported at once as `EHARNESS_*: what is wrong (naming the
 * input) Fix: what to do`, through core.setFailed, before anything talks to
 * GitHub or touches the state directory.
 */

/** The inputs of action/action.yml, in its order; a test keeps the two in step. */
export const INPUT_NAMES = ["mode", "issue", "github-token", "anthropic-api-key", "claude-path", "state-dir", "max-issues", "agent-id", "events-file"] as const;
export type InputName = (typeof INPUT_NAMES)[number];

export const DEFAULT_MAX_ISSUES = 10;

/** An input left empty is an input not given. */
const optionalText = z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), z.string().trim().optional());

const positiveWhole = (what: string) =>
  z
    .string()
    .trim()
    .regex(/^[1-9][0-9]*$/, { error: `must be ${what}` })
    .transform(Number)
    .refine(Number.isSafeInteger, { error: `must be ${what}` });

export const inputsSchema = z.object({
  mode: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? "issue" : typeof v === "string" ? v.trim() : v),
    z.enum(["issue", "worker", "reclaim"], {
      error: (issue) => `must be \`issue\`, \`worker\` or \`reclaim\`, not ${JSON.stringify(issue.input)}`,
    }),
  ),
  issue: z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), positiveWhole("an issue number like 7").optional()),
  "github-token": z
    .string()
    .trim()
    .min(1, { error: "is empty" })
    .refine((v) => !v.includes("${{"), { error: "is an expression the runner did not expand" }),
  "anthropic-api-key": optionalText,
  "claude-path": optionalText,
  "state-dir": optionalText,
  "max-issues": z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? String(DEFAULT_MAX_ISSUES) : v), positiveWhole("a whole number of at least 1")),
  "agent-id": z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: "must be 1 to 64 letters, digits, `.`, `_` or `-`" })
      .optional(),
  ),
  "events-file": optionalText,
});

export type ActionInputs = z.infer<typeof inputsSchema>;

const FIX: Record<InputName, string> = {
  mode: "Set `mode: issue` (work the event's issue), `mode: worker` (drain the queue) or `mode: reclaim` (take back stalled leases, for a schedule).",
  issue:
    "Pass the issue number, e.g. `issue: ${{ github.event.issue.number || inputs.issue }}`, or leave it out on `issues`, `issue_comment` and `workflow_dispatch` (input `issue`) events.",
  "github-token": "Pass `github-token: ${{ secrets.GITHUB_TOKEN }}` (or a token with contents, issues and pull-requests write) to the step.",
  "anthropic-api-key": "Pass `anthropic-api-key: ${{ secrets.ANTHROPIC_API_KEY }}`.",
  "claude-path":
    "Install Claude Code on the runner (`npm install -g @anthropic-ai/claude-code`) so `claude` is on PATH, or set `claude-path` to the executable.",
  "state-dir": "Set `state-dir` to a directory the runner user can write, or leave it out for ~/.claude-harness.",
  "max-issues": "Set `max-issues` to a number like 5, or leave it out for 10.",
  "agent-id": "Leave `agent-id` out (the runner's name is used) or set it to a short name like `runner-1`.",
  "events-file": "Set `events-file` to a file path the runner user can write (for example `${{ runner.temp }}/harness-events.jsonl`), or leave it out.",
};

const CODE: Partial<Record<InputName, HarnessErrorCode>> = { "claude-path": "EHARNESS_CLI_MISSING" };

export interface RunnerDeps {
  core: ActionCore;
  env: NodeJS.ProcessEnv;
  /** The harness's prompts/ directory (bootstrap.md, task.md). */
  promptsDir: string;
  now?: () => Date;
  /** The logic; the real one by default (tests pass a spy). */
  main?: (deps: MainDeps, settings: ActionSettings) => Promise<void>;
  hostname?: () => string;
  /** Aborted when the job is cancelled. */
  cancel?: AbortSignal;
}

interface Problem {
  code: HarnessErrorCode;
  message: string;
  fix: string;
}

function problemText(p: Problem): string {
  return `${p.code}: ${p.message} Fix: ${p.fix}`;
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return false;
    await fs.access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `claude-path` as given (relative to the workspace), or `claude` found on PATH; absolute. */
export async function resolveClaudePath(given: string | undefined, env: NodeJS.ProcessEnv): Promise<string | Problem> {
  if (given !== undefined) {
    if (given.includes("/")) {
      const file = path.resolve(env.GITHUB_WORKSPACE ?? process.cwd(), given);
      if (await isExecutableFile(file)) return file;
      return { code: "EHARNESS_CLI_MISSING", message: `Input "claude-path": ${file} is not an executable file.`, fix: FIX["claude-path"] };
    }
  }
  const name = given ?? "claude";
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir === "" || !path.isAbsolute(dir)) continue;
    const file = path.join(dir, name);
    if (await isExecutableFile(file)) return file;
  }
  return {
    code: "EHARNESS_CLI_MISSING",
    message:
      given === undefined
        ? 'The Claude Code CLI (`claude`) is not on the runner\'s PATH (input "claude-path" not set).'
        : `Input "claude-path": \`${name}\` is not on the runner's PATH.`,
    fix: FIX["claude-path"],
  };
}

/** The issue named by the event that started the job, if any. */
export async function issueFromEvent(env: NodeJS.ProcessEnv): Promise<number | null> {
  const eventPath = env.GITHUB_EVENT_PATH;
  if (!eventPath) return null;
  let payload: unknown;
  try {
    payload = JSON.parse(await fs.readFile(eventPath, "utf8"));
  } catch {
    return null;
  }
  const event = z
    .object({
      issue: z.object({ number: z.number().int().positive() }).optional(),
      inputs: z
        .object({ issue: z.union([z.string(), z.number()]).optional() })
        .loose()
        .nullish(),
    })
    .loose()
    .safeParse(payload);
  if (!event.success) return null;
  if (event.data.issue) return event.data.issue.number;
  const fromInput = event.data.inputs?.issue;
  if (fromInput !== undefined && /^[1-9][0-9]*$/.test(String(fromInput).trim())) return Number(String(fromInput).trim());
  return null;
}

function agentIdFromRunner(env: NodeJS.ProcessEnv): string {
  const name = (env.RUNNER_NAME ?? "")
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64);
  return name === "" ? "action" : name;
}

/**
 * Validates inputs and environment into ActionSettings, or returns every
 * problem. Reads files (the event, the CLI's path, the prompts) and writes none.
 */
export async function readSettings(
  deps: Pick<RunnerDeps, "core" | "env" | "promptsDir" | "hostname">,
): Promise<{ settings: ActionSettings } | { problems: Problem[] }> {
  const { core, env } = deps;
  const problems: Problem[] = [];
  const raw: Record<string, string> = {};
  for (const name of INPUT_NAMES) raw[name] = core.getInput(name);
  const parsed = inputsSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? "") as InputName;
      problems.push({
        code: CODE[name] ?? "EHARNESS_USAGE",
        message: `Input "${name}" ${issue.message}.`,
        fix: FIX[name] ?? "See action/README.md for the inputs.",
      });
    }
  }
  const inputs = parsed.success ? parsed.data : null;
  // Secrets are masked in the log from here on, whatever else is wrong.
  if (inputs) {
    core.setSecret(inputs["github-token"]);
    if (inputs["anthropic-api-key"]) core.setSecret(inputs["anthropic-api-key"]);
  }

  const repository = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(env.GITHUB_REPOSITORY ?? "");
  if (!repository) {
    problems.push({
      code: "EHARNESS_USAGE",
      message: `GITHUB_REPOSITORY must be \`owner/repo\`, not ${JSON.stringify(env.GITHUB_REPOSITORY ?? "")}.`,
      fix: "Run the Action in a GitHub Actions job (the runner sets GITHUB_REPOSITORY), or set it yourself when running it locally.",
    });
  }
  const apiUrl = env.GITHUB_API_URL && env.GITHUB_API_URL !== "" ? env.GITHUB_API_URL : "https://api.github.com";
  if (!URL.canParse(apiUrl)) {
    problems.push({
      code: "EHARNESS_USAGE",
      message: `GITHUB_API_URL is not a URL: ${JSON.stringify(apiUrl)}.`,
      fix: "Leave GITHUB_API_URL to the runner, or set it to https://api.github.com or https://HOST/api/v3.",
    });
  }

  let issue: number | null = null;
  const mode = inputs?.mode ?? ((raw.mode ?? "").trim() === "" ? "issue" : (raw.mode ?? "").trim());
  if (mode === "issue") {
    issue = inputs?.issue ?? (await issueFromEvent(env));
    if (issue === null) {
      problems.push({
        code: "EHARNESS_USAGE",
        message: `Input "issue" is not set and the event (${env.GITHUB_EVENT_NAME ?? "unknown"}) names no issue, so mode issue has nothing to work.`,
        fix: FIX.issue,
      });
    }
  }

  // Mode reclaim runs no session: it needs neither the CLI, nor model credentials, nor the prompts.
  const runsSessions = mode !== "reclaim";
  let claude: string | null = null;
  if (runsSessions) {
    const claudeGiven = raw["claude-path"]?.trim();
    const found = await resolveClaudePath(claudeGiven === "" ? undefined : claudeGiven, env);
    if (typeof found === "string") claude = found;
    else problems.push(found);
  }

  const modelEnv = modelEnvFrom(env);
  if (inputs?.["anthropic-api-key"]) modelEnv.ANTHROPIC_API_KEY = inputs["anthropic-api-key"];
  if (
    runsSessions &&
    !modelEnv.ANTHROPIC_API_KEY &&
    !modelEnv.ANTHROPIC_AUTH_TOKEN &&
    !modelEnv.CLAUDE_CODE_OAUTH_TOKEN &&
    !modelEnv.CLAUDE_CODE_USE_BEDROCK &&
    !modelEnv.CLAUDE_CODE_USE_VERTEX
  ) {
    problems.push({
      code: "EHARNESS_CREDENTIALS",
      message:
        'The Claude Code CLI has no model credentials: input "anthropic-api-key" is not set, nor ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN, CLAUDE_CODE_OAUTH_TOKEN, CLAUDE_CODE_USE_BEDROCK or CLAUDE_CODE_USE_VERTEX in the environment.',
      fix: FIX["anthropic-api-key"],
    });
  }

  if (runsSessions) {
    try {
      await fs.access(path.join(deps.promptsDir, "bootstrap.md"), constants.R_OK);
    } catch {
      problems.push({
        code: "EHARNESS_PROMPT",
        message: `The harness's prompts are not at ${deps.promptsDir}.`,
        fix: "Use the Action from a checkout of claude-harness (`uses: OWNER/claude-harness/action@REF` or `uses: ./action`), where action/dist sits next to prompts/.",
      });
    }
  }

  let sandbox: Sandbox | null = null;
  try {
    sandbox = sandboxFromEnv(env);
  } catch (error) {
    const e = error as HarnessError;
    problems.push({ code: e.code, message: e.message, fix: e.fix });
  }

  let retentionMs = 0;
  try {
    retentionMs = sessionRetentionMs(env);
  } catch (error) {
    const e = error as HarnessError;
    problems.push({ code: e.code, message: e.message, fix: e.fix });
  }
  let dailyUsd: number | null = null;
  try {
    dailyUsd = parseDailyUsdSetting(env.HARNESS_DAILY_USD);
  } catch (error) {
    const e = error as HarnessError;
    problems.push({ code: e.code, message: e.message, fix: e.fix });
  }
  let sessionKey: Buffer | undefined;
  try {
    sessionKey = parseSessionKey(env.HARNESS_SESSION_KEY);
  } catch (error) {
    const e = error as HarnessError;
    problems.push({ code: e.code, message: e.message, fix: e.fix });
  }

  if (
    problems.length > 0 ||
    !inputs ||
    !repository ||
    sandbox === null ||
    (inputs.mode !== "reclaim" && claude === null) ||
    (inputs.mode === "issue" && issue === null)
  ) {
    return { problems };
  }
  const home = env.HOME && env.HOME !== "" ? env.HOME : os.homedir();
  // The lifecycle events as JSON lines, as HARNESS_EVENTS_FILE does for the app and the worker.
  const eventsFileSetting = inputs["events-file"] ?? (env.HARNESS_EVENTS_FILE || undefined);
  const eventsFile = eventsFileSetting === undefined ? undefined : path.resolve(eventsFileSetting);
  return {
    settings: {
      mode: inputs.mode,
      issue,
      githubToken: inputs["github-token"],
      apiUrl: apiUrl.replace(/\/+$/, ""),
      repository: { owner: repository[1] ?? "", repo: repository[2] ?? "" },
      claudePath: claude,
      modelEnv,
      sandbox,
      // The Action runs from a checkout of claude-harness: sandbox/ sits next to prompts/.
      forwarderPath: path.resolve(deps.promptsDir, "..", "sandbox", "forwarder.mjs"),
      stateDir: path.resolve(inputs["state-dir"] ?? path.join(home, ".claude-harness")),
      maxIssues: inputs["max-issues"],
      agentId: inputs["agent-id"] ?? agentIdFromRunner(env),
      host: (deps.hostname ?? os.hostname)(),
      runId: env.GITHUB_RUN_ID ? `${env.GITHUB_RUN_ID}-${env.GITHUB_RUN_ATTEMPT ?? "1"}` : `local-${process.pid}`,
      promptsDir: deps.promptsDir,
      permissionMode: "dontAsk",
      progressIntervalMs: 60_000,
      sessionRetentionMs: retentionMs,
      ...(sessionKey ? { sessionKey } : {}),
      ...(eventsFile ? { eventsFile } : {}),
      ...(dailyUsd !== null ? { dailyUsd } : {}),
    },
  };
}

/** Validates, then runs main; any failure ends in core.setFailed with a coded message. */
export async function runner(deps: RunnerDeps): Promise<void> {
  const { core } = deps;
  try {
    const read = await readSettings(deps);
    if ("problems" in read) {
      core.setFailed(read.problems.map(problemText).join("\n"));
      return;
    }
    // The token and keys we were given are redacted from everything we post.
    processSecrets.add(read.settings.githubToken, ...Object.values(read.settings.modelEnv));
    processSecrets.addFromEnv(deps.env);
    const log = createActionLogger(core, deps.env.RUNNER_DEBUG === "1" ? "debug" : (deps.env.LOG_LEVEL ?? "info"));
    await (deps.main ?? realMain)({ core, now: deps.now ?? (() => new Date()), log, ...(deps.cancel ? { cancel: deps.cancel } : {}) }, read.settings);
  } catch (thrown) {
    const error = toHarnessError(thrown, "EHARNESS_GITHUB", "See the log above, then run the workflow again.");
    core.setFailed(error instanceof HarnessError ? error.toString() : String(error));
  }
}
