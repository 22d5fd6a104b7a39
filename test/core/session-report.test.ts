import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createSessionReducer, outcomeOf, type SessionExit, type SessionOutcome } from "../../src/core/session-report.js";

const dir = fileURLToPath(new URL("../fixtures/cli/2.1.197/", import.meta.url));

interface Meta {
  exitCode: number | null;
  signal: string | null;
  sentSignal: string | null;
}

function fixture(name: string): { lines: string[]; meta: Meta } {
  const lines = readFileSync(`${dir}${name}.jsonl`, "utf8")
    .split("\n")
    .filter((l) => l.length > 0);
  const meta = JSON.parse(readFileSync(`${dir}${name}.meta.json`, "utf8")) as Meta;
  return { lines, meta };
}

function reduce(lines: string[], exit: SessionExit) {
  const reducer = createSessionReducer();
  for (const line of lines) reducer.feedLine(line);
  return reducer.finish(exit);
}

describe("session report from captured CLI output", () => {
  const cases: Array<[string, SessionOutcome]> = [
    ["success", "success"],
    ["tool-error", "success"],
    ["max-turns", "max_turns"],
    ["budget", "max_budget"],
    ["api-error-first-turn", "api_error"],
    ["api-error-mid-session", "api_error"],
    ["permission-denial", "success"],
    ["partial-messages", "success"],
    // Signals the harness did not send: SIGINT makes the CLI write "[Request interrupted by user…]" and
    // error_during_execution (read as interrupted, not an API error); SIGTERM exits 143 with no result.
    ["sigint", "interrupted"],
    ["sigterm", "crashed"],
  ];
  it.each(cases)("%s → %s", (name, expected) => {
    const { lines, meta } = fixture(name);
    const report = reduce(lines, { exitCode: meta.exitCode, signal: meta.signal });
    expect(report.outcome).toBe(expected);
    expect(report.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(report.model).not.toBeNull();
    expect(report.nonJsonLines).toBe(0);
    expect(report.events).toBe(lines.length);
  });

  it.each([["sigint"], ["sigterm"]])("%s sent by the harness → interrupted", (name) => {
    const { lines, meta } = fixture(name);
    const report = reduce(lines, { exitCode: meta.exitCode, signal: meta.signal, stopReason: "interrupted" });
    expect(report.outcome).toBe("interrupted");
    expect(report.errorMessage).not.toBeNull();
  });

  it("success: tools, files, final message", () => {
    const { lines, meta } = fixture("success");
    const r = reduce(lines, { exitCode: meta.exitCode, signal: meta.signal });
    expect(r.resultSeen).toBe(true);
    expect(r.turns).toBe(3);
    expect(r.toolCalls).toBe(2);
    expect(r.toolCallsByName).toEqual({ Write: 1, Bash: 1 });
    expect(r.toolErrors).toBe(0);
    expect(r.filesChanged).toEqual(["hello.txt"]);
    expect(r.lastToolCall).toBe("Bash: cat hello.txt");
    expect(r.finalMessage).toBe("Wrote hello.txt and checked its content.");
    expect(r.errorMessage).toBeNull();
    expect(r.costUsd).toBeGreaterThan(0);
  });

  it("tool-error counts the failed tool, permission-denial counts the denial and not as a tool error", () => {
    const te = reduce(fixture("tool-error").lines, { exitCode: 0, signal: null });
    expect(te.toolErrors).toBe(1);
    expect(te.permissionDenials).toBe(0);
    const pd = reduce(fixture("permission-denial").lines, { exitCode: 0, signal: null });
    expect(pd.permissionDenials).toBe(1);
    expect(pd.toolErrors).toBe(0);
    expect(pd.toolCallsByName).toEqual({ WebFetch: 1 });
  });

  it("api errors carry the status and the message", () => {
    for (const name of ["api-error-first-turn", "api-error-mid-session"]) {
      const r = reduce(fixture(name).lines, { exitCode: 1, signal: null });
      expect(r.apiErrorStatus).toBe(400);
      expect(r.errorMessage).toMatch(/API Error: 400/);
    }
  });

  it("max-turns and budget report the CLI's error text", () => {
    expect(reduce(fixture("max-turns").lines, { exitCode: 1, signal: null }).errorMessage).toMatch(/maximum number of turns/);
    const budget = reduce(fixture("budget").lines, { exitCode: 1, signal: null });
    expect(budget.errorMessage).toMatch(/maximum budget/);
    // The budget result's `usage` is all zeros; the tokens come from modelUsage.
    expect(budget.inputTokens).toBeGreaterThanOrEqual(2_000_000);
  });

  it("counts tokens once per message id", () => {
    const { lines } = fixture("success");
    const reducer = createSessionReducer();
    const withoutResult = lines.filter((l) => !l.startsWith('{"type":"result"'));
    for (const line of withoutResult) reducer.feedLine(line);
    // Three model calls of 100 input tokens; the first one is printed as two assistant events.
    const assistantLines = withoutResult.filter((l) => l.startsWith('{"type":"assistant"'));
    expect(assistantLines.length).toBe(4);
    expect(reducer.report().inputTokens).toBe(300);
    // Feeding the same events again changes nothing.
    for (const line of assistantLines) reducer.feedLine(line);
    expect(reducer.report().inputTokens).toBe(300);
    expect(reducer.report().turns).toBe(3);
    expect(reducer.report().outcome).toBe("incomplete");
  });

  it("takes output tokens from message_delta with --include-partial-messages", () => {
    const lines = fixture("partial-messages").lines.filter((l) => !l.startsWith('{"type":"result"'));
    const reducer = createSessionReducer();
    for (const line of lines) reducer.feedLine(line);
    expect(reducer.report().outputTokens).toBe(60);
  });

  it("counts non-JSON lines and ignores unknown event types without throwing", () => {
    const { lines } = fixture("success");
    const reducer = createSessionReducer();
    reducer.feedLine("Warning: something on stdout");
    reducer.feedLine("{not json");
    reducer.feedLine("");
    reducer.feedLine("[1,2]");
    reducer.feedLine('{"type":"brand_new_event","x":1}');
    reducer.feedLine('{"type":"result","subtype":42}');
    for (const line of lines) reducer.feedLine(line);
    const r = reducer.finish({ exitCode: 0, signal: null });
    expect(r.nonJsonLines).toBe(3);
    expect(r.events).toBe(lines.length + 2);
    expect(r.outcome).toBe("success");
  });

  it("makes files relative to the given cwd", () => {
    const reducer = createSessionReducer({ cwd: "/elsewhere" });
    for (const line of fixture("success").lines) reducer.feedLine(line);
    expect(reducer.finish({ exitCode: 0, signal: null }).filesChanged[0]).toMatch(/^\/.*\/hello\.txt$/);
  });

  it("uses the caller's times for the duration", () => {
    const reducer = createSessionReducer({ startedAt: 1_000 });
    for (const line of fixture("sigterm").lines) reducer.feedLine(line);
    const r = reducer.finish({ exitCode: null, signal: "SIGKILL", stopReason: "stalled", endedAt: 4_500, detail: "no output" });
    expect(r.durationMs).toBe(3_500);
    expect(r.outcome).toBe("stalled");
    expect(r.errorMessage).toBe("no output");
  });
});

describe("outcomeOf", () => {
  const ok = { subtype: "success", is_error: false };
  it.each<[Parameters<typeof outcomeOf>[0], SessionOutcome]>([
    [{ result: ok, exitCode: 0, signal: null }, "success"],
    [{ result: ok, exitCode: 0, signal: null, stopReason: "stalled" }, "success"],
    [{ result: { subtype: "success", is_error: true }, exitCode: 1, signal: null }, "api_error"],
    [{ result: { subtype: "error_during_execution", is_error: true }, exitCode: 1, signal: null }, "api_error"],
    [{ result: { subtype: "error_during_execution", is_error: true }, exitCode: 1, signal: null, stopReason: "interrupted" }, "interrupted"],
    [{ result: { subtype: "error_max_turns", is_error: true }, exitCode: 1, signal: null }, "max_turns"],
    [{ result: { subtype: "error_max_budget_usd", is_error: true }, exitCode: 1, signal: null }, "max_budget"],
    [{ result: { subtype: "error_something_new", is_error: true }, exitCode: 1, signal: null }, "crashed"],
    [{ result: null, exitCode: 0, signal: null }, "incomplete"],
    [{ result: null, exitCode: null, signal: null }, "incomplete"],
    [{ result: null, exitCode: 1, signal: null }, "crashed"],
    [{ result: null, exitCode: null, signal: "SIGKILL" }, "crashed"],
    [{ result: null, exitCode: null, signal: "SIGKILL", stopReason: "stalled" }, "stalled"],
    [{ result: null, exitCode: 143, signal: null, stopReason: "timed_out" }, "timed_out"],
    [{ result: null, exitCode: 0, signal: null, stopReason: "interrupted" }, "interrupted"],
  ])("%j → %s", (input, expected) => {
    expect(outcomeOf(input)).toBe(expected);
  });
});
