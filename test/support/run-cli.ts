/**
 * Starts the real Claude Code CLI offline for tests and fixture captures:
 * a throwaway HOME, a minimal environment pointing at the scripted model server,
 * stdin closed, `-p <prompt> --output-format stream-json --verbose`.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import { execa } from "execa";
import type { RunClaudeOptions } from "../../src/adapters/claude/run-claude.js";

/** The pinned CLI (node_modules/.bin/claude), or $CLAUDE_PATH (as the harness itself reads it) to run the CLI-dependent tests against another version. */
export const CLI_PATH = process.env.CLAUDE_PATH ?? fileURLToPath(new URL("../../node_modules/.bin/claude", import.meta.url));

/** The environment the CLI needs to run against a local model server, and nothing else. */
export function offlineEnv(baseUrl: string, home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    LANG: "C.UTF-8",
    ANTHROPIC_BASE_URL: baseUrl,
    ANTHROPIC_API_KEY: "test",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    ...extra,
  };
}

export interface CliDirs {
  cwd: string;
  home: string;
  cleanup(): Promise<void>;
}

/** A fresh working directory and HOME under the system temp directory. */
export async function makeCliDirs(prefix = "harness-cli-"): Promise<CliDirs> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const cwd = await mkdtemp(join(root, "work-"));
  const home = await mkdtemp(join(root, "home-"));
  return { cwd, home, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export interface RunCliOptions {
  baseUrl: string;
  prompt: string;
  cwd: string;
  home: string;
  /** Extra arguments after `-p <prompt> --output-format stream-json --verbose`. */
  args?: string[];
  cliPath?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Send `signal` to the CLI process once `when()` holds (polled). */
  signalWhen?: { signal: NodeJS.Signals; when: () => boolean | Promise<boolean>; pollMs?: number };
}

export interface CliRunResult {
  argv: string[];
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  /** Whether signalWhen fired. */
  signalled: boolean;
}

export async function runCli(options: RunCliOptions): Promise<CliRunResult> {
  const cliPath = options.cliPath ?? CLI_PATH;
  const argv = ["-p", options.prompt, "--output-format", "stream-json", "--verbose", ...(options.args ?? [])];
  const child = execa(cliPath, argv, {
    cwd: options.cwd,
    env: offlineEnv(options.baseUrl, options.home, options.env),
    extendEnv: false,
    stdin: "ignore",
    reject: false,
    timeout: options.timeoutMs ?? 60_000,
    forceKillAfterDelay: 2_000,
  });
  let signalled = false;
  let done = false;
  const watcher = (async () => {
    const sw = options.signalWhen;
    if (sw === undefined) return;
    while (!done) {
      if (await sw.when()) {
        signalled = true;
        child.kill(sw.signal);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, sw.pollMs ?? 50));
    }
  })();
  const result = await child;
  done = true;
  await watcher;
  return {
    argv: [cliPath, ...argv],
    stdout: String(result.stdout ?? ""),
    stderr: String(result.stderr ?? ""),
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    signalled,
  };
}

/** The CLI's version string, e.g. "2.1.197". */
export async function cliVersion(cliPath = CLI_PATH): Promise<string> {
  const { stdout } = await execa(cliPath, ["--version"], { stdin: "ignore" });
  return String(stdout).trim().split(" ")[0] ?? "";
}

/** The CLI's `--help` text, to see which flags (and permission modes) this version has. */
export async function cliHelp(cliPath = CLI_PATH): Promise<string> {
  const { stdout } = await execa(cliPath, ["--help"], { stdin: "ignore", env: { ...process.env, COLUMNS: "1000" } });
  return String(stdout);
}

/** Pids whose environment contains `NAME=value` and (optionally) whose command line contains `commandIncludes`. */
export async function pidsWithEnv(entry: string, commandIncludes?: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const environ = await readFile(`/proc/${name}/environ`, "utf8");
      if (!environ.split("\0").includes(entry)) continue;
      if (commandIncludes !== undefined) {
        const cmdline = (await readFile(`/proc/${name}/cmdline`, "utf8")).split("\0").join(" ");
        if (!cmdline.includes(commandIncludes)) continue;
      }
      pids.push(Number(name));
    } catch {
      // The process ended or is not ours to read.
    }
  }
  return pids;
}

/** runClaude's options for a test session in `dirs` against the model at `baseUrl`; `overrides` win. */
export function runClaudeOptions(dirs: CliDirs, baseUrl: string, overrides: Partial<RunClaudeOptions> = {}): RunClaudeOptions {
  return {
    cliPath: CLI_PATH,
    cwd: dirs.cwd,
    home: dirs.home,
    prompt: "Write hello.txt",
    sessionId: randomUUID(),
    allowedTools: ["Write", "Edit", "Bash"],
    maxTurns: 10,
    maxBudgetUsd: 5,
    modelEnv: { ANTHROPIC_BASE_URL: baseUrl, ANTHROPIC_API_KEY: "test", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" },
    agentId: `test-${randomUUID()}`,
    transcriptPath: join(dirs.home, "..", "session", "transcript.jsonl"),
    stderrPath: join(dirs.home, "..", "session", "stderr.log"),
    stallTimeoutMs: 30_000,
    wallTimeoutMs: 60_000,
    ...overrides,
  };
}
