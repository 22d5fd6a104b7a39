/**
 * The knowledge server as the CLI runs it: the committed bundle
 * sandbox/knowledge-mcp.mjs, copied where no node_modules can be found, started with plain `node`,
 * spoken to over stdio by the MCP SDK's own client.
 */
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KnowledgeSnapshot } from "../../../src/core/knowledge-types.js";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const COMMITTED = path.join(ROOT, "sandbox", "knowledge-mcp.mjs");
/** A copy in a temporary directory: no node_modules above it, so a module left out of the bundle fails to load. */
let BUNDLE: string;
const run = promisify(execFile);

const SNAPSHOT: KnowledgeSnapshot = {
  version: 1,
  documents: [
    {
      id: "doc:octo/app:docs/research/heartbeat.md",
      kind: "doc",
      repository: "octo/app",
      issue: null,
      title: "Heartbeat and renewal",
      text: "The heartbeat renews the lease every third of its term; a renewal that finds another head stops the session.",
      path: "docs/research/heartbeat.md",
      at: "2026-12-01T00:00:00.000Z",
      trust: "merged",
      citations: [{ path: "src/runtime/heartbeat.ts", startLine: 1, endLine: 20, commit: "a".repeat(40), sha256: "b".repeat(64) }],
    },
    {
      id: "session:octo/app#4/s-4/1",
      kind: "session",
      repository: "octo/app",
      issue: 4,
      title: "Attempt 1 of #4: success",
      text: "Changed the heartbeat interval; ran npm test.",
      path: null,
      at: null,
      trust: "harness",
      citations: [],
    },
    {
      id: "doc:octo/web:docs/heartbeat.md",
      kind: "doc",
      repository: "octo/web",
      issue: null,
      title: "Heartbeat of the web app",
      text: "Another repository's heartbeat.",
      path: "docs/heartbeat.md",
      at: null,
      trust: "merged",
      citations: [],
    },
  ],
  links: [
    { type: "attempt_of", from: "session:octo/app#4/s-4/1", to: "issue:octo/app#4" },
    { type: "cites", from: "session:octo/app#4/s-4/1", to: "doc:octo/app:docs/research/heartbeat.md" },
  ],
};

let root: string;
let client: Client;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-knowledge-mcp-"));
  BUNDLE = path.join(root, "knowledge-mcp.mjs");
  await fs.copyFile(COMMITTED, BUNDLE);
  const file = path.join(root, "knowledge.json");
  await fs.writeFile(file, JSON.stringify(SNAPSHOT));
  // Only PATH: the server needs nothing else of the environment, and no node_modules beside it.
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BUNDLE, "--snapshot", file],
    env: { PATH: "/usr/bin:/bin" },
    cwd: root,
    stderr: "pipe",
  });
  client = new Client({ name: "test", version: "1" });
  await client.connect(transport);
});

afterAll(async () => {
  await client?.close();
  await fs.rm(root, { recursive: true, force: true });
});

type Text = { type: string; text: string }[];
const textOf = (result: Awaited<ReturnType<Client["callTool"]>>): string => (result.content as Text).map((c) => c.text).join("");

describe("the knowledge MCP server (sandbox/knowledge-mcp.mjs)", () => {
  it("lists exactly its three tools, each marked read-only", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["knowledge_read", "knowledge_related", "knowledge_search"]);
    for (const tool of tools) expect(tool.annotations, tool.name).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(tools.find((t) => t.name === "knowledge_search")?.inputSchema).toMatchObject({ required: ["query"] });
  });

  it("knowledge_search answers hits from the snapshot, best first, with the repository filter and the limit", async () => {
    const all = JSON.parse(textOf(await client.callTool({ name: "knowledge_search", arguments: { query: "heartbeat renewal" } }))) as {
      hits: { id: string; snippet: string }[];
    };
    expect(all.hits.map((h) => h.id)).toEqual(["doc:octo/app:docs/research/heartbeat.md", "doc:octo/web:docs/heartbeat.md", "session:octo/app#4/s-4/1"]);
    expect(all.hits[0]?.snippet).toContain("renews the lease");
    const one = JSON.parse(textOf(await client.callTool({ name: "knowledge_search", arguments: { query: "heartbeat", repository: "octo/web" } }))) as {
      hits: { id: string }[];
    };
    expect(one.hits.map((h) => h.id)).toEqual(["doc:octo/web:docs/heartbeat.md"]);
    const limited = JSON.parse(textOf(await client.callTool({ name: "knowledge_search", arguments: { query: "heartbeat", limit: 1 } }))) as { hits: unknown[] };
    expect(limited.hits).toHaveLength(1);
  });

  it("knowledge_read gives a document whole; an unknown id is a tool error that says how to find ids", async () => {
    const read = await client.callTool({ name: "knowledge_read", arguments: { id: "doc:octo/app:docs/research/heartbeat.md" } });
    expect(read.isError ?? false).toBe(false);
    expect(JSON.parse(textOf(read))).toEqual(SNAPSHOT.documents[0]);
    const unknown = await client.callTool({ name: "knowledge_read", arguments: { id: "doc:octo/app:nope.md" } });
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toMatch(/No knowledge document has the id doc:octo\/app:nope\.md\. Find ids with knowledge_search\./);
  });

  it("knowledge_related gives the links of a node with the document at the other end, without its text", async () => {
    const related = JSON.parse(textOf(await client.callTool({ name: "knowledge_related", arguments: { id: "doc:octo/app:docs/research/heartbeat.md" } }))) as {
      related: { link: unknown; document: Record<string, unknown> | null }[];
    };
    expect(related.related).toHaveLength(1);
    expect(related.related[0]?.link).toEqual(SNAPSHOT.links[1]);
    expect(related.related[0]?.document).toMatchObject({ id: "session:octo/app#4/s-4/1", title: "Attempt 1 of #4: success" });
    expect(related.related[0]?.document).not.toHaveProperty("text");
  });

  it("refuses bad arguments as the schema says (no query)", async () => {
    const result = await client.callTool({ name: "knowledge_search", arguments: {} });
    expect(result.isError).toBe(true);
  });

  it("without a snapshot, or with a bad one, it says so on stderr and exits 2", async () => {
    const none = await run(process.execPath, [BUNDLE], { env: { PATH: "/usr/bin:/bin" } }).catch((e: { code: number; stderr: string }) => e);
    expect(none).toMatchObject({ code: 2 });
    expect((none as { stderr: string }).stderr).toMatch(/no snapshot \(give --snapshot FILE or HARNESS_KNOWLEDGE_SNAPSHOT\)/);
    const bad = path.join(root, "bad.json");
    await fs.writeFile(bad, JSON.stringify({ version: 1, documents: [{ id: "x" }], links: [] }));
    const invalid = await run(process.execPath, [BUNDLE], { env: { PATH: "/usr/bin:/bin", HARNESS_KNOWLEDGE_SNAPSHOT: bad } }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(invalid).toMatchObject({ code: 2 });
    expect((invalid as { stderr: string }).stderr).toMatch(/EHARNESS_KNOWLEDGE: .*bad\.json is not a knowledge snapshot: at documents\.0\.kind/);
  });

  it("the committed bundle is what scripts/bundle-knowledge-mcp.mjs builds from the sources", async () => {
    const fresh = path.join(root, "fresh.mjs");
    await run(process.execPath, [path.join(ROOT, "scripts", "bundle-knowledge-mcp.mjs"), fresh], { cwd: ROOT });
    expect((await fs.readFile(fresh)).equals(await fs.readFile(COMMITTED)), "run npm run bundle and commit sandbox/knowledge-mcp.mjs").toBe(true);
  });
});
