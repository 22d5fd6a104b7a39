/**
 * The events `claude -p --output-format stream-json --verbose` prints, one JSON
 * object a line. Only what was seen in test/fixtures/cli/<version>/ is schema'd;
 * every object keeps its unknown fields (looseObject), and an event of an unknown
 * type becomes an `unknown` event instead of an error: the CLI changes often.
 *
 * A result, assistant or user event that does not fit its schema (another CLI
 * version) is read leniently instead (see readLeniently): the best reading of it,
 * with `readIssues` naming the fields that were missing or invalid. Only one that
 * cannot be read at all (no subtype, no content) becomes `unknown`.
 */
import { z } from "zod";

const usageSchema = z.looseObject({
  input_tokens: z.number(),
  output_tokens: z.number(),
  cache_creation_input_tokens: z.number().nullish(),
  cache_read_input_tokens: z.number().nullish(),
});
export type Usage = z.infer<typeof usageSchema>;

export const textBlockSchema = z.looseObject({ type: z.literal("text"), text: z.string() });
export const toolUseBlockSchema = z.looseObject({
  type: z.literal("tool_use"),
  id: z.string(),
  name: z.string(),
  input: z.record(z.string(), z.unknown()),
});
export const toolResultBlockSchema = z.looseObject({
  type: z.literal("tool_result"),
  tool_use_id: z.string(),
  content: z.union([z.string(), z.array(z.unknown())]).optional(),
  is_error: z.boolean().optional(),
});
/** Any other block (thinking, image, …), kept as it came. */
const otherBlockSchema = z
  .looseObject({ type: z.string() })
  .transform((raw) => ({ type: "other" as const, originalType: raw.type, raw: raw as Record<string, unknown> }));

const contentBlockSchema = z.union([textBlockSchema, toolUseBlockSchema, toolResultBlockSchema, otherBlockSchema]);
export type TextBlock = z.infer<typeof textBlockSchema>;
export type ToolUseBlock = z.infer<typeof toolUseBlockSchema>;
export type ToolResultBlock = z.infer<typeof toolResultBlockSchema>;
export type ContentBlock = z.infer<typeof contentBlockSchema>;

/** `system` events: `init` (session id, model, cwd, tools) and `status` (e.g. "requesting"). */
export const systemEventSchema = z.looseObject({
  type: z.literal("system"),
  subtype: z.string(),
  session_id: z.string().optional(),
  uuid: z.string().optional(),
  // init
  cwd: z.string().optional(),
  model: z.string().optional(),
  tools: z.array(z.string()).optional(),
  permissionMode: z.string().optional(),
  claude_code_version: z.string().optional(),
  // status
  status: z.string().nullish(),
});
export type SystemEvent = z.infer<typeof systemEventSchema>;

/**
 * One content block of an assistant message; several events share a `message.id`.
 * An API error appears as a synthetic message (`model: "<synthetic>"`, `error` set,
 * text "API Error: 400 …").
 */
export const assistantEventSchema = z.looseObject({
  type: z.literal("assistant"),
  message: z.looseObject({
    id: z.string(),
    model: z.string().optional(),
    role: z.literal("assistant").optional(),
    content: z.array(contentBlockSchema),
    stop_reason: z.string().nullish(),
    usage: usageSchema.optional(),
  }),
  parent_tool_use_id: z.string().nullish(),
  session_id: z.string(),
  error: z.string().optional(),
  uuid: z.string().optional(),
});
export type AssistantEvent = z.infer<typeof assistantEventSchema> & ReadIssues;

/** Tool results (and interruption notes) sent back to the model. */
export const userEventSchema = z.looseObject({
  type: z.literal("user"),
  message: z.looseObject({
    role: z.literal("user").optional(),
    content: z.union([z.string(), z.array(contentBlockSchema)]),
  }),
  parent_tool_use_id: z.string().nullish(),
  session_id: z.string(),
  tool_use_result: z.unknown().optional(),
  uuid: z.string().optional(),
});
export type UserEvent = z.infer<typeof userEventSchema> & ReadIssues;

export const permissionDenialSchema = z.looseObject({
  tool_name: z.string(),
  tool_use_id: z.string(),
  tool_input: z.record(z.string(), z.unknown()).optional(),
});

/**
 * The last event of a session. `subtype`: success | error_max_turns |
 * error_max_budget_usd | error_during_execution. An API error is
 * `subtype: "success"` with `is_error: true` and `api_error_status`.
 */
export const resultEventSchema = z.looseObject({
  type: z.literal("result"),
  subtype: z.string(),
  is_error: z.boolean(),
  session_id: z.string(),
  num_turns: z.number(),
  duration_ms: z.number(),
  duration_api_ms: z.number().optional(),
  total_cost_usd: z.number(),
  result: z.string().optional(),
  api_error_status: z.number().nullish(),
  stop_reason: z.string().nullish(),
  terminal_reason: z.string().optional(),
  usage: usageSchema.optional(),
  modelUsage: z
    .record(
      z.string(),
      z.looseObject({
        inputTokens: z.number(),
        outputTokens: z.number(),
        cacheReadInputTokens: z.number().optional(),
        cacheCreationInputTokens: z.number().optional(),
        costUSD: z.number().optional(),
      }),
    )
    .optional(),
  permission_denials: z.array(permissionDenialSchema).optional(),
  errors: z.array(z.string()).optional(),
});
/**
 * `readIssues`: set on an event read leniently, the fields (dotted paths) that were
 * missing or did not fit the schema, e.g. ["total_cost_usd"] for Claude Code 1.0.0.
 */
export type ReadIssues = { readIssues?: string[] };
export type ResultEvent = z.infer<typeof resultEventSchema> & ReadIssues;

/** With `--include-partial-messages`: the raw Messages API stream events. */
export const partialMessageEventSchema = z.looseObject({
  type: z.literal("stream_event"),
  event: z.looseObject({
    type: z.string(),
    index: z.number().optional(),
    message: z.looseObject({ id: z.string(), usage: usageSchema.optional() }).optional(),
    delta: z.looseObject({ type: z.string().optional() }).optional(),
    usage: z.looseObject({ output_tokens: z.number().optional() }).optional(),
  }),
  session_id: z.string(),
  parent_tool_use_id: z.string().nullish(),
  uuid: z.string().optional(),
});
export type PartialMessageEvent = z.infer<typeof partialMessageEventSchema>;

/** An event whose type is unknown, or that no longer matches its schema. */
export interface UnknownEvent {
  type: "unknown";
  originalType: string;
  reason: "unknown_type" | "invalid";
  raw: Record<string, unknown>;
}

export type StreamEvent = SystemEvent | AssistantEvent | UserEvent | ResultEvent | PartialMessageEvent | UnknownEvent;

const schemas = {
  system: systemEventSchema,
  assistant: assistantEventSchema,
  user: userEventSchema,
  result: resultEventSchema,
  stream_event: partialMessageEventSchema,
} as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A parsed JSON value → a stream event, or null when it is not an object with a string `type`. */
export function toStreamEvent(value: unknown): StreamEvent | null {
  if (!isRecord(value) || typeof value.type !== "string") return null;
  const type = value.type;
  if (!Object.hasOwn(schemas, type)) return { type: "unknown", originalType: type, reason: "unknown_type", raw: value };
  const parsed = schemas[type as keyof typeof schemas].safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = [...new Set(parsed.error.issues.map((i) => (i.path.length === 0 ? "(event)" : i.path.join("."))))];
  return readLeniently(type, value, issues) ?? { type: "unknown", originalType: type, reason: "invalid", raw: value };
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * The best reading of a result, assistant or user event that failed its schema, or
 * null when there is nothing to read. Fields that parse are kept; the rest get a
 * neutral value and are named in `readIssues`.
 *
 * The one variant read under another name: the cost. Claude Code 1.0.0 prints
 * `cost_usd` and `total_cost` (both the session's total) and no `total_cost_usd`
 * (test/fixtures/cli/1.0.0/); 1.0.128 and later print `total_cost_usd`.
 */
function readLeniently(type: string, value: Record<string, unknown>, issues: string[]): StreamEvent | null {
  if (type === "result") {
    const subtype = str(value.subtype);
    if (subtype === undefined) return null;
    const cost = num(value.total_cost_usd) ?? num(value.total_cost) ?? num(value.cost_usd) ?? 0;
    const usage = usageSchema.safeParse(value.usage);
    const modelUsage = resultEventSchema.shape.modelUsage.safeParse(value.modelUsage);
    const denials = resultEventSchema.shape.permission_denials.safeParse(value.permission_denials);
    const errors = resultEventSchema.shape.errors.safeParse(value.errors);
    const status = num(value.api_error_status);
    return {
      ...value,
      type: "result",
      subtype,
      // Without is_error, only a success subtype reads as a success.
      is_error: typeof value.is_error === "boolean" ? value.is_error : subtype !== "success",
      session_id: str(value.session_id) ?? "",
      num_turns: num(value.num_turns) ?? 0,
      duration_ms: num(value.duration_ms) ?? 0,
      total_cost_usd: cost,
      result: str(value.result),
      api_error_status: status ?? null,
      stop_reason: str(value.stop_reason) ?? null,
      terminal_reason: str(value.terminal_reason),
      usage: usage.success ? usage.data : undefined,
      modelUsage: modelUsage.success ? modelUsage.data : undefined,
      permission_denials: denials.success ? denials.data : undefined,
      errors: errors.success ? errors.data : undefined,
      readIssues: issues,
    };
  }
  if (type === "assistant" || type === "user") {
    const message = isRecord(value.message) ? value.message : undefined;
    if (message === undefined) return null;
    const rawContent = message.content;
    let content: ContentBlock[] | string;
    if (typeof rawContent === "string") content = type === "user" ? rawContent : [{ type: "text", text: rawContent }];
    else if (Array.isArray(rawContent)) {
      content = [];
      for (const block of rawContent) {
        const b = contentBlockSchema.safeParse(block);
        if (b.success) content.push(b.data);
      }
    } else return null;
    const session_id = str(value.session_id) ?? "";
    const parent_tool_use_id = str(value.parent_tool_use_id) ?? null;
    if (type === "user") return { ...value, type, message: { ...message, content }, session_id, parent_tool_use_id, readIssues: issues };
    const usage = usageSchema.safeParse(message.usage);
    const id = str(message.id) ?? str(value.uuid);
    if (id === undefined) return null;
    return {
      ...value,
      type,
      message: {
        ...message,
        id,
        model: str(message.model),
        role: "assistant",
        content: typeof content === "string" ? [{ type: "text", text: content }] : content,
        stop_reason: str(message.stop_reason) ?? null,
        usage: usage.success ? usage.data : undefined,
      },
      session_id,
      parent_tool_use_id,
      error: str(value.error),
      readIssues: issues,
    };
  }
  return null;
}

/** Where a string literal may be cut without splitting an escape sequence (`\\"`, `\\u00e9`). */
function safeCut(text: string, cut: number, floor: number): number {
  const backslashesBefore = (i: number): number => {
    let n = 0;
    while (i - 1 - n >= floor && text.charCodeAt(i - 1 - n) === 92) n++;
    return n;
  };
  // Inside a \uXXXX escape: cut before its backslash.
  for (let i = 1; i <= 5 && cut - i > floor; i++) {
    if (text.charCodeAt(cut - i) === 117 /* u */ && backslashesBefore(cut - i) % 2 === 1) return cut - i - 1;
  }
  // Right after a lone backslash: cut before it.
  return backslashesBefore(cut) % 2 === 1 ? cut - 1 : cut;
}

/**
 * The JSON text with every string literal longer than `maxStringChars` cut to that
 * length (marked "…"), without parsing it: huge tool outputs are never materialized.
 * Text that is not well-formed is returned unchanged (JSON.parse then decides).
 */
export function compactJsonText(text: string, maxStringChars: number): string {
  if (text.length <= maxStringChars) return text;
  const out: string[] = [];
  let copied = 0;
  let pos = 0;
  for (;;) {
    const open = text.indexOf('"', pos);
    if (open === -1) break;
    let close = open + 1;
    for (;;) {
      close = text.indexOf('"', close);
      if (close === -1) return text;
      let backslashes = 0;
      while (text.charCodeAt(close - 1 - backslashes) === 92) backslashes++;
      if (backslashes % 2 === 0) break;
      close += 1;
    }
    if (close - open - 1 > maxStringChars) {
      out.push(text.slice(copied, safeCut(text, open + 1 + maxStringChars, open + 1)), '…"');
      copied = close + 1;
    }
    pos = close + 1;
  }
  if (copied === 0) return text;
  out.push(text.slice(copied));
  return out.join("");
}

export interface ParseStreamLineOptions {
  /**
   * Cut string values longer than this before parsing (see compactJsonText): for a
   * reader that needs no more of them, e.g. the session reducer. Default: keep all.
   */
  maxStringChars?: number;
}

/** One stdout line → a stream event, or null when the line is not a JSON event. */
export function parseStreamLine(line: string, options: ParseStreamLineOptions = {}): StreamEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(options.maxStringChars === undefined ? line : compactJsonText(line, options.maxStringChars));
  } catch {
    return null;
  }
  return toStreamEvent(value);
}
