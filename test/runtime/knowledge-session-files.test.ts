import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, silentLogger } from "../../src/adapters/logger.js";
import { forwarderPath } from "../../src/cli/paths.js";
import type { KnowledgeSnapshot } from "../../src/core/knowledge-types.js";
import { writeKnowledgeSessionFiles } from "../../src/runtime/knowledge-session.js";

const SNAPSHOT: KnowledgeSnapshot = { version: 1, documents: [], links: [{ type: "blocked_by", from: "issue:o/r#2", to: "issue:o/r#1" }] };
const SERVER = path.join(path.dirname(forwarderPath()), "knowledge-mcp.mjs");
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-knowledge-files-"));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("writeKnowledgeSessionFiles", () => {
  it("writes the snapshot and an MCP config of one server, both private, and names what the sandbox and --allowedTools need", async () => {
    const files = await writeKnowledgeSessionFiles({
      sessionDir: root,
      snapshot: SNAPSHOT,
      nodePath: "/usr/bin/node",
      serverPath: SERVER,
      log: silentLogger(),
      issue: 2,
    });
    expect(files).not.toBeNull();
    const snapshotFile = path.join(root, "knowledge.json");
    const mcpConfigFile = path.join(root, "mcp.json");
    expect(files).toEqual({
      snapshotFile,
      mcpConfigFile,
      readOnlyFiles: [snapshotFile, mcpConfigFile, SERVER],
      allowedTools: ["mcp__knowledge__knowledge_search", "mcp__knowledge__knowledge_read", "mcp__knowledge__knowledge_related"],
    });
    expect(JSON.parse(await fs.readFile(snapshotFile, "utf8"))).toEqual(SNAPSHOT);
    expect(JSON.parse(await fs.readFile(mcpConfigFile, "utf8"))).toEqual({
      mcpServers: { knowledge: { type: "stdio", command: "/usr/bin/node", args: [SERVER, "--snapshot", snapshotFile], env: {} } },
    });
    for (const file of [snapshotFile, mcpConfigFile]) expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });

  it("without the server file: no tools, and the log says why", async () => {
    const lines = new PassThrough();
    let logged = "";
    lines.on("data", (c: Buffer) => (logged += c.toString()));
    const missing = path.join(root, "no-such-server.mjs");
    const files = await writeKnowledgeSessionFiles({
      sessionDir: root,
      snapshot: SNAPSHOT,
      nodePath: "/usr/bin/node",
      serverPath: missing,
      log: createLogger({ destination: lines }),
      issue: 3,
    });
    expect(files).toBeNull();
    expect(JSON.parse(logged.trim())).toMatchObject({
      level: 40,
      issue: 3,
      serverPath: missing,
      msg: "the knowledge server is missing: this session runs without its knowledge tools",
    });
  });
});
