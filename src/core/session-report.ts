/**
 * A pure reducer from the CLI's stream-json events to a session report. No I/O,
 * no clock: times are passed in. Feed it events (or raw lines) as they arrive,
 * read `report()` at any time, call `finish()` once the process has exited.
 */
import {
  parseStreamLine,
  type AssistantEvent,
  type ResultEvent,
  type StreamEvent,
  type Usage,
  type UserEvent,
} from "./stream-event.js";

export type SessionOutcome =
  | "success"
  | "max_turns"
  | "max_budget"
  | "api_error"
  | "incomplete"
  | "stalled"
  | "timed_out"
  | "interrupted"
  | "crashed";

/** Why the harness stopped the process itself, if it did. */
export type StopReason = "stalled" | "timed_out" | "interrupted";

export interface SessionReport {
  outcome: SessionOutcome;
  sessionId: string | null;
  model: string | null;
  turns: number;
  costUsd: number;
  /** Input tokens including cache reads and writes; counted once per message.id. */
  inputTokens: number;
  /** Output tokens, counted once per message.id. */
  outputTokens: number;
  toolCalls: number;
  toolCallsByName: Record<string, number>;
  /** Tool results with is_error, not counting permission denials. */
  toolErrors: number;
  permissionDenials: number;
  /** Files written by successful Write/Edit/MultiEdit/NotebookEdit calls, relative to cwd when inside it. */
  filesChanged: string[];
  durationMs: number;
  finalMessage: string | null;
  errorMessage: string | null;
  apiErrorStatus: number | null;
  /** The last tool call, short, e.g. "Bash: npm test". */
  lastToolCall: string | null;
  resultSeen: boolean;
  nonJsonLines: number;
  events: number;
}

export interface SessionExit {
  exitCode: number | null;
  signal: string | null;
  /** Set when the harness stopped the process (stall, wall-clock timeout, interrupt). */
  stopReason?: StopReason;
  /** When the process ended, on the caller's clock (with `startedAt`, gives durationMs). */
  endedAt?: number;
  /** A message for the report when the session has no result of its own (e.g. "no output for 60 s"). */
  detail?: string;
}

export interface SessionReducerOptions {
  /** The session's working directory, to make changed files relative (defaults to the init event's cwd). */
  cwd?: string;
  /** When the process started, on the caller's clock. */
  startedAt?: number;
}

export interface SessionReducer {
  /** Parses one stdout line; counts it as non-JSON when it is not an event. Returns the event, if any. */
  feedLine(line: string): StreamEvent | null;
  feed(event: StreamEvent): void;
  /** The report so far (outcome as if the stream ended now with the process still running). */
  report(): SessionReport;
  finish(exit: SessionExit): SessionReport;
}

export interface OutcomeInput {
  result: Pick<ResultEvent, "subtype" | "is_error"> | null;
  exitCode: number | null;
  signal: string | null;
  stopReason?: StopReason;
}

/** The outcome taxonomy. Only `subtype == "success" && !is_error` is a success. */
export function outcomeOf(input: OutcomeInput): SessionOutcome {
  const { result, stopReason } = input;
  if (result !== null) {
    if (result.subtype === "success" && !result.is_error) return "success";
    // The harness stopped it and the CLI wrote an error result on the way out (SIGINT does).
    if (stopReason !== undefined) return stopReason;
    switch (result.subtype) {
      case "error_max_turns":
        return "max_turns";
      case "error_max_budget_usd":
        return "max_budget";
      case "success":
      case "error_during_execution":
        return "api_error";
      default:
        return "crashed";
    }
  }
  if (stopReason !== undefined) return stopReason;
  if ((input.exitCode !== null && input.exitCode !== 0) || input.signal !== null) return "crashed";
  return "incomplete";
}

const FILE_TOOLS: Record<string, string> = {
  Write: "file_path",
  Edit: "file_path",
  MultiEdit: "file_path",
  NotebookEdit: "notebook_path",
};

const SUMMARY_FIELDS: Record<string, string> = {
  Bash: "command",
  Read: "file_path",
  Write: "file_path",
  Edit: "file_path",
  MultiEdit: "file_path",
  NotebookEdit: "notebook_path",
  Glob: "pattern",
  Grep: "pattern",
  WebFetch: "url",
  WebSearch: "query",
  Task: "description",
  Agent: "description",
};

const SHORT = 80;

function shorten(s: string, max = SHORT): string {
  const lines = s.split("\n");
  const first = lines[0] ?? "";
  if (first.length > max) return `${first.slice(0, max - 1)}…`;
  return lines.length > 1 ? `${first} …` : first;
}

function relativeTo(cwd: string | null, path: string): string {
  if (cwd === null || cwd === "") return path;
  const base = cwd.endsWith("/") ? cwd : `${cwd}/`;
  return path.startsWith(base) ? path.slice(base.length) : path;
}

function totalInput(u: Usage): number {
  return u.input_tokens + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0);
}

function textOfBlocks(content: AssistantEvent["message"]["content"]): string {
  return content
    .map((b) => (b.type === "text" ? b.text : ""))
    .filter((t) => t.length > 0)
    .join("\n");
}

export function createSessionReducer(options: SessionReducerOptions = {}): SessionReducer {
  let cwd: string | null = options.cwd ?? null;
  let sessionId: string | null = null;
  let model: string | null = null;
  let result: ResultEvent | null = null;
  let events = 0;
  let nonJsonLines = 0;
  const usageById = new Map<string, { input: number; output: number }>();
  const turnIds = new Set<string>();
  const toolUses = new Map<string, { name: string; input: Record<string, unknown> }>();
  const toolCallsByName: Record<string, number> = {};
  const erroredToolIds = new Set<string>();
  const filesChanged: string[] = [];
  let lastToolCall: string | null = null;
  let lastAssistantText: string | null = null;
  let syntheticError: { message: string; status: number | null } | null = null;
  let partialMessageId: string | null = null;
  let finished: SessionReport | null = null;

  const recordUsage = (id: string, usage: { input?: number; output?: number }): void => {
    const current = usageById.get(id) ?? { input: 0, output: 0 };
    // Several events carry the same message's usage: keep the largest, never add.
    usageById.set(id, {
      input: Math.max(current.input, usage.input ?? 0),
      output: Math.max(current.output, usage.output ?? 0),
    });
  };

  const onAssistant = (e: AssistantEvent): void => {
    const m = e.message;
    if (m.usage !== undefined) recordUsage(m.id, { input: totalInput(m.usage), output: m.usage.output_tokens });
    if (e.parent_tool_use_id == null) turnIds.add(m.id);
    if (e.error !== undefined || m.model === "<synthetic>") {
      const text = textOfBlocks(m.content);
      const status = /API Error: (\d{3})/.exec(text)?.[1];
      if (e.error !== undefined) syntheticError = { message: text || e.error, status: status === undefined ? null : Number(status) };
    }
    const text = textOfBlocks(m.content);
    if (text.length > 0 && e.parent_tool_use_id == null) lastAssistantText = text;
    for (const block of m.content) {
      if (block.type !== "tool_use" || toolUses.has(block.id)) continue;
      toolUses.set(block.id, { name: block.name, input: block.input });
      toolCallsByName[block.name] = (toolCallsByName[block.name] ?? 0) + 1;
      const field = SUMMARY_FIELDS[block.name];
      const value = field === undefined ? undefined : block.input[field];
      lastToolCall =
        typeof value === "string" && value.length > 0
          ? shorten(`${block.name}: ${field === "file_path" || field === "notebook_path" ? relativeTo(cwd, value) : value}`)
          : block.name;
    }
  };

  const onUser = (e: UserEvent): void => {
    const content = e.message.content;
    if (typeof content === "string") return;
    for (const block of content) {
      if (block.type !== "tool_result") continue;
      if (block.is_error === true) {
        erroredToolIds.add(block.tool_use_id);
        continue;
      }
      const use = toolUses.get(block.tool_use_id);
      const field = use === undefined ? undefined : FILE_TOOLS[use.name];
      const path = field === undefined ? undefined : use?.input[field];
      if (typeof path === "string") {
        const rel = relativeTo(cwd, path);
        if (!filesChanged.includes(rel)) filesChanged.push(rel);
      }
    }
  };

  const feed = (event: StreamEvent): void => {
    events += 1;
    if ("session_id" in event && typeof event.session_id === "string" && sessionId === null) sessionId = event.session_id;
    switch (event.type) {
      case "system":
        if (event.subtype === "init") {
          if (event.session_id !== undefined) sessionId = event.session_id;
          if (event.model !== undefined) model = event.model;
          if (cwd === null && event.cwd !== undefined) cwd = event.cwd;
        }
        return;
      case "assistant":
        onAssistant(event);
        return;
      case "user":
        onUser(event);
        return;
      case "stream_event": {
        const inner = event.event;
        if (inner.type === "message_start" && inner.message !== undefined) {
          partialMessageId = inner.message.id;
          const u = inner.message.usage;
          if (u !== undefined) recordUsage(inner.message.id, { input: totalInput(u), output: u.output_tokens });
        } else if (inner.type === "message_delta" && partialMessageId !== null && inner.usage?.output_tokens !== undefined) {
          recordUsage(partialMessageId, { output: inner.usage.output_tokens });
        }
        return;
      }
      case "result":
        result = event;
        sessionId = event.session_id;
        return;
      case "unknown":
        return;
    }
  };

  const build = (exit: SessionExit | null): SessionReport => {
    let inputTokens = 0;
    let outputTokens = 0;
    for (const u of usageById.values()) {
      inputTokens += u.input;
      outputTokens += u.output;
    }
    if (result !== null) {
      // The result's totals are authoritative when larger (assistant events carry the
      // usage of message_start, before the final output count is known). With a
      // budget stop, `usage` is zero and only `modelUsage` has the numbers.
      if (result.usage !== undefined) {
        inputTokens = Math.max(inputTokens, totalInput(result.usage));
        outputTokens = Math.max(outputTokens, result.usage.output_tokens);
      }
      let mi = 0;
      let mo = 0;
      for (const m of Object.values(result.modelUsage ?? {})) {
        mi += m.inputTokens + (m.cacheReadInputTokens ?? 0) + (m.cacheCreationInputTokens ?? 0);
        mo += m.outputTokens;
      }
      inputTokens = Math.max(inputTokens, mi);
      outputTokens = Math.max(outputTokens, mo);
    }
    const denied = new Set((result?.permission_denials ?? []).map((d) => d.tool_use_id));
    const toolErrors = [...erroredToolIds].filter((id) => !denied.has(id)).length;
    const outcome = outcomeOf({
      result,
      exitCode: exit?.exitCode ?? null,
      signal: exit?.signal ?? null,
      stopReason: exit?.stopReason,
    });

    let errorMessage: string | null = null;
    if (outcome !== "success") {
      if (result !== null && (result.errors?.length ?? 0) > 0) errorMessage = (result.errors ?? []).join("; ");
      else if (result !== null && result.is_error && result.result !== undefined) errorMessage = result.result;
      else if (syntheticError !== null) errorMessage = syntheticError.message;
      if (exit !== null && outcome !== "max_turns" && outcome !== "max_budget" && outcome !== "api_error") {
        const how = exit.signal !== null ? ` (signal ${exit.signal})` : exit.exitCode !== null ? ` (exit code ${exit.exitCode})` : "";
        const base = exit.detail ?? `The session ended${how} without a result event.`;
        errorMessage = errorMessage === null ? base : `${base} ${errorMessage}`;
      }
    }

    let durationMs = result?.duration_ms ?? 0;
    if (exit?.endedAt !== undefined && options.startedAt !== undefined) durationMs = Math.max(0, exit.endedAt - options.startedAt);

    return {
      outcome,
      sessionId,
      model,
      turns: result?.num_turns ?? turnIds.size,
      costUsd: result?.total_cost_usd ?? 0,
      inputTokens,
      outputTokens,
      toolCalls: toolUses.size,
      toolCallsByName: { ...toolCallsByName },
      toolErrors,
      permissionDenials: result?.permission_denials?.length ?? 0,
      filesChanged: [...filesChanged],
      durationMs,
      finalMessage: result?.result ?? lastAssistantText,
      errorMessage,
      apiErrorStatus: result?.api_error_status ?? syntheticError?.status ?? null,
      lastToolCall,
      resultSeen: result !== null,
      nonJsonLines,
      events,
    };
  };

  return {
    feedLine(line) {
      if (line.trim().length === 0) return null;
      const event = parseStreamLine(line);
      if (event === null) {
        nonJsonLines += 1;
        return null;
      }
      feed(event);
      return event;
    },
    feed,
    report: () => finished ?? build(null),
    finish(exit) {
      finished = build(exit);
      return finished;
    },
  };
}
