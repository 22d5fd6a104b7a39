/**
 * A pure reducer from the CLI's stream-json events to a session report. No I/O,
 * no clock: times are passed in. Feed it events (or raw lines) as they arrive,
 * read `report()` at any time, call `finish()` once the process has exited.
 */
import { parseStreamLine, type AssistantEvent, type ResultEvent, type StreamEvent, type Usage, type UserEvent } from "./stream-event.js";
import { costOfUsage, type PricedUsage } from "./model-cost.js";

export type SessionOutcome = "success" | "max_turns" | "max_budget" | "api_error" | "incomplete" | "stalled" | "timed_out" | "interrupted" | "crashed";

/** Why the harness stopped the process itself, if it did (`max_budget`: the live cost guard). */
export type StopReason = "stalled" | "timed_out" | "interrupted" | "max_budget";

/** Caps on the report's strings, so that a report stays small whatever the transcript holds. */
export const MAX_FINAL_MESSAGE_CHARS = 20_000;
export const MAX_ERROR_MESSAGE_CHARS = 20_000;
export const MAX_LAST_TOOL_CALL_CHARS = 200;
export const MAX_FILES_CHANGED = 1_000;
export const MAX_TOOL_NAMES = 100;
/** How many permission denials and read warnings the report lists (the count stays exact). */
export const MAX_LISTED_DENIALS = 20;
export const MAX_READ_WARNINGS = 20;
/** A denied call's input, as JSON, cut to this many characters. */
export const MAX_DENIAL_INPUT_CHARS = 200;
/** How many Bash commands the report lists (the first ones, in order), each cut to MAX_BASH_COMMAND_CHARS. */
export const MAX_BASH_COMMANDS = 50;
export const MAX_BASH_COMMAND_CHARS = 500;
/**
 * How many recent message and tool-use ids the reducer remembers (to count a
 * message's usage once, to match a tool result to its call). Older ones are folded
 * into totals, so memory stays bounded however long the session runs.
 */
const RECENT_IDS = 4_096;
/** String values in a line longer than this are cut before the reducer parses it (larger than every cap above). */
export const MAX_EVENT_STRING_CHARS = 65_536;

/** One model's share of a session: tokens counted once per message id, and its cost in USD. */
export interface ModelUsage {
  model: string;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
}

export interface SessionReport {
  outcome: SessionOutcome;
  sessionId: string | null;
  model: string | null;
  /** (Optional only for reports made before it existed; the reducer always sets it.) The CLI version that wrote the stream (the init event's `claude_code_version`; 1.x does not print it). */
  cliVersion?: string | null;
  turns: number;
  /**
   * The larger of the CLI's `total_cost_usd` (in the result event only) and the cost
   * computed from the usage seen so far with the CLI's prices. Before the result the
   * latter is a lower bound: without --include-partial-messages the output tokens of a
   * message are only known at its end. After the result it matters when the CLI was
   * interrupted mid-answer: its total then leaves that call out.
   */
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
  /** The denied calls (at most MAX_LISTED_DENIALS): tool name and its input as JSON (at most MAX_DENIAL_INPUT_CHARS). */
  deniedToolCalls?: Array<{ tool: string; input: string }>;
  /** Files written by successful Write/Edit/MultiEdit/NotebookEdit calls, relative to cwd when inside it. */
  filesChanged: string[];
  /**
   * The Bash tool's commands as the model asked for them (the first MAX_BASH_COMMANDS, each at most
   * MAX_BASH_COMMAND_CHARS), for the session record (src/core/session-record.ts).
   * (Optional only for reports made before it existed; the reducer always sets it.)
   */
  bashCommands?: string[];
  durationMs: number;
  /** At most MAX_FINAL_MESSAGE_CHARS characters. */
  finalMessage: string | null;
  /** At most MAX_ERROR_MESSAGE_CHARS characters. */
  errorMessage: string | null;
  apiErrorStatus: number | null;
  /** The last tool call, short, e.g. "Bash: npm test" (at most MAX_LAST_TOOL_CALL_CHARS characters). */
  lastToolCall: string | null;
  resultSeen: boolean;
  /**
   * Events that did not fit this harness's schema and were read leniently (another
   * CLI version), naming the missing or invalid fields; at most MAX_READ_WARNINGS.
   */
  readWarnings?: string[];
  nonJsonLines: number;
  events: number;
  /**
   * Usage by model (the message's model, else the session's), each message counted
   * once; the costs are the per-message prices scaled so that they add up to costUsd.
   * (Optional only for reports made before it existed; the reducer always sets it.)
   */
  usageByModel?: ModelUsage[];
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
  /** The stream says the user interrupted it ("[Request interrupted by user…]", what the CLI writes on SIGINT). */
  interruptedByUser?: boolean;
}

/** The outcome taxonomy. Only `subtype == "success" && !is_error` is a success. */
export function outcomeOf(input: OutcomeInput): SessionOutcome {
  const { result, stopReason } = input;
  if (result !== null) {
    if (result.subtype === "success" && !result.is_error) return "success";
    // The harness stopped it and the CLI wrote an error result on the way out (SIGINT does).
    if (stopReason !== undefined) return stopReason;
    if (result.subtype === "error_during_execution" && input.interruptedByUser === true) return "interrupted";
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

/** The text the CLI sends as the user's turn when it is interrupted (SIGINT), in every captured version that writes one. */
const INTERRUPTED = "[Request interrupted by user";

/** Which field a leniently read result's cost came from, for its warning. */
function costNote(e: ResultEvent): string {
  if (e.readIssues?.includes("total_cost_usd") !== true) return "";
  const raw = e as Record<string, unknown>;
  for (const field of ["total_cost", "cost_usd"]) if (typeof raw[field] === "number") return ` (cost read from ${field})`;
  return "";
}

function shorten(s: string, max = SHORT): string {
  const lines = s.split("\n");
  const first = lines[0] ?? "";
  if (first.length > max) return `${first.slice(0, max - 1)}…`;
  return lines.length > 1 ? `${first} …` : first;
}

/** `s` cut to `max` characters (the cut marked with "…"). */
export function capString(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function capOrNull(s: string | null | undefined, max: number): string | null {
  return s === null || s === undefined ? null : capString(s, max);
}

function relativeTo(cwd: string | null, path: string): string {
  if (cwd === null || cwd === "") return path;
  const base = cwd.endsWith("/") ? cwd : `${cwd}/`;
  return path.startsWith(base) ? path.slice(base.length) : path;
}

function totalInput(u: Usage): number {
  return u.input_tokens + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0);
}

/** The text blocks of a message, joined, capped at `max` characters (never builds a longer string). */
function textOfBlocks(content: AssistantEvent["message"]["content"], max = MAX_FINAL_MESSAGE_CHARS): string {
  let out = "";
  for (const b of content) {
    if (b.type !== "text" || b.text.length === 0) continue;
    out = out.length === 0 ? b.text.slice(0, max + 1) : `${out}\n${b.text.slice(0, max + 1)}`;
    if (out.length > max) return capString(out, max);
  }
  return out;
}

/** An insertion-ordered map that forgets its oldest entries beyond `capacity`, handing them to `evict`. */
class RecentMap<V> {
  private readonly map = new Map<string, V>();
  constructor(
    private readonly capacity: number,
    private readonly evict: (value: V) => void = () => undefined,
  ) {}
  has(key: string): boolean {
    return this.map.has(key);
  }
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  set(key: string, value: V): void {
    this.map.set(key, value);
    if (this.map.size <= this.capacity) return;
    const oldest = this.map.entries().next();
    if (oldest.done === true) return;
    this.map.delete(oldest.value[0]);
    this.evict(oldest.value[1]);
  }
  values(): IterableIterator<V> {
    return this.map.values();
  }
}

/** What one model call used, for its tokens and its cost. */
interface MessageUsage {
  model: string | null;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  cacheWrite1h: number;
  webSearch: number;
  speed: string | null;
}

function usageOf(u: Usage): Partial<MessageUsage> {
  const extra = u as Usage & PricedUsage;
  return {
    input: u.input_tokens,
    output: u.output_tokens,
    cacheRead: u.cache_read_input_tokens ?? 0,
    cacheWrite: u.cache_creation_input_tokens ?? 0,
    cacheWrite1h: typeof extra.cache_creation?.ephemeral_1h_input_tokens === "number" ? extra.cache_creation.ephemeral_1h_input_tokens : 0,
    webSearch: typeof extra.server_tool_use?.web_search_requests === "number" ? extra.server_tool_use.web_search_requests : 0,
    speed: typeof extra.speed === "string" ? extra.speed : null,
  };
}

export function createSessionReducer(options: SessionReducerOptions = {}): SessionReducer {
  let cwd: string | null = options.cwd ?? null;
  let sessionId: string | null = null;
  let model: string | null = null;
  let cliVersion: string | null = null;
  let interruptedByUser = false;
  const readWarnings: string[] = [];
  let result: ResultEvent | null = null;
  let events = 0;
  let nonJsonLines = 0;
  // Running totals over every message (kept up to date as usage arrives: report() is O(1)).
  const totals = { input: 0, output: 0, cost: 0 };
  const usageById = new RecentMap<MessageUsage>(RECENT_IDS);
  // The same totals by model (metrics): each message's share is moved, never added twice.
  const byModel = new Map<string, { input: number; output: number; cacheRead: number; cacheWrite: number; cost: number }>();
  const bucketOf = new RecentMap<string>(RECENT_IDS);
  const addToModel = (bucket: string, u: MessageUsage, sign: 1 | -1): void => {
    const t = byModel.get(bucket) ?? { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: 0 };
    t.input += sign * u.input;
    t.output += sign * u.output;
    t.cacheRead += sign * u.cacheRead;
    t.cacheWrite += sign * u.cacheWrite;
    t.cost += sign * costOfMessage(u);
    byModel.set(bucket, t);
  };
  let turns = 0;
  const turnIds = new RecentMap<true>(RECENT_IDS);
  // Only what the report needs of each tool call (never its input: a Write can carry megabytes).
  let toolCalls = 0;
  const toolUses = new RecentMap<{ name: string; path: string | null }>(RECENT_IDS);
  const toolCallsByName: Record<string, number> = {};
  let toolErrorCount = 0;
  const erroredToolIds = new RecentMap<true>(RECENT_IDS);
  const filesChanged = new Set<string>();
  const bashCommands: string[] = [];
  let lastToolCall: string | null = null;
  let lastAssistantText: string | null = null;
  let syntheticError: { message: string; status: number | null } | null = null;
  let partialMessageId: string | null = null;
  let finished: SessionReport | null = null;

  const sessionModel = (): string | null => model;
  const costOfMessage = (u: MessageUsage): number =>
    costOfUsage(u.model ?? model, {
      input_tokens: u.input,
      output_tokens: u.output,
      cache_read_input_tokens: u.cacheRead,
      cache_creation_input_tokens: u.cacheWrite,
      cache_creation: { ephemeral_1h_input_tokens: u.cacheWrite1h },
      server_tool_use: { web_search_requests: u.webSearch },
      speed: u.speed,
    });

  const recordUsage = (id: string, model: string | null | undefined, usage: Partial<MessageUsage>): void => {
    const c = usageById.get(id);
    // Several events carry the same message's usage: keep the largest, never add.
    const next: MessageUsage = {
      model: c?.model ?? (model === undefined || model === "<synthetic>" ? null : model),
      input: Math.max(c?.input ?? 0, usage.input ?? 0),
      output: Math.max(c?.output ?? 0, usage.output ?? 0),
      cacheRead: Math.max(c?.cacheRead ?? 0, usage.cacheRead ?? 0),
      cacheWrite: Math.max(c?.cacheWrite ?? 0, usage.cacheWrite ?? 0),
      cacheWrite1h: Math.max(c?.cacheWrite1h ?? 0, usage.cacheWrite1h ?? 0),
      webSearch: Math.max(c?.webSearch ?? 0, usage.webSearch ?? 0),
      speed: c?.speed ?? usage.speed ?? null,
    };
    usageById.set(id, next);
    const oldBucket = bucketOf.get(id);
    if (c !== undefined && oldBucket !== undefined) addToModel(oldBucket, c, -1);
    const bucket = next.model ?? sessionModel() ?? "unknown";
    bucketOf.set(id, bucket);
    addToModel(bucket, next, 1);
    totals.input += next.input + next.cacheRead + next.cacheWrite - (c === undefined ? 0 : c.input + c.cacheRead + c.cacheWrite);
    totals.output += next.output - (c?.output ?? 0);
    totals.cost += costOfMessage(next) - (c === undefined ? 0 : costOfMessage(c));
  };

  const onAssistant = (e: AssistantEvent): void => {
    warnIfLenient("assistant", e.readIssues);
    const m = e.message;
    if (m.usage !== undefined) recordUsage(m.id, m.model, usageOf(m.usage));
    if (e.parent_tool_use_id == null && !turnIds.has(m.id)) {
      turnIds.set(m.id, true);
      turns += 1;
    }
    if (e.error !== undefined || m.model === "<synthetic>") {
      const text = textOfBlocks(m.content);
      const status = /API Error: (\d{3})/.exec(text)?.[1];
      if (e.error !== undefined) syntheticError = { message: text || e.error, status: status === undefined ? null : Number(status) };
    }
    const text = textOfBlocks(m.content);
    if (text.length > 0 && e.parent_tool_use_id == null) lastAssistantText = text;
    for (const block of m.content) {
      if (block.type !== "tool_use" || toolUses.has(block.id)) continue;
      const fileField = FILE_TOOLS[block.name];
      const path = fileField === undefined ? undefined : block.input[fileField];
      toolUses.set(block.id, { name: capString(block.name, MAX_LAST_TOOL_CALL_CHARS), path: typeof path === "string" ? capString(path, 4096) : null });
      toolCalls += 1;
      const byName = Object.hasOwn(toolCallsByName, block.name) || Object.keys(toolCallsByName).length < MAX_TOOL_NAMES ? block.name : "(other)";
      toolCallsByName[byName] = (toolCallsByName[byName] ?? 0) + 1;
      const field = SUMMARY_FIELDS[block.name];
      const value = field === undefined ? undefined : block.input[field];
      if (block.name === "Bash" && typeof value === "string" && value.length > 0 && bashCommands.length < MAX_BASH_COMMANDS)
        bashCommands.push(capString(value, MAX_BASH_COMMAND_CHARS));
      lastToolCall = capString(
        typeof value === "string" && value.length > 0
          ? shorten(`${block.name}: ${field === "file_path" || field === "notebook_path" ? relativeTo(cwd, value) : value.slice(0, 4096)}`)
          : block.name,
        MAX_LAST_TOOL_CALL_CHARS,
      );
    }
  };

  const warnIfLenient = (type: string, issues: string[] | undefined, note = ""): void => {
    if (issues === undefined || readWarnings.length >= MAX_READ_WARNINGS) return;
    const warning = capString(`${type} event not in this CLI version's shape, read leniently: missing or invalid ${issues.join(", ")}${note}`, 500);
    if (!readWarnings.includes(warning)) readWarnings.push(warning);
  };

  const onUser = (e: UserEvent): void => {
    warnIfLenient("user", e.readIssues);
    const content = e.message.content;
    if (typeof content === "string") {
      if (content.startsWith(INTERRUPTED)) interruptedByUser = true;
      return;
    }
    for (const block of content) {
      if (block.type === "text" && block.text.startsWith(INTERRUPTED)) interruptedByUser = true;
      if (block.type !== "tool_result") continue;
      if (block.is_error === true) {
        if (!erroredToolIds.has(block.tool_use_id)) {
          erroredToolIds.set(block.tool_use_id, true);
          toolErrorCount += 1;
        }
        continue;
      }
      const path = toolUses.get(block.tool_use_id)?.path;
      if (typeof path === "string") {
        const rel = relativeTo(cwd, path);
        if (filesChanged.size < MAX_FILES_CHANGED) filesChanged.add(rel);
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
          if (event.claude_code_version !== undefined) cliVersion = event.claude_code_version;
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
          const model = (inner.message as { model?: unknown }).model;
          if (u !== undefined) recordUsage(inner.message.id, typeof model === "string" ? model : null, usageOf(u));
        } else if (inner.type === "message_delta" && partialMessageId !== null && inner.usage?.output_tokens !== undefined) {
          recordUsage(partialMessageId, null, { output: inner.usage.output_tokens });
        }
        return;
      }
      case "result":
        // Keep the result, but not a huge final text: the report caps it anyway.
        result =
          event.result !== undefined && event.result.length > MAX_FINAL_MESSAGE_CHARS
            ? { ...event, result: capString(event.result, MAX_FINAL_MESSAGE_CHARS) }
            : event;
        if (event.session_id !== "") sessionId = event.session_id;
        warnIfLenient("result", event.readIssues, costNote(event));
        return;
      case "unknown":
        return;
    }
  };

  const build = (exit: SessionExit | null): SessionReport => {
    let inputTokens = totals.input;
    let outputTokens = totals.output;
    const estimatedCost = totals.cost;
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
    // Denied calls also come back as errored tool results; a denial older than the
    // remembered ids would be counted as an error (thousands of tool calls ago).
    let deniedErrors = 0;
    for (const id of denied) if (erroredToolIds.has(id)) deniedErrors += 1;
    const toolErrors = toolErrorCount - deniedErrors;
    const outcome = outcomeOf({
      result,
      exitCode: exit?.exitCode ?? null,
      signal: exit?.signal ?? null,
      stopReason: exit?.stopReason,
      interruptedByUser,
    });

    let errorMessage: string | null = null;
    if (outcome !== "success") {
      if (result !== null && (result.errors?.length ?? 0) > 0) errorMessage = (result.errors ?? []).join("; ");
      else if (result !== null && result.is_error && result.result !== undefined) errorMessage = result.result;
      else if (syntheticError !== null) errorMessage = syntheticError.message;
      // The harness's own reason (a stop, or a process without a result), unless the CLI's result explains it.
      const harnessStopped = exit?.stopReason !== undefined && outcome === exit.stopReason;
      if (exit !== null && (harnessStopped || (outcome !== "max_turns" && outcome !== "max_budget" && outcome !== "api_error"))) {
        const how = exit.signal !== null ? ` (signal ${exit.signal})` : exit.exitCode !== null ? ` (exit code ${exit.exitCode})` : "";
        const base = exit.detail ?? `The session ended${how} without a result event.`;
        errorMessage = errorMessage === null ? base : `${base} ${errorMessage}`;
      }
    }
    errorMessage = capOrNull(errorMessage, MAX_ERROR_MESSAGE_CHARS);

    let durationMs = result?.duration_ms ?? 0;
    if (exit?.endedAt !== undefined && options.startedAt !== undefined) durationMs = Math.max(0, exit.endedAt - options.startedAt);

    const costUsd = Math.max(result?.total_cost_usd ?? 0, estimatedCost);
    return {
      outcome,
      sessionId,
      model,
      cliVersion,
      usageByModel: usageByModelOf(byModel, costUsd, model),
      turns: result === null || result.readIssues?.includes("num_turns") === true ? turns : result.num_turns,
      // The larger of the two: the CLI's total leaves out a call it aborted (SIGINT mid-answer → 0).
      costUsd,
      inputTokens,
      outputTokens,
      toolCalls,
      toolCallsByName: { ...toolCallsByName },
      toolErrors,
      permissionDenials: result?.permission_denials?.length ?? 0,
      deniedToolCalls: (result?.permission_denials ?? []).slice(0, MAX_LISTED_DENIALS).map((d) => ({
        tool: capString(d.tool_name, MAX_LAST_TOOL_CALL_CHARS),
        input: capString(JSON.stringify(d.tool_input ?? {}), MAX_DENIAL_INPUT_CHARS),
      })),
      filesChanged: [...filesChanged],
      bashCommands: [...bashCommands],
      durationMs,
      finalMessage: capOrNull(result?.result ?? lastAssistantText, MAX_FINAL_MESSAGE_CHARS),
      errorMessage,
      apiErrorStatus: result?.api_error_status ?? syntheticError?.status ?? null,
      lastToolCall,
      resultSeen: result !== null,
      readWarnings: [...readWarnings],
      nonJsonLines,
      events,
    };
  };

  return {
    feedLine(line) {
      if (line.trim().length === 0) return null;
      // Strings past the report's caps are cut before parsing: a 50 MB tool output is never built.
      const event = parseStreamLine(line, { maxStringChars: MAX_EVENT_STRING_CHARS });
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

/** The per-model totals, costs scaled to add up to `costUsd` (all of it to the session's model when no price is known). */
function usageByModelOf(
  byModel: ReadonlyMap<string, { input: number; output: number; cacheRead: number; cacheWrite: number; cost: number }>,
  costUsd: number,
  sessionModel: string | null,
): ModelUsage[] {
  const out: ModelUsage[] = [...byModel].map(([model, t]) => ({
    model,
    costUsd: Math.max(0, t.cost),
    inputTokens: t.input,
    outputTokens: t.output,
    cacheReadTokens: t.cacheRead,
    cacheCreationTokens: t.cacheWrite,
  }));
  const priced = out.reduce((sum, m) => sum + m.costUsd, 0);
  if (priced > 0) {
    for (const m of out) m.costUsd = (m.costUsd / priced) * costUsd;
  } else if (costUsd > 0) {
    const name = sessionModel ?? out[0]?.model ?? "unknown";
    const own = out.find((m) => m.model === name);
    if (own) own.costUsd = costUsd;
    else out.push({ model: name, costUsd, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 });
  }
  return out;
}
