/**
 * run-claude's limits against the real CLI: the live cost guard, the wall-clock
 * timeout, and observers that fail. Behaviour only, no timing assertions.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findAgentProcesses, runClaude, type RunClaudeOptions } from "../../../src/adapters/claude/run-claude.js";
import type { StreamEvent } from "../../../src/core/stream-event.js";
import { startModelServer, type ModelServer } from "../../../src/offline/model-server.js";
import { makeCliDirs, runClaudeOptions, type CliDirs } from "../../support/run-cli.js";

const KILL_GRACE = { interrupt: 2_000, terminate: 2_000 };

function baseOptions(dirs: CliDirs, url: string, overrides: Partial<RunClaudeOptions> = {}): RunClaudeOptions {
  return runClaudeOptions(dirs, url, { killGraceMs: KILL_GRACE, ...overrides });
}

/**
 * A model that starts an expensive answer and never finishes it: `message_start`
 * reports 2M input tokens (USD 10 at Opus 4.5+ prices), one text block is sent
 * complete, then the stream stays open. The CLI prints the assistant event with that
 * usage at once, but checks --max-budget-usd only when the model call has ended
 * (verified with 2.1.197), so only the harness's guard can stop this session.
 * The scripted model server always finishes its streams, hence this small server.
 */
async function startExpensiveHangingModel(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.method !== "POST" || !(req.url ?? "").startsWith("/v1/messages")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(req.method === "HEAD" ? undefined : "{}");
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const send = (event: string, data: Record<string, unknown>): void => {
        res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
      };
      send("message_start", {
        message: {
          id: `msg_${randomUUID().replace(/-/g, "").slice(0, 24)}`,
          type: "message",
          role: "assistant",
          model: "claude-opus-4-8",
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 2_000_000, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
        },
      });
      send("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
      send("content_block_delta", { index: 0, delta: { type: "text_delta", text: "Let me think about this at length." } });
      send("content_block_stop", { index: 0 });
      // …and nothing more: the answer is still being "generated".
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("runClaude limits with the real CLI", () => {
  let server: ModelServer;
  beforeAll(async () => {
    server = await startModelServer({
      scenarios: [
        { name: "slow", match: "[scenario:slow]", turns: [{ delayMs: 600_000, text: "Too late." }] },
        {
          name: "write-file",
          turns: [
            { text: "I will write the file.", toolCalls: [{ name: "Write", input: { file_path: "{{cwd}}/hello.txt", content: "hello\n" } }] },
            { text: "Wrote hello.txt." },
          ],
        },
      ],
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it("stops a session whose live cost passes the budget before the CLI's own check (max_budget)", async () => {
    const model = await startExpensiveHangingModel();
    const dirs = await makeCliDirs("run-claude-cost-");
    try {
      const costs: number[] = [];
      const options = baseOptions(dirs, model.url, {
        prompt: "Think hard.",
        maxBudgetUsd: 1,
        onEvent: (_event, report) => costs.push(report.costUsd),
      });
      const { report } = await runClaude(options);
      expect(report.outcome).toBe("max_budget");
      // The CLI, interrupted mid-answer, writes error_during_execution ("aborted_streaming")
      // with total_cost_usd 0: it does not count the aborted call. The report keeps the live cost.
      expect(report.resultSeen).toBe(true);
      // 2M input tokens at USD 5 per million (claude-opus-4-8), as the CLI prices them.
      expect(report.costUsd).toBeCloseTo(10, 2);
      expect(costs.at(-1)).toBeGreaterThan(options.maxBudgetUsd);
      expect(report.errorMessage).toMatch(/over the budget of \$1; the harness stopped it/);
      expect(await findAgentProcesses(options.agentId)).toEqual([]);
    } finally {
      await dirs.cleanup();
      await model.close();
    }
  });

  it("stops a session that runs past the wall-clock timeout (timed_out)", async () => {
    const dirs = await makeCliDirs("run-claude-timeout-");
    try {
      const options = baseOptions(dirs, server.url, { prompt: "Take your time. [scenario:slow]", wallTimeoutMs: 4_000 });
      const { report } = await runClaude(options);
      expect(report.outcome).toBe("timed_out");
      expect(report.errorMessage).toMatch(/ran longer than 4000 ms/);
      expect(report.sessionId).toBe(options.sessionId);
      expect(await findAgentProcesses(options.agentId)).toEqual([]);
      expect(server.requests.some((r) => r.scenario === "slow")).toBe(true);
    } finally {
      await dirs.cleanup();
    }
  });

  it("keeps running when the event observer throws or rejects", async () => {
    const dirs = await makeCliDirs("run-claude-observer-");
    try {
      const seen: StreamEvent[] = [];
      const errors: unknown[] = [];
      let calls = 0;
      const options = baseOptions(dirs, server.url, {
        onEvent: (event) => {
          seen.push(event);
          calls += 1;
          if (calls % 2 === 0) return Promise.reject(new Error("async observer failed")) as unknown as void;
          throw new Error("observer failed");
        },
        onObserverError: (error) => {
          errors.push(error);
          throw new Error("and so does the error handler");
        },
      });
      const { report, exitCode } = await runClaude(options);
      expect(exitCode).toBe(0);
      expect(report.outcome).toBe("success");
      expect(report.filesChanged).toEqual(["hello.txt"]);
      expect(seen.at(-1)?.type).toBe("result");
      await expect.poll(() => errors.length).toBe(seen.length);
    } finally {
      await dirs.cleanup();
    }
  });
});
