/**
 * The reducer's live cost (computed from usage as the CLI does) and its memory
 * bounds: a report stays small however large the transcript's lines are.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { costOfUsage, modelPrice } from "../../src/core/model-cost.js";
import { createSessionReducer, MAX_FINAL_MESSAGE_CHARS, MAX_LAST_TOOL_CALL_CHARS, outcomeOf } from "../../src/core/session-report.js";
import { createLineSplitter } from "../../src/core/stream-lines.js";

const dir = fileURLToPath(new URL("../fixtures/cli/2.1.197/", import.meta.url));
const lines = (name: string): string[] =>
  readFileSync(`${dir}${name}.jsonl`, "utf8")
    .split("\n")
    .filter((l) => l.length > 0);
const parsed = (line: string): Record<string, unknown> => JSON.parse(line) as Record<string, unknown>;

describe("cost computed from usage", () => {
  it("prices usage as the CLI does (the budget fixture: 2M in + 100k out on claude-opus-4-8 = USD 12.5)", () => {
    expect(costOfUsage("claude-opus-4-8[1m]", { input_tokens: 2_000_000, output_tokens: 100_000 })).toBeCloseTo(12.5, 10);
    const [result] = lines("budget").filter((l) => l.startsWith('{"type":"result"'));
    expect(parsed(result ?? "{}").total_cost_usd as number).toBe(12.5);
  });

  it("prices cache reads, cache writes (5 min and 1 h) and web searches", () => {
    const cost = costOfUsage("claude-sonnet-4-5-20250929", {
      input_tokens: 1_000_000,
      output_tokens: 0,
      cache_read_input_tokens: 1_000_000,
      cache_creation_input_tokens: 2_000_000,
      cache_creation: { ephemeral_1h_input_tokens: 1_000_000 },
      server_tool_use: { web_search_requests: 3 },
    });
    expect(cost).toBeCloseTo(3 + 0.3 + 3.75 + 6 + 0.03, 10);
  });

  it.each([
    ["claude-opus-4-8", 5],
    ["claude-opus-4-5-20251101", 5],
    ["claude-opus-4-1-20250805", 15],
    ["claude-opus-4-20250514", 15],
    ["claude-sonnet-4-5", 3],
    ["claude-3-7-sonnet-20250219", 3],
    ["claude-haiku-4-5-20251001", 1],
    ["claude-3-5-haiku-20241022", 0.8],
    ["us.anthropic.claude-sonnet-4-5-20250929-v1:0", 3],
    ["some-gateway-model", 5],
  ])("%s costs USD %d per million input tokens", (model, perMillion) => {
    expect(modelPrice(model).inputTokens).toBe(perMillion);
  });

  it("fast mode costs more on Opus", () => {
    expect(costOfUsage("claude-opus-4-8", { input_tokens: 1_000_000, output_tokens: 0, speed: "fast" })).toBe(10);
  });

  it("the live cost before the result equals the CLI's total when the final output counts are known (--include-partial-messages)", () => {
    const all = lines("partial-messages");
    const reducer = createSessionReducer();
    for (const line of all.filter((l) => !l.startsWith('{"type":"result"'))) reducer.feedLine(line);
    const total = parsed(all.find((l) => l.startsWith('{"type":"result"')) ?? "{}").total_cost_usd as number;
    expect(reducer.report().costUsd).toBeCloseTo(total, 10);
  });

  it("the live cost is a lower bound without partial messages, and the result's total replaces it", () => {
    const all = lines("success");
    const reducer = createSessionReducer();
    for (const line of all.filter((l) => !l.startsWith('{"type":"result"'))) reducer.feedLine(line);
    const live = reducer.report().costUsd;
    expect(live).toBeGreaterThan(0);
    for (const line of all.filter((l) => l.startsWith('{"type":"result"'))) reducer.feedLine(line);
    const total = reducer.finish({ exitCode: 0, signal: null }).costUsd;
    expect(total).toBe(0.003);
    expect(live).toBeLessThanOrEqual(total);
  });

  it("the budget stop of the harness is an outcome of its own, and a CLI result written on the way out does not hide it", () => {
    expect(outcomeOf({ result: null, exitCode: 0, signal: null, stopReason: "max_budget" })).toBe("max_budget");
    expect(outcomeOf({ result: { subtype: "error_during_execution", is_error: true }, exitCode: 1, signal: null, stopReason: "max_budget" })).toBe(
      "max_budget",
    );
    const reducer = createSessionReducer();
    for (const line of lines("budget").slice(0, 2)) reducer.feedLine(line);
    const r = reducer.finish({ exitCode: 0, signal: null, stopReason: "max_budget", detail: "over budget; the harness stopped it." });
    expect(r.outcome).toBe("max_budget");
    expect(r.errorMessage).toBe("over budget; the harness stopped it.");
    expect(r.costUsd).toBeGreaterThan(10);
  });
});

/** A JSON line with `chars` characters of output, twice: a Bash tool result shaped like the captured one. */
function bigToolResultLine(sessionId: string, toolUseId: string, chars: number): string {
  const stdout = "x".repeat(chars);
  return JSON.stringify({
    type: "user",
    message: { role: "user", content: [{ tool_use_id: toolUseId, type: "tool_result", content: stdout, is_error: false }] },
    parent_tool_use_id: null,
    session_id: sessionId,
    tool_use_result: { stdout, stderr: "", interrupted: false, isImage: false, noOutputExpected: false },
  });
}

function assistantLine(sessionId: string, id: string, content: unknown[]): string {
  return JSON.stringify({
    type: "assistant",
    message: { id, type: "message", role: "assistant", model: "claude-opus-4-8", content, usage: { input_tokens: 10, output_tokens: 1 } },
    parent_tool_use_id: null,
    session_id: sessionId,
  });
}

/** A callable gc in this process (vitest does not start workers with --expose-gc). */
function gc(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

describe("memory stays bounded", () => {
  it("feeds a 50 MB line and many events through the splitter and keeps the report small", () => {
    const sessionId = "00000000-0000-4000-8000-000000000000";
    const reducer = createSessionReducer({ cwd: "/w" });
    let seen = 0;
    const splitter = createLineSplitter((line) => {
      seen += 1;
      reducer.feedLine(line);
    });
    const push = (line: string): void => {
      // In pipe-sized chunks, as stdout arrives.
      const buf = Buffer.from(`${line}\n`);
      for (let i = 0; i < buf.length; i += 65_536) splitter.push(buf.subarray(i, i + 65_536));
    };
    for (const line of lines("success")) if (!line.startsWith('{"type":"result"')) push(line);
    gc();
    const before = process.memoryUsage().heapUsed;

    // 50 MB in all: the CLI prints a Bash output twice (tool_result content and tool_use_result.stdout).
    const huge = 25 * 1024 * 1024;
    push(assistantLine(sessionId, "msg_big_1", [{ type: "tool_use", id: "toolu_big_1", name: "Bash", input: { command: `echo ${"y".repeat(1_000_000)}` } }]));
    push(bigToolResultLine(sessionId, "toolu_big_1", huge));
    // Writes whose content is large: the reducer must not keep tool inputs.
    for (let i = 0; i < 5; i++) {
      push(
        assistantLine(sessionId, `msg_write_${i}`, [
          { type: "tool_use", id: `toolu_w${i}`, name: "Write", input: { file_path: `/w/big-${i}.txt`, content: "z".repeat(10 * 1024 * 1024) } },
        ]),
      );
      push(
        JSON.stringify({
          type: "user",
          message: { role: "user", content: [{ tool_use_id: `toolu_w${i}`, type: "tool_result", content: "ok" }] },
          session_id: sessionId,
        }),
      );
    }
    for (let i = 0; i < 20_000; i++) {
      push(assistantLine(sessionId, `msg_${i}`, [{ type: "tool_use", id: `toolu_${i}`, name: "Bash", input: { command: `echo ${i}` } }]));
      push(
        JSON.stringify({
          type: "user",
          message: { role: "user", content: [{ tool_use_id: `toolu_${i}`, type: "tool_result", content: `${i}` }] },
          session_id: sessionId,
        }),
      );
    }
    // A final message and a result text far longer than the caps.
    push(assistantLine(sessionId, "msg_final", [{ type: "text", text: "F".repeat(5_000_000) }]));
    splitter.end();

    const live = reducer.report();
    expect(live.finalMessage?.length).toBe(MAX_FINAL_MESSAGE_CHARS);
    expect(live.lastToolCall).toBe("Bash: echo 19999");
    // Usage of 20 007 messages (more than the reducer remembers ids of) is counted once each.
    expect(live.inputTokens).toBe(300 + 20_007 * 10);
    expect(live.turns).toBe(3 + 20_007);
    expect(live.toolCalls).toBe(2 + 1 + 5 + 20_000);

    const [result] = lines("success").filter((l) => l.startsWith('{"type":"result"'));
    push(JSON.stringify({ ...parsed(result ?? "{}"), result: "R".repeat(3_000_000) }));
    splitter.end();
    const report = reducer.finish({ exitCode: 0, signal: null });

    expect(seen).toBe(lines("success").length + 2 + 10 + 40_000 + 1);
    expect(report.outcome).toBe("success");
    expect(report.events).toBe(seen);
    expect(report.nonJsonLines).toBe(0);
    expect(report.toolCalls).toBe(2 + 1 + 5 + 20_000);
    expect(report.filesChanged).toEqual([expect.stringMatching(/\/hello\.txt$/), "big-0.txt", "big-1.txt", "big-2.txt", "big-3.txt", "big-4.txt"]);
    expect(report.finalMessage?.length).toBe(MAX_FINAL_MESSAGE_CHARS);
    expect(report.lastToolCall?.length).toBeLessThanOrEqual(MAX_LAST_TOOL_CALL_CHARS);
    expect(JSON.stringify(report).length).toBeLessThan(100_000);

    // Nothing of the big lines is retained: 100 MB of tool inputs and results went through.
    gc();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(40 * 1024 * 1024);
  });

  it("caps a huge tool call summary", () => {
    const reducer = createSessionReducer();
    reducer.feedLine(assistantLine("s", "m1", [{ type: "tool_use", id: "t1", name: "Grep", input: { pattern: "p".repeat(1_000_000) } }]));
    reducer.feedLine(assistantLine("s", "m2", [{ type: "tool_use", id: "t2", name: `Tool${"N".repeat(10_000)}`, input: {} }]));
    expect(reducer.report().lastToolCall?.length).toBeLessThanOrEqual(MAX_LAST_TOOL_CALL_CHARS);
  });
});
