/**
 * A scripted model server speaking the Anthropic Messages API (SSE streaming),
 * for running the real Claude Code CLI offline.
 *
 * Stateless per session: the scenario is chosen by `match` (a substring of the
 * first user message or the system prompt) and the turn by the number of
 * assistant messages already in the request's `messages`. Concurrent sessions
 * and `--resume` from another process therefore just work.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

export interface ScenarioToolCall {
  name: string;
  input: Record<string, unknown>;
}

export interface ScenarioTurn {
  /** Assistant text block (the final message when there are no tool calls). */
  text?: string;
  /** tool_use blocks; stop_reason becomes `tool_use`. */
  toolCalls?: ScenarioToolCall[];
  /** An HTTP error response instead of a stream. */
  error?: { status: number; type?: string; message: string };
  /** Wait this long before answering this turn. */
  delayMs?: number;
  /** Never answer (the connection stays open) – for stall tests. */
  hang?: boolean;
  /**
   * Hold this turn until the server's `open(gate)` is called (a program driving the server, such
   * as a test, decides when the model answers; `delayMs` counts from then). A gate nobody opens
   * holds the turn like `hang`. Opening a gate before its turn arrives lets the turn through.
   */
  gate?: string;
  usage?: { input_tokens: number; output_tokens: number };
}

export interface Scenario {
  name: string;
  match?: string;
  turns: ScenarioTurn[];
}

/** What the CLI sent, and how the server classified it. */
export interface RecordedRequest {
  method: string;
  /** Path including the query string, e.g. `/v1/messages?beta=true`. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  /**
   * `turn`: a scenario turn was answered (or hung / errored);
   * `side`: a Messages request that is not part of the agent loop (no tools), answered with a tiny text;
   * `other`: anything else (HEAD /, count_tokens, unknown paths).
   */
  kind: "turn" | "side" | "other";
  scenario: string | null;
  turn: number | null;
  /** The working directory found in the system prompt, if any. */
  cwd: string | null;
}

export interface ModelServer {
  url: string;
  requests: RecordedRequest[];
  /** Lets every turn held at `gate` answer, now and later (see `ScenarioTurn.gate`). */
  open(gate: string): void;
  close(): Promise<void>;
}

export interface StartModelServerOptions {
  scenarios: Scenario[];
  port?: number;
  defaultDelayMs?: number;
  /** When set, only these keys are accepted (as `x-api-key` or `Authorization: Bearer`); others get 401 authentication_error. */
  apiKeys?: string[];
}

const toolCallSchema = z.object({ name: z.string().min(1), input: z.record(z.string(), z.unknown()) });
const turnSchema = z.object({
  text: z.string().optional(),
  toolCalls: z.array(toolCallSchema).optional(),
  error: z.object({ status: z.number().int(), type: z.string().optional(), message: z.string() }).optional(),
  delayMs: z.number().nonnegative().optional(),
  hang: z.boolean().optional(),
  gate: z.string().min(1).optional(),
  usage: z.object({ input_tokens: z.number().int().nonnegative(), output_tokens: z.number().int().nonnegative() }).optional(),
});
const scenarioSchema = z.object({ name: z.string().min(1), match: z.string().optional(), turns: z.array(turnSchema) });

/** Reads a scenario from a YAML (.yaml/.yml) or JSON file. */
export async function loadScenario(file: string): Promise<Scenario> {
  const text = await readFile(file, "utf8");
  const raw: unknown = extname(file) === ".json" ? JSON.parse(text) : parseYaml(text);
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`Invalid scenario ${file}: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

const FINAL_TEXT = "Done.";
const SIDE_TEXT = "ok";

interface MessagesBody {
  model: string;
  stream: boolean;
  messages: unknown[];
  tools: unknown[];
  systemText: string;
  firstUserText: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Text of a `system` field or a message `content`: a string or an array of blocks. */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((block) => (isRecord(block) && typeof block.text === "string" ? block.text : "")).join("\n");
}

function readMessagesBody(body: unknown): MessagesBody {
  const b = isRecord(body) ? body : {};
  const messages = Array.isArray(b.messages) ? b.messages : [];
  const firstUser = messages.find((m) => isRecord(m) && m.role === "user");
  // The CLI also sends `role: "system"` messages mid-conversation; they count as system prompt.
  const systemMessages = messages.filter((m) => isRecord(m) && m.role === "system").map((m) => textOf(isRecord(m) ? m.content : ""));
  return {
    model: typeof b.model === "string" ? b.model : "claude-test",
    stream: b.stream === true,
    messages,
    tools: Array.isArray(b.tools) ? b.tools : [],
    systemText: [textOf(b.system), ...systemMessages].join("\n"),
    firstUserText: isRecord(firstUser) ? textOf(firstUser.content) : "",
  };
}

const CWD_PATTERN = /Primary working directory: ([^\n]+)/;

export function findCwd(systemText: string): string | null {
  const m = CWD_PATTERN.exec(systemText);
  return m?.[1]?.trim() ?? null;
}

function chooseScenario(scenarios: Scenario[], body: MessagesBody): Scenario | null {
  for (const s of scenarios) {
    if (s.match !== undefined && (body.firstUserText.includes(s.match) || body.systemText.includes(s.match))) return s;
  }
  return scenarios.find((s) => s.match === undefined) ?? null;
}

function turnIndexOf(body: MessagesBody): number {
  return body.messages.filter((m) => isRecord(m) && m.role === "assistant").length;
}

function substitute(value: unknown, vars: Record<string, string>): unknown {
  if (typeof value === "string") {
    return value.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => vars[key] ?? whole);
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars));
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, vars)]));
  }
  return value;
}

type ContentBlock = { type: "text"; text: string } | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

interface Answer {
  content: ContentBlock[];
  stopReason: "end_turn" | "tool_use";
  usage: { input_tokens: number; output_tokens: number };
}

function answerFor(turn: ScenarioTurn | undefined, vars: Record<string, string>): Answer {
  const content: ContentBlock[] = [];
  if (turn?.text !== undefined) content.push({ type: "text", text: String(substitute(turn.text, vars)) });
  for (const call of turn?.toolCalls ?? []) {
    content.push({
      type: "tool_use",
      id: `toolu_${randomUUID().replace(/-/g, "").slice(0, 24)}`,
      name: call.name,
      input: substitute(call.input, vars) as Record<string, unknown>,
    });
  }
  if (content.length === 0) content.push({ type: "text", text: FINAL_TEXT });
  const hasTools = content.some((c) => c.type === "tool_use");
  return {
    content,
    stopReason: hasTools ? "tool_use" : "end_turn",
    usage: turn?.usage ?? { input_tokens: 100, output_tokens: 20 },
  };
}

/** Splits a string into a few pieces so that deltas really are partial. */
function pieces(s: string, count = 3): string[] {
  if (s.length <= count) return [s];
  const size = Math.ceil(s.length / count);
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out;
}

function messageId(): string {
  return `msg_${randomUUID().replace(/-/g, "").slice(0, 24)}`;
}

function writeStream(res: http.ServerResponse, model: string, answer: Answer): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "request-id": `req_${randomUUID()}` });
  const send = (event: string, data: Record<string, unknown>): void => {
    res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
  };
  send("message_start", {
    message: {
      id: messageId(),
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: answer.usage.input_tokens, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    },
  });
  answer.content.forEach((block, index) => {
    if (block.type === "text") {
      send("content_block_start", { index, content_block: { type: "text", text: "" } });
      for (const text of pieces(block.text)) send("content_block_delta", { index, delta: { type: "text_delta", text } });
    } else {
      send("content_block_start", { index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } });
      for (const partial_json of pieces(JSON.stringify(block.input))) {
        send("content_block_delta", { index, delta: { type: "input_json_delta", partial_json } });
      }
    }
    send("content_block_stop", { index });
  });
  send("message_delta", {
    delta: { stop_reason: answer.stopReason, stop_sequence: null },
    usage: { output_tokens: answer.usage.output_tokens },
  });
  send("message_stop", {});
  res.end();
}

function writeJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function writeMessage(res: http.ServerResponse, model: string, answer: Answer): void {
  writeJson(res, 200, {
    id: messageId(),
    type: "message",
    role: "assistant",
    model,
    content: answer.content,
    stop_reason: answer.stopReason,
    stop_sequence: null,
    usage: answer.usage,
  });
}

function errorTypeFor(status: number): string {
  if (status === 400) return "invalid_request_error";
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status === 429) return "rate_limit_error";
  if (status === 529) return "overloaded_error";
  return "api_error";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Named gates that held turns wait on (`ScenarioTurn.gate`); an opened gate stays open. */
class Gates {
  private readonly waiting = new Map<string, Array<() => void>>();
  private readonly openGates = new Set<string>();

  opened(gate: string): Promise<void> {
    if (this.openGates.has(gate)) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(gate, [...(this.waiting.get(gate) ?? []), resolve]));
  }

  open(gate: string): void {
    this.openGates.add(gate);
    for (const resolve of this.waiting.get(gate) ?? []) resolve();
    this.waiting.delete(gate);
  }
}

export async function startModelServer(options: StartModelServerOptions): Promise<ModelServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let closing = false;
  const gates = new Gates();

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, raw: string): Promise<void> => {
    let body: unknown = null;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const path = req.url ?? "/";
    const pathname = path.split("?")[0] ?? "/";
    const record: RecordedRequest = {
      method: req.method ?? "GET",
      path,
      headers: req.headers,
      body,
      kind: "other",
      scenario: null,
      turn: null,
      cwd: null,
    };
    requests.push(record);

    if (options.apiKeys !== undefined && !(req.method === "HEAD" && pathname === "/")) {
      const bearer = /^Bearer (.+)$/i.exec(String(req.headers.authorization ?? ""))?.[1];
      const given = [req.headers["x-api-key"], bearer].filter((v): v is string => typeof v === "string");
      if (!given.some((key) => options.apiKeys?.includes(key))) {
        writeJson(res, 401, { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } }, { "x-should-retry": "false" });
        return;
      }
    }
    // What `harness doctor` asks for: the one cheap request that proves the key is accepted.
    if (req.method === "GET" && pathname === "/v1/models") {
      const data = [{ type: "model", id: "claude-scripted", display_name: "Scripted model", created_at: "2025-01-01T00:00:00Z" }];
      writeJson(res, 200, { data, has_more: false, first_id: data[0]?.id, last_id: data[0]?.id });
      return;
    }
    if (req.method === "POST" && pathname === "/v1/messages/count_tokens") {
      writeJson(res, 200, { input_tokens: Math.max(1, Math.ceil(raw.length / 4)) });
      return;
    }
    if (req.method !== "POST" || pathname !== "/v1/messages") {
      if (req.method === "HEAD") {
        res.writeHead(200);
        res.end();
      } else {
        writeJson(res, 200, {});
      }
      return;
    }

    const mb = readMessagesBody(body);
    const cwd = findCwd(mb.systemText);
    record.cwd = cwd;
    if (mb.tools.length === 0) {
      record.kind = "side";
      const answer = answerFor({ text: SIDE_TEXT, usage: { input_tokens: 10, output_tokens: 2 } }, {});
      if (mb.stream) writeStream(res, mb.model, answer);
      else writeMessage(res, mb.model, answer);
      return;
    }

    const scenario = chooseScenario(options.scenarios, mb);
    const index = turnIndexOf(mb);
    const turn = scenario?.turns[index];
    record.kind = "turn";
    record.scenario = scenario?.name ?? null;
    record.turn = index;

    if (turn?.hang === true) return; // keep the connection open until close()
    if (turn?.gate !== undefined) await gates.opened(turn.gate);
    if (closing || res.destroyed) return;
    const delay = turn?.delayMs ?? options.defaultDelayMs ?? 0;
    if (delay > 0) await sleep(delay);
    if (closing || res.destroyed) return;
    if (turn?.error !== undefined) {
      const { status, message } = turn.error;
      writeJson(
        res,
        status,
        { type: "error", error: { type: turn.error.type ?? errorTypeFor(status), message } },
        // The Anthropic SDK honours this header: no automatic retries of scripted errors.
        { "x-should-retry": "false", "request-id": `req_${randomUUID()}` },
      );
      return;
    }
    const answer = answerFor(turn, { cwd: cwd ?? "." });
    if (mb.stream) writeStream(res, mb.model, answer);
    else writeMessage(res, mb.model, answer);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      handle(req, res, Buffer.concat(chunks).toString("utf8")).catch((err: unknown) => {
        if (!res.headersSent) writeJson(res, 500, { type: "error", error: { type: "api_error", message: String(err) } });
        else res.destroy();
      });
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    open: (gate) => gates.open(gate),
    close: async () => {
      closing = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
