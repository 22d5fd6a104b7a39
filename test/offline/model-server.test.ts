import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { loadScenario, startModelServer, type ModelServer, type Scenario } from "../../src/offline/model-server.js";

const scenariosDir = fileURLToPath(new URL("../fixtures/scenarios/", import.meta.url));

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

function parseSse(text: string): SseEvent[] {
  return text
    .split("\n\n")
    .filter((b) => b.trim().length > 0)
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "";
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "{}") as Record<string, unknown>;
      return { event, data };
    });
}

const TOOLS = [{ name: "Bash", description: "run", input_schema: { type: "object" } }];
const SYSTEM = [{ type: "text", text: "You are an agent.\n# Environment\n - Primary working directory: /tmp/some work\n - Platform: linux" }];

function body(messages: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: "claude-test", max_tokens: 1000, stream: true, system: SYSTEM, tools: TOOLS, messages, ...extra };
}

const user = (text: string) => ({ role: "user", content: [{ type: "text", text }] });
const assistant = { role: "assistant", content: [{ type: "text", text: "earlier" }] };

async function post(server: ModelServer, payload: unknown, path = "/v1/messages?beta=true"): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload) });
}

/** Reassembles the streamed message: text blocks and tool_use blocks with parsed input. */
function assemble(events: SseEvent[]): { blocks: Array<Record<string, unknown>>; stopReason: unknown } {
  const blocks: Array<Record<string, unknown>> = [];
  const json: string[] = [];
  for (const { data } of events) {
    const index = data.index as number;
    if (data.type === "content_block_start") {
      blocks[index] = { ...(data.content_block as Record<string, unknown>) };
      json[index] = "";
    } else if (data.type === "content_block_delta") {
      const delta = data.delta as Record<string, string>;
      const block = blocks[index] as Record<string, unknown>;
      if (delta.type === "text_delta") block.text = `${String(block.text)}${delta.text}`;
      else json[index] = `${json[index]}${delta.partial_json}`;
    } else if (data.type === "content_block_stop" && blocks[index]?.type === "tool_use") {
      (blocks[index] as Record<string, unknown>).input = JSON.parse(json[index] ?? "{}");
    }
  }
  const delta = events.find((e) => e.event === "message_delta")?.data.delta as Record<string, unknown> | undefined;
  return { blocks, stopReason: delta?.stop_reason };
}

const scenarios: Scenario[] = [
  {
    name: "special",
    match: "[scenario:special]",
    turns: [{ error: { status: 400, message: "nope" } }],
  },
  {
    name: "default",
    turns: [
      { text: "Writing.", toolCalls: [{ name: "Write", input: { file_path: "{{cwd}}/a.txt", content: "x" } }] },
      { text: "All done.", usage: { input_tokens: 7, output_tokens: 3 } },
    ],
  },
];

let server: ModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("startModelServer", () => {
  it("streams the turn chosen by the number of assistant messages, with {{cwd}} replaced", async () => {
    server = await startModelServer({ scenarios });
    const res = await post(server, body([user("go")]));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const events = parseSse(await res.text());
    expect(events[0]?.event).toBe("message_start");
    expect(events.at(-1)?.event).toBe("message_stop");
    const { blocks, stopReason } = assemble(events);
    expect(stopReason).toBe("tool_use");
    expect(blocks[0]).toMatchObject({ type: "text", text: "Writing." });
    expect(blocks[1]).toMatchObject({ type: "tool_use", name: "Write", input: { file_path: "/tmp/some work/a.txt", content: "x" } });

    const second = assemble(parseSse(await (await post(server, body([user("go"), assistant, user("result")]))).text()));
    expect(second.stopReason).toBe("end_turn");
    expect(second.blocks).toEqual([{ type: "text", text: "All done." }]);
    expect(server.requests.map((r) => [r.kind, r.scenario, r.turn, r.cwd])).toEqual([
      ["turn", "default", 0, "/tmp/some work"],
      ["turn", "default", 1, "/tmp/some work"],
    ]);
  });

  it("answers with a short final text when the scenario has run out of turns", async () => {
    server = await startModelServer({ scenarios });
    const res = await post(server, body([user("go"), assistant, user("a"), assistant, user("b"), assistant, user("c")]));
    const { blocks, stopReason } = assemble(parseSse(await res.text()));
    expect(stopReason).toBe("end_turn");
    expect(blocks).toEqual([{ type: "text", text: "Done." }]);
  });

  it("chooses a scenario by match and answers a scripted error without retries", async () => {
    server = await startModelServer({ scenarios });
    const res = await post(server, body([user("please [scenario:special]")]));
    expect(res.status).toBe(400);
    expect(res.headers.get("x-should-retry")).toBe("false");
    expect(await res.json()).toEqual({ type: "error", error: { type: "invalid_request_error", message: "nope" } });
  });

  it("answers side requests (no tools), non-streaming calls, token counting and anything else", async () => {
    server = await startModelServer({ scenarios });
    const side = assemble(parseSse(await (await post(server, body([user("title?")], { tools: [] }))).text()));
    expect(side.blocks).toEqual([{ type: "text", text: "ok" }]);
    const plain = await post(server, body([user("go")], { stream: false }));
    expect(await plain.json()).toMatchObject({ type: "message", role: "assistant", stop_reason: "tool_use" });
    const count = await post(server, body([user("go")]), "/v1/messages/count_tokens");
    expect(((await count.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
    expect((await fetch(`${server.url}/`, { method: "HEAD" })).status).toBe(200);
    expect((await fetch(`${server.url}/v1/anything`)).status).toBe(200);
    expect(server.requests.map((r) => r.kind)).toEqual(["side", "turn", "other", "other", "other"]);
  });

  it("keeps a hanging turn open until close()", async () => {
    server = await startModelServer({ scenarios: [{ name: "hang", turns: [{ hang: true }] }] });
    const pending = post(server, body([user("go")])).then(
      () => "answered",
      () => "closed",
    );
    await expect.poll(() => server?.requests.length).toBe(1);
    await server.close();
    server = undefined;
    expect(await pending).toBe("closed");
  });

  it("holds a gated turn until open(gate), and lets later turns of an open gate through", async () => {
    server = await startModelServer({ scenarios: [{ name: "gated", turns: [{ gate: "g", text: "released" }] }] });
    let answered = false;
    const first = post(server, body([user("go")])).then(async (res) => {
      answered = true;
      return res.text();
    });
    await expect.poll(() => server?.requests.length).toBe(1);
    // The request arrived and is held: another (ungated) request is answered meanwhile.
    await (await post(server, { ...body([user("side")]), tools: [] })).text();
    expect(answered).toBe(false);
    server.open("g");
    expect(assemble(parseSse(await first)).blocks).toEqual([{ type: "text", text: "released" }]);
    // An opened gate stays open: the same turn asked again is answered at once.
    expect(assemble(parseSse(await (await post(server, body([user("go")]))).text())).blocks).toEqual([{ type: "text", text: "released" }]);
  });

  it("loads every scenario fixture", async () => {
    const files = (await readdir(scenariosDir)).filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThanOrEqual(5);
    const loaded = await Promise.all(files.map((f) => loadScenario(`${scenariosDir}${f}`)));
    expect(loaded.map((s) => s.name)).toContain("write-file");
    expect(loaded.every((s) => s.turns.length > 0)).toBe(true);
  });
});
