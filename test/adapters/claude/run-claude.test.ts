import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildClaudeArgs, buildClaudeEnv, findAgentProcesses, runClaude, type RunClaudeOptions } from "../../../src/adapters/claude/run-claude.js";
import { isHarnessError } from "../../../src/core/errors.js";
import type { StreamEvent } from "../../../src/core/stream-event.js";
import { loadScenario, startModelServer, type ModelServer } from "../../../src/offline/model-server.js";
import { makeCliDirs, runClaudeOptions, pidsWithEnv, type CliDirs } from "../../support/run-cli.js";

/** The shared test options; no server means a port nothing listens on. */
function baseOptions(dirs: CliDirs, server: ModelServer | null, overrides: Partial<RunClaudeOptions> = {}): RunClaudeOptions {
  return runClaudeOptions(dirs, server?.url ?? "http://127.0.0.1:9", overrides);
}

const scenariosDir = fileURLToPath(new URL("../../fixtures/scenarios/", import.meta.url));

describe("buildClaudeArgs / buildClaudeEnv", () => {
  const dirs: CliDirs = { cwd: "/w", home: "/h", cleanup: async () => undefined };
  it("builds the command line", () => {
    const o = baseOptions(dirs, null, { sessionId: "s-1", appendSystemPromptFile: "/p.md", model: "m", permissionMode: "acceptEdits" });
    expect(buildClaudeArgs(o)).toEqual([
      "-p",
      "Write hello.txt",
      "--session-id",
      "s-1",
      "--output-format",
      "stream-json",
      "--verbose",
      "--append-system-prompt-file",
      "/p.md",
      "--allowedTools",
      "Write,Edit,Bash",
      "--permission-mode",
      "acceptEdits",
      "--max-turns",
      "10",
      "--max-budget-usd",
      "5",
      "--model",
      "m",
      "--strict-mcp-config",
    ]);
    expect(buildClaudeArgs({ ...o, resume: true })).toContain("--resume");
    expect(buildClaudeArgs({ ...o, permissionMode: undefined })).toContain("dontAsk");
    // The session's MCP config (the knowledge server) comes with --strict-mcp-config, which keeps out any other.
    expect(buildClaudeArgs({ ...o, mcpConfigFile: "/s/mcp.json" }).slice(-3)).toEqual(["--mcp-config", "/s/mcp.json", "--strict-mcp-config"]);
  });

  it("passes a minimal environment, never the parent's secrets", () => {
    const env = buildClaudeEnv(
      { home: "/h", agentId: "a-1", modelEnv: { ANTHROPIC_API_KEY: "k", HOME: "/evil", HARNESS_AGENT_ID: "other" } },
      { PATH: "/bin", LANG: "C.UTF-8", GITHUB_TOKEN: "ghs_secret", TMPDIR: "/t", SHELL: "/bin/bash" },
    );
    expect(env).toEqual({
      PATH: "/bin",
      HOME: "/h",
      LANG: "C.UTF-8",
      TMPDIR: "/t",
      ANTHROPIC_API_KEY: "k",
      HARNESS_AGENT_ID: "a-1",
      CLAUDE_CODE_DISABLE_AUTO_MEMORY: "1",
      ENABLE_TOOL_SEARCH: "false",
    });
    // The model settings cannot turn Claude Code's auto memory back on.
    expect(buildClaudeEnv({ home: "/h", agentId: "a-1", modelEnv: { CLAUDE_CODE_DISABLE_AUTO_MEMORY: "0" } }, {}).CLAUDE_CODE_DISABLE_AUTO_MEMORY).toBe("1");
    // Nor defer the harness's MCP tools behind a tool search.
    expect(buildClaudeEnv({ home: "/h", agentId: "a-1", modelEnv: { ENABLE_TOOL_SEARCH: "true" } }, {}).ENABLE_TOOL_SEARCH).toBe("false");
  });
});

describe("runClaude", () => {
  it("throws EHARNESS_CLI_MISSING when the binary is missing", async () => {
    const dirs = await makeCliDirs("run-claude-missing-");
    try {
      const error: unknown = await runClaude(baseOptions(dirs, null, { cliPath: join(dirs.cwd, "no-such-claude") })).catch((e: unknown) => e);
      expect(isHarnessError(error) && error.code).toBe("EHARNESS_CLI_MISSING");
    } finally {
      await dirs.cleanup();
    }
  });
});

describe("runClaude with the real CLI", () => {
  let server: ModelServer;
  beforeAll(async () => {
    const names = ["hang", "sleep", "auto-memory-env", "write-file"]; // write-file is the default (no match)
    server = await startModelServer({ scenarios: await Promise.all(names.map((n) => loadScenario(`${scenariosDir}${n}.yaml`))) });
  });
  afterAll(async () => {
    await server.close();
  });

  it("runs a session that writes a file", async () => {
    const dirs = await makeCliDirs("run-claude-success-");
    try {
      const seen: StreamEvent[] = [];
      const options = baseOptions(dirs, server, { onEvent: (event) => seen.push(event) });
      const { report, exitCode } = await runClaude(options);
      expect(exitCode).toBe(0);
      expect(report.outcome).toBe("success");
      expect(report.sessionId).toBe(options.sessionId);
      expect(report.filesChanged).toEqual(["hello.txt"]);
      expect(report.toolCallsByName).toEqual({ Write: 1, Bash: 1 });
      expect(await readFile(join(dirs.cwd, "hello.txt"), "utf8")).toBe("hello from the scripted model\n");
      expect(seen[0]?.type).toBe("system");
      expect(seen.at(-1)?.type).toBe("result");
      const transcript = (await readFile(options.transcriptPath, "utf8")).trim().split("\n");
      expect(transcript).toHaveLength(report.events);
      expect(existsSync(options.stderrPath)).toBe(true);
    } finally {
      await dirs.cleanup();
    }
  });

  it("runs the CLI with Claude Code's auto memory off (CLAUDE_CODE_DISABLE_AUTO_MEMORY=1 in its environment)", async () => {
    const dirs = await makeCliDirs("run-claude-auto-memory-");
    try {
      const options = baseOptions(dirs, server, { prompt: "Show the setting. [scenario:auto-memory-env]" });
      const { report } = await runClaude(options);
      expect(report.outcome).toBe("success");
      // The Bash tool's output, which only the CLI's own environment can have produced.
      const transcript = await readFile(options.transcriptPath, "utf8");
      expect(transcript).toContain("auto-memory=1;");
    } finally {
      await dirs.cleanup();
    }
  });

  it("stops a stalled session and leaves no process", async () => {
    const dirs = await makeCliDirs("run-claude-stall-");
    try {
      const options = baseOptions(dirs, server, {
        prompt: "Wait for the model. [scenario:hang]",
        stallTimeoutMs: 3_000,
        killGraceMs: { interrupt: 2_000, terminate: 2_000 },
      });
      const { report } = await runClaude(options);
      expect(report.outcome).toBe("stalled");
      expect(report.errorMessage).toMatch(/No output/);
      expect(await findAgentProcesses(options.agentId)).toEqual([]);
    } finally {
      await dirs.cleanup();
    }
  });

  it.each([
    ["SIGINT is enough", { interrupt: 10_000, terminate: 10_000 }],
    ["the CLI is killed outright", { interrupt: 1, terminate: 1 }],
  ])("interrupts a running Bash tool without leaving an orphan (%s)", async (_name, killGraceMs) => {
    const dirs = await makeCliDirs("run-claude-interrupt-");
    try {
      const controller = new AbortController();
      const options = baseOptions(dirs, server, { prompt: "Wait. [scenario:sleep]", signal: controller.signal, killGraceMs });
      const marker = `HARNESS_AGENT_ID=${options.agentId}`;
      const running = runClaude(options);
      await expect.poll(() => pidsWithEnv(marker, "sleep 1000"), { timeout: 30_000, interval: 100 }).not.toEqual([]);
      controller.abort();
      const { report } = await running;
      expect(report.outcome).toBe("interrupted");
      expect(report.lastToolCall).toBe("Bash: echo waiting; sleep 1000");
      expect(await pidsWithEnv(marker)).toEqual([]);
    } finally {
      await dirs.cleanup();
    }
  });
});
