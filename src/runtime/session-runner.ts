import { promises as fs } from "node:fs";
import path from "node:path";
import type { HarnessConfig } from "../core/config.js";
import { HarnessError } from "../core/errors.js";
import { renderFollowUpRequest, type FollowUp } from "../core/follow-up.js";
import { fenceUntrusted, renderTemplate } from "../core/render-template.js";
import { stripHidden } from "../core/strip-hidden.js";
import type { KnowledgeSnapshot } from "../core/knowledge-types.js";
import type { SessionReport } from "../core/session-report.js";
import type { StepClock } from "../core/step-clock.js";
import type { GitHubClient, IssueData } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import { runClaude, type RunClaudeOptions, type RunClaudeResult } from "../adapters/claude/run-claude.js";
import type { Sandbox } from "../adapters/sandbox/sandbox.js";
import { openAgentSandbox } from "./agent-sandbox.js";
import { writeKnowledgeSessionFiles, type KnowledgeSessionFiles } from "./knowledge-session.js";
import { readPromptComments, type PromptComments } from "./read-prompt-comments.js";
import { restoreLocalSession } from "./local-session.js";
import { restoreSession, sessionRef } from "./session-store.js";
import type { Workspace } from "./workspace.js";

export interface ClaudeSettings {
  /** Path of the `claude` executable. */
  cliPath: string;
  /** Model endpoint settings handed to the CLI (ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY, …). */
  modelEnv: Record<string, string>;
  permissionMode: string;
  /** The agent's sandbox: bwrap, or none with the explicit opt-in (HARNESS_UNSAFE_NO_SANDBOX=1). */
  sandbox: Sandbox;
  /** The forwarder script (sandbox/forwarder.mjs) that links the sandbox's loopback to the harness's proxies. */
  forwarderPath: string;
  /** HARNESS_SESSION_KEY: seals the saved session and opens a sealed one (src/core/session-seal.ts). */
  sessionKey?: Buffer;
  /** The session's knowledge server (sandbox/knowledge-mcp.mjs); default: beside the forwarder. */
  knowledgeServerPath?: string;
}

/** `new`, or what a person's /retry asked for: continue the session (`resume`), or start `fresh` with the last summary. */
export type SessionMode = "new" | "resume" | "fresh";

/** Renders the bootstrap prompt (system prompt) and the task prompt (-p) for an issue. */
export async function renderPrompts(
  deps: { github: GitHubClient; config: HarnessConfig; promptsDir: string },
  input: {
    issue: IssueData;
    branch: string;
    baseBranch: string;
    mode?: SessionMode;
    previousOutcome?: string;
    previousSummary?: string;
    /** A follow-up on the pull request: the task is prompts/follow-up.md, its instructions fenced as approved text. */
    followUp?: FollowUp;
    /** The fenced knowledge block (src/core/knowledge-block.ts), `{{knowledge}}`. */
    knowledge?: string;
    /** The issue's comments as the prompt shows them, read earlier (readPromptComments); read here without it. */
    comments?: Promise<PromptComments>;
  },
): Promise<{ bootstrap: string; task: string; hidden: Record<string, number> }> {
  // What a person reading the issue cannot see does not reach the model (src/core/strip-hidden.ts).
  const title = stripHidden(input.issue.title);
  const body = stripHidden(input.issue.body);
  // Writers' comments (and the author's, when trust.authorComments allows), each fenced.
  const comments = await (input.comments ?? readPromptComments(deps, input.issue));
  const values = {
    previousOutcome: input.previousOutcome ?? "unknown",
    previousSummary: fenceUntrusted(input.previousSummary ?? "(no summary was posted)", "previous-summary (untrusted)"),
    repository: deps.github.fullName,
    issueNumber: String(input.issue.number),
    issueTitle: fenceUntrusted(title.text, "issue-title (untrusted)"),
    issueBody: fenceUntrusted(input.issue.body === "" ? "(no description)" : body.text, "issue-body (untrusted)"),
    issueComments: comments.text,
    branch: input.branch,
    baseBranch: input.baseBranch,
    followUpRequest: input.followUp ? renderFollowUpRequest(input.followUp) : "",
    sessionKind:
      input.mode === "resume" ? "This is the same session as before, resumed." : "This is a new session; the branch holds the earlier sessions' work.",
    // Already fenced by its builder (reference, not instructions); "none" when the harness kept nothing.
    knowledge: input.knowledge ?? "(none: the harness keeps no knowledge for this session)",
  };
  let bootstrapTemplate: string;
  let source: string;
  if (deps.config.promptFile) {
    const custom = await deps.github.readFile(deps.config.promptFile, input.baseBranch);
    if (custom === null) {
      throw new HarnessError("EHARNESS_PROMPT", {
        message: `The prompt file ${deps.config.promptFile} named in .github/harness.yml does not exist on ${input.baseBranch}.`,
        fix: "Commit the prompt file to the default branch or remove promptFile from the configuration.",
      });
    }
    bootstrapTemplate = custom;
    source = deps.config.promptFile;
  } else {
    bootstrapTemplate = await fs.readFile(path.join(deps.promptsDir, "bootstrap.md"), "utf8");
    source = "prompts/bootstrap.md";
  }
  const taskFile = input.followUp ? "follow-up.md" : input.mode === "resume" ? "continue.md" : input.mode === "fresh" ? "fresh.md" : "task.md";
  const taskTemplate = await fs.readFile(path.join(deps.promptsDir, taskFile), "utf8");
  return {
    bootstrap: renderTemplate(bootstrapTemplate, values, source),
    task: renderTemplate(taskTemplate, values, `prompts/${taskFile}`),
    // What was stripped, per kind (title and body together), for the log.
    hidden: Object.fromEntries(
      Object.keys(body.removed)
        .map((kind) => [kind, (title.removed[kind as keyof typeof title.removed] ?? 0) + (body.removed[kind as keyof typeof body.removed] ?? 0)] as const)
        .filter(([, n]) => n > 0),
    ),
  };
}

export interface SessionInput {
  /** The issue's comments for the prompt, being read since the claim (work-issue.ts); read at the prompt without it. */
  promptComments?: Promise<PromptComments>;
  github: GitHubClient;
  config: HarnessConfig;
  claude: ClaudeSettings;
  promptsDir: string;
  issue: IssueData;
  sessionId: string;
  mode: SessionMode;
  /** How the previous attempt ended (for the fresh prompt). */
  previousOutcome: string;
  /** The previous attempt's summary, for `fresh`. */
  previousSummary?: string;
  /** A follow-up on the pull request (src/core/follow-up.ts): prompts/follow-up.md; a saved session that cannot be restored here starts fresh instead of failing. */
  followUp?: FollowUp;
  agentId: string;
  /**
   * What this session may know from earlier ones (src/core/knowledge-types.ts): the
   * fenced block its prompt carries (`{{knowledge}}`), and the snapshot the session's
   * read-only knowledge tools (MCP) answer from. Absent: no knowledge.
   */
  knowledge?: { block: string; snapshot: KnowledgeSnapshot };
  workspace: Workspace;
  /** This attempt's directory: prompts, the CLI's HOME, transcript, stderr. */
  sessionDir: string;
  /** Aborted to stop the session (interrupt, fenced lease, shutdown). */
  signal: AbortSignal;
  /** Every parsed event's running report. */
  onReport: (report: SessionReport) => void;
  clock: StepClock;
  log: Logger;
  runSession?: (options: RunClaudeOptions) => Promise<RunClaudeResult>;
  /** The session's `--max-budget-usd` (the daily budget's decision, src/core/daily-budget.ts); the configuration's `maxBudgetUsd` when absent. */
  maxBudgetUsd?: number;
}

/**
 * The session stage: prompts rendered (the issue fenced as untrusted data), a
 * saved session restored for `resume`, then the real CLI in the worktree with
 * the attempt's own HOME. Returns the CLI's result; `home` is where the session
 * file lives, for saving it.
 */
export async function runSessionStage(input: SessionInput): Promise<{ result: RunClaudeResult; home: string }> {
  const { workspace, config, log, clock } = input;
  const issueNumber = input.issue.number;
  const home = path.join(input.sessionDir, "home");
  await fs.mkdir(home, { recursive: true });
  // The session as it runs: a follow-up whose saved session this host cannot restore starts fresh with the summary.
  let mode = input.mode;
  if (input.mode === "resume") {
    const token = await input.github.gitToken();
    const restored = await restoreSession({
      git: workspace.git,
      url: workspace.url,
      credentials: { token },
      issue: issueNumber,
      home,
      cwd: workspace.worktree.path,
      ...(input.claude.sessionKey ? { sessionKey: input.claude.sessionKey } : {}),
    });
    // Not pushed (a public repository without HARNESS_SESSION_KEY): this host may still keep it.
    const local =
      restored?.sessionId === input.sessionId
        ? null
        : await restoreLocalSession({ sessionsDir: path.dirname(input.sessionDir), sessionId: input.sessionId, home, cwd: workspace.worktree.path });
    if (restored?.sessionId !== input.sessionId && local === null && input.followUp) {
      log.warn(
        { issue: issueNumber, sessionId: input.sessionId },
        "the session to resume is not saved where this host can read it: the follow-up starts a fresh session with the last summary",
      );
      mode = "fresh";
    } else if (restored?.sessionId !== input.sessionId && local === null) {
      const unsaved = workspace.repository.private === false && input.claude.sessionKey === undefined;
      throw new HarnessError("EHARNESS_SESSION", {
        message: unsaved
          ? `The session ${input.sessionId} to continue was kept only on the host that ran it, and this host has no copy (another host ran it, or upkeep pruned it after HARNESS_SESSION_RETENTION_DAYS): without HARNESS_SESSION_KEY a public repository's session is not pushed, so /retry resumes it only on that host.`
          : `The session ${input.sessionId} to continue was not saved on ${sessionRef(issueNumber)}${restored ? ` (the saved one is ${restored.sessionId})` : ""}, and this host does not keep it.`,
        fix: unsaved
          ? "Comment /retry fresh to start a new session that carries the last summary; to resume on any runner, give every runner the same HARNESS_SESSION_KEY."
          : "Comment /retry fresh to start a new session that carries the last summary.",
      });
    } else log.info({ issue: issueNumber, sessionId: input.sessionId, from: local === null ? "saved" : "this host" }, "session restored: resuming");
  }
  const prompts = await renderPrompts(input, {
    issue: input.issue,
    branch: workspace.branch,
    baseBranch: workspace.repository.defaultBranch,
    mode,
    previousOutcome: input.previousOutcome,
    ...(input.previousSummary !== undefined ? { previousSummary: input.previousSummary } : {}),
    ...(input.followUp ? { followUp: input.followUp } : {}),
    ...(input.knowledge !== undefined ? { knowledge: input.knowledge.block } : {}),
    ...(input.promptComments ? { comments: input.promptComments } : {}),
  });
  if (Object.keys(prompts.hidden).length > 0)
    log.warn({ issue: issueNumber, hidden: prompts.hidden }, "the issue held text a reader does not see; it was left out of the prompt");
  const bootstrapFile = path.join(input.sessionDir, "bootstrap.md");
  await fs.writeFile(bootstrapFile, prompts.bootstrap, { mode: 0o600 });
  // The knowledge tools: the snapshot and the server's config beside the prompt, read-only to the agent.
  const knowledge = input.knowledge
    ? await writeKnowledgeSessionFiles({
        sessionDir: input.sessionDir,
        snapshot: input.knowledge.snapshot,
        nodePath: process.execPath,
        serverPath: input.claude.knowledgeServerPath ?? path.join(path.dirname(input.claude.forwarderPath), "knowledge-mcp.mjs"),
        log,
        issue: issueNumber,
      })
    : null;
  clock.mark("prompts");
  // The agent's git is its own: the harness's clone and admin dir stay out of its reach.
  const agentGitDir = await workspace.git.prepareAgentGit(workspace.worktree, path.join(input.sessionDir, "agent.git"));
  const sandbox = await openAgentSandbox({
    sandbox: input.claude.sandbox,
    nodePath: process.execPath,
    forwarderPath: input.claude.forwarderPath,
    network: config.sandbox,
    modelEnv: input.claude.modelEnv,
    worktree: workspace.worktree.path,
    agentGitDir,
    objectsDir: workspace.git.cloneObjectsDir,
    home,
    readOnlyFiles: [bootstrapFile, ...(knowledge?.readOnlyFiles ?? [])],
    cliPath: input.claude.cliPath,
    log,
  });
  clock.mark("sandbox");
  try {
    return await runInSandbox({ ...input, mode }, { prompts, home, bootstrapFile, sandbox, knowledge });
  } finally {
    const denied = sandbox.denied();
    if (denied.length > 0) log.warn({ issue: issueNumber, denied }, "the sandbox refused connections to hosts outside sandbox.allowHosts");
    await sandbox.close();
  }
}

async function runInSandbox(
  input: SessionInput,
  parts: {
    prompts: { task: string };
    home: string;
    bootstrapFile: string;
    sandbox: Awaited<ReturnType<typeof openAgentSandbox>>;
    knowledge: KnowledgeSessionFiles | null;
  },
): Promise<{ result: RunClaudeResult; home: string }> {
  const { workspace, config, clock } = input;
  const { prompts, home, bootstrapFile, sandbox, knowledge } = parts;
  const result = await (input.runSession ?? runClaude)({
    cliPath: input.claude.cliPath,
    cwd: workspace.worktree.path,
    home,
    prompt: prompts.task,
    sessionId: input.sessionId,
    resume: input.mode === "resume",
    appendSystemPromptFile: bootstrapFile,
    allowedTools: knowledge ? [...config.allowedTools, ...knowledge.allowedTools] : config.allowedTools,
    ...(knowledge ? { mcpConfigFile: knowledge.mcpConfigFile } : {}),
    permissionMode: input.claude.permissionMode,
    maxTurns: config.maxTurns,
    maxBudgetUsd: input.maxBudgetUsd ?? config.maxBudgetUsd,
    ...(config.model ? { model: config.model } : {}),
    modelEnv: sandbox.modelEnv,
    ...(sandbox.wrap ? { wrap: sandbox.wrap } : {}),
    agentId: input.agentId,
    transcriptPath: path.join(input.sessionDir, "transcript.jsonl"),
    stderrPath: path.join(input.sessionDir, "stderr.log"),
    stallTimeoutMs: config.timeouts.stallMinutes * 60_000,
    wallTimeoutMs: config.timeouts.sessionMinutes * 60_000,
    signal: input.signal,
    onEvent: (_event, report) => input.onReport(report),
    onReadWarning: (warning) => input.log.warn({ issue: input.issue.number, warning }, "the CLI printed an event this harness reads leniently"),
  });
  clock.mark("session");
  return { result, home };
}
