/**
 * Runs the real Claude Code CLI (`claude -p … --output-format stream-json --verbose`)
 * for one session: minimal environment, its own process group, stdout reduced to a
 * SessionReport as it arrives, stall and wall-clock limits, interrupt by AbortSignal,
 * and no process left behind.
 */
import { constants, createWriteStream, type WriteStream } from "node:fs";
import { access, mkdir, readdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { execa } from "execa";
import { HarnessError } from "../../core/errors.js";
import { createSessionReducer, type SessionReport, type StopReason } from "../../core/session-report.js";
import type { StreamEvent } from "../../core/stream-event.js";
import { createLineSplitter } from "../../core/stream-lines.js";

export interface RunClaudeOptions {
  cliPath: string;
  cwd: string;
  home: string;
  prompt: string;
  sessionId: string;
  /** Continue the stored session `sessionId` (`--resume`) instead of starting it (`--session-id`). */
  resume?: boolean;
  appendSystemPromptFile?: string;
  allowedTools: string[];
  /** Default "dontAsk": allowed tools run, everything else is refused without a prompt. */
  permissionMode?: string;
  maxTurns: number;
  maxBudgetUsd: number;
  model?: string;
  /**
   * An MCP config file (`--mcp-config`): the only servers the session gets, since
   * `--strict-mcp-config` keeps a repository's `.mcp.json` and settings from adding any.
   * Their tools still need naming in `allowedTools` (`mcp__SERVER__TOOL`).
   */
  mcpConfigFile?: string;
  /** ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, … */
  modelEnv: Record<string, string>;
  /** Set as HARNESS_AGENT_ID in the CLI's environment; finds its leftover processes. */
  agentId: string;
  transcriptPath: string;
  stderrPath: string;
  stallTimeoutMs: number;
  wallTimeoutMs: number;
  /** How long to wait after SIGINT, then after SIGTERM, before escalating (default 5 s each). */
  killGraceMs?: { interrupt: number; terminate: number };
  signal?: AbortSignal;
  /**
   * Called for every event with the report so far (string values longer than 64 Ki
   * characters are cut in the event; the transcript file has them whole). An exception it throws (or a
   * promise it returns that rejects) is passed to `onObserverError` and otherwise
   * ignored: a failing observer never breaks the session.
   */
  onEvent?: (event: StreamEvent, report: SessionReport) => void;
  onObserverError?: (error: unknown) => void;
  /**
   * Called once for each new warning of the report's `readWarnings`: an event this
   * CLI version printed in a shape the harness does not know, read leniently. An
   * exception it throws goes to `onObserverError`.
   */
  onReadWarning?: (warning: string) => void;
  now?: () => number;
  /**
   * Turns the CLI's command line into the one that runs it, e.g. inside the
   * agent's sandbox; by default `cliPath` runs as it is, on the host.
   */
  wrap?: (file: string, args: string[], env: Record<string, string>) => WrappedCommand;
  /** Caps on the files written (defaults 64 MiB and 1 MiB). */
  maxTranscriptBytes?: number;
  maxStderrBytes?: number;
}

/** The command line that runs the CLI, as a sandbox wraps it. */
export interface WrappedCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** Called once the CLI prints; the function it returns, awaited after the exit, resolves when nothing of the command is left. */
  watchEnd?: (pid: number) => () => Promise<void>;
}

export interface RunClaudeResult {
  report: SessionReport;
  exitCode: number | null;
  signal: string | null;
  /** Processes still carrying the agent's marker after the CLI exited, killed by the harness. */
  leftoverProcesses?: number;
}

export const AGENT_MARKER_VARIABLE = "HARNESS_AGENT_ID";

export function buildClaudeArgs(options: RunClaudeOptions): string[] {
  const args = ["-p", options.prompt];
  args.push(options.resume === true ? "--resume" : "--session-id", options.sessionId);
  args.push("--output-format", "stream-json", "--verbose");
  if (options.appendSystemPromptFile !== undefined) args.push("--append-system-prompt-file", options.appendSystemPromptFile);
  if (options.allowedTools.length > 0) args.push("--allowedTools", options.allowedTools.join(","));
  args.push("--permission-mode", options.permissionMode ?? "dontAsk");
  args.push("--max-turns", String(options.maxTurns));
  args.push("--max-budget-usd", String(options.maxBudgetUsd));
  if (options.model !== undefined) args.push("--model", options.model);
  // MCP servers only from the command line (the harness's knowledge server, or none): a `.mcp.json`
  // in the repository never starts a server.
  if (options.mcpConfigFile !== undefined) args.push("--mcp-config", options.mcpConfigFile);
  args.push("--strict-mcp-config");
  return args;
}

/** Never inherits process.env: PATH, HOME, LANG, TMPDIR, the model variables, the marker, CLAUDE_CODE_DISABLE_AUTO_MEMORY=1 and ENABLE_TOOL_SEARCH=false. */
export function buildClaudeEnv(
  options: Pick<RunClaudeOptions, "home" | "modelEnv" | "agentId">,
  parentEnv: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = { ...options.modelEnv };
  env.PATH = parentEnv.PATH ?? "/usr/local/bin:/usr/bin:/bin";
  env.HOME = options.home;
  if (parentEnv.LANG !== undefined) env.LANG = parentEnv.LANG;
  if (parentEnv.TMPDIR !== undefined) env.TMPDIR = parentEnv.TMPDIR;
  env[AGENT_MARKER_VARIABLE] = options.agentId;
  // Claude Code's own auto memory stays off (the CLI reads this variable): what carries over
  // between sessions is only what the harness controls (the prompt's knowledge block).
  env.CLAUDE_CODE_DISABLE_AUTO_MEMORY = "1";
  // The harness's MCP tools (the knowledge tools) are offered to the model as tools, not behind
  // a tool search: newer CLIs (2.1.332) defer MCP tools by default (the model sees only
  // `ToolSearch` until it searches), and a deferred tool the model calls directly is not there.
  // Older CLIs ignore the variable. A model setting may not turn it back on.
  env.ENABLE_TOOL_SEARCH = "false";
  return env;
}

/** Pids of live processes whose environment holds `HARNESS_AGENT_ID=<agentId>`. */
export async function findAgentProcesses(agentId: string): Promise<number[]> {
  const entry = `${AGENT_MARKER_VARIABLE}=${agentId}`;
  let names: string[];
  try {
    names = await readdir("/proc");
  } catch {
    return []; // no procfs (not Linux): nothing we can find
  }
  const pids: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const environ = await readFile(`/proc/${name}/environ`, "latin1");
      if (environ.split("\0").includes(entry)) pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** SIGKILLs every process that carries the agent's marker, until none is left (a few rounds). */
export async function killAgentProcesses(agentId: string): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 5; round++) {
    const pids = await findAgentProcesses(agentId);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        killed++;
      } catch {
        // already gone
      }
    }
    await delay(20);
  }
  return killed;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

/** A file writer that stops at `max` bytes. */
function cappedWriter(path: string, max: number, note: string | null): { write(s: string): void; close(): Promise<void> } {
  const stream: WriteStream = createWriteStream(path, { flags: "w", mode: 0o600 });
  let written = 0;
  let full = false;
  let failed = false;
  stream.on("error", () => {
    failed = true;
  });
  return {
    write(s) {
      if (full || failed) return;
      const bytes = Buffer.byteLength(s);
      if (written + bytes > max) {
        full = true;
        if (note !== null) stream.write(note);
        return;
      }
      written += bytes;
      stream.write(s);
    },
    close: () => new Promise<void>((resolve) => (failed ? resolve() : stream.end(() => resolve()))),
  };
}

function cliMissing(cliPath: string, cause?: unknown): HarnessError {
  return new HarnessError("EHARNESS_CLI_MISSING", {
    message: `The Claude Code CLI was not found or is not executable at ${cliPath}.`,
    fix: "Install it (npm install @anthropic-ai/claude-code) and point the harness at its binary (node_modules/.bin/claude), or fix the configured CLI path.",
    cause,
  });
}

export async function runClaude(options: RunClaudeOptions): Promise<RunClaudeResult> {
  const now = options.now ?? Date.now;
  try {
    await access(options.cliPath, constants.X_OK);
  } catch (error) {
    throw cliMissing(options.cliPath, error);
  }
  const startedAt = now();
  const reducer = createSessionReducer({ cwd: options.cwd, startedAt });
  if (options.signal?.aborted === true) {
    return {
      report: reducer.finish({ exitCode: null, signal: null, stopReason: "interrupted", endedAt: now(), detail: "Interrupted before the CLI started." }),
      exitCode: null,
      signal: null,
      leftoverProcesses: 0,
    };
  }

  await mkdir(dirname(options.transcriptPath), { recursive: true });
  await mkdir(dirname(options.stderrPath), { recursive: true });
  const transcript = cappedWriter(options.transcriptPath, options.maxTranscriptBytes ?? 64 * 1024 * 1024, null);
  const stderrFile = cappedWriter(options.stderrPath, options.maxStderrBytes ?? 1024 * 1024, "\n[harness: stderr truncated]\n");
  const grace = options.killGraceMs ?? { interrupt: 5_000, terminate: 5_000 };

  const plain: WrappedCommand = { file: options.cliPath, args: buildClaudeArgs(options), env: buildClaudeEnv(options) };
  const command = options.wrap ? options.wrap(plain.file, plain.args, plain.env) : plain;
  let sandboxEnded: (() => Promise<void>) | undefined;
  const subprocess = execa(command.file, command.args, {
    cwd: options.cwd,
    env: command.env,
    extendEnv: false,
    detached: true,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    buffer: false,
    reject: false,
    // Stopping is ours (process group, grace times), not execa's.
    cleanup: false,
  });

  let stopReason: StopReason | undefined;
  let stopDetail: string | undefined;
  let stopping = false;
  let exited = false;
  let resultSeen = false;
  let stallTimer: NodeJS.Timeout | undefined;

  const exit = new Promise<{ code: number | null; signal: string | null; spawnError: unknown }>((resolve) => {
    subprocess.once("exit", (code, signal) => {
      exited = true;
      resolve({ code, signal, spawnError: undefined });
    });
    subprocess.once("error", (error) => {
      if (subprocess.pid === undefined) {
        exited = true;
        resolve({ code: null, signal: null, spawnError: error });
      }
    });
  });

  const stop = (reason: StopReason, detail: string): void => {
    if (stopping || exited) return;
    stopping = true;
    // A session that already wrote its result is merely slow to exit: keep its outcome.
    if (!resultSeen) {
      stopReason = reason;
      stopDetail = detail;
    }
    const pid = subprocess.pid;
    if (pid === undefined) return;
    void (async () => {
      // SIGINT first: the CLI then kills its Bash tool's commands itself and may write a result.
      killGroup(pid, "SIGINT");
      if (await Promise.race([exit.then(() => true), delay(grace.interrupt).then(() => false)])) return;
      killGroup(pid, "SIGTERM");
      if (await Promise.race([exit.then(() => true), delay(grace.terminate).then(() => false)])) return;
      killGroup(pid, "SIGKILL");
    })();
  };

  const armStall = (): void => {
    if (stallTimer !== undefined) clearTimeout(stallTimer);
    stallTimer = setTimeout(() => stop("stalled", `No output from the CLI for ${options.stallTimeoutMs} ms; the harness stopped it.`), options.stallTimeoutMs);
  };
  armStall();
  const wallTimer = setTimeout(
    () => stop("timed_out", `The session ran longer than ${options.wallTimeoutMs} ms; the harness stopped it.`),
    options.wallTimeoutMs,
  );
  const onAbort = (): void => stop("interrupted", "The session was interrupted; the harness stopped it.");
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const observerFailed = (error: unknown): void => {
    try {
      options.onObserverError?.(error);
    } catch {
      // Not even the error handler may break the session.
    }
  };

  let warned = 0;
  const splitter = createLineSplitter((line) => {
    // Two writes: no second copy of a megabytes-long line.
    transcript.write(line);
    transcript.write("\n");
    armStall();
    const event = reducer.feedLine(line);
    if (event === null) return;
    if (event.type === "result") resultSeen = true;
    const report = reducer.report();
    const warnings = report.readWarnings ?? [];
    for (; warned < warnings.length; warned++) {
      try {
        options.onReadWarning?.(warnings[warned] ?? "");
      } catch (error) {
        observerFailed(error);
      }
    }
    // The cost guard: the CLI checks its budget only when a model call has ended; the
    // stream shows the usage of a call as soon as its first block is printed.
    if (!resultSeen && report.costUsd > options.maxBudgetUsd) {
      stop("max_budget", `The session's cost reached $${report.costUsd.toFixed(2)}, over the budget of $${options.maxBudgetUsd}; the harness stopped it.`);
    }
    if (options.onEvent !== undefined) {
      try {
        // An async observer is a `() => void` too: catch its rejection, or it would be unhandled.
        const pending: unknown = options.onEvent(event, report);
        if (pending instanceof Promise) pending.catch(observerFailed);
      } catch (error) {
        observerFailed(error);
      }
    }
  });
  subprocess.stdout?.on("data", (chunk: Buffer) => {
    // The CLI runs, so a sandbox around it is fully up: note what must end with it.
    if (sandboxEnded === undefined && command.watchEnd !== undefined && subprocess.pid !== undefined) sandboxEnded = command.watchEnd(subprocess.pid);
    splitter.push(chunk);
  });
  subprocess.stderr?.on("data", (chunk: Buffer) => stderrFile.write(chunk.toString("utf8")));

  const ended = await exit;
  if (stallTimer !== undefined) clearTimeout(stallTimer);
  clearTimeout(wallTimer);
  options.signal?.removeEventListener("abort", onAbort);

  if (ended.spawnError !== undefined) {
    await transcript.close();
    await stderrFile.close();
    const code = (ended.spawnError as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EACCES") throw cliMissing(options.cliPath, ended.spawnError);
    throw ended.spawnError;
  }

  // Whatever the CLI left behind: its process group, then anything carrying the marker
  // (the Bash tool runs commands in their own process group).
  if (subprocess.pid !== undefined) killGroup(subprocess.pid, "SIGKILL");
  await sandboxEnded?.();
  const leftoverProcesses = await killAgentProcesses(options.agentId);

  // Leftovers could have held the pipes open; they are gone now, so the streams end.
  await Promise.race([subprocess.then(() => undefined), delay(2_000)]);
  subprocess.stdout?.destroy();
  subprocess.stderr?.destroy();
  splitter.end();
  await transcript.close();
  await stderrFile.close();

  const report = reducer.finish({
    exitCode: ended.code,
    signal: ended.signal,
    stopReason,
    endedAt: now(),
    detail: stopDetail,
  });
  return { report, exitCode: ended.code, signal: ended.signal, leftoverProcesses };
}
