import { promises as fs } from "node:fs";
import path from "node:path";
import type { KnowledgeSnapshot } from "../core/knowledge-types.js";
import type { Logger } from "../adapters/logger.js";
import { KNOWLEDGE_MCP_SERVER, knowledgeToolNames } from "../core/knowledge-tools.js";

/** What a session needs to give its agent the knowledge tools. */
export interface KnowledgeSessionFiles {
  /** The snapshot the server answers from: `knowledge.json` in the session directory. */
  snapshotFile: string;
  /** `--mcp-config`: the knowledge server, and nothing else. */
  mcpConfigFile: string;
  /** Files the sandbox must show read-only: the snapshot, the config and the server itself. */
  readOnlyFiles: string[];
  /** The server's tools as `--allowedTools` names them. */
  allowedTools: string[];
}

/**
 * Writes the session's knowledge snapshot and the MCP config that starts the
 * knowledge server (sandbox/knowledge-mcp.mjs, one self-contained file) with
 * `node` on it, both 0600 in the session directory. The CLI starts the server
 * inside the sandbox, where these paths are the host's and read-only.
 *
 * Without the server file (an install that lacks it) the session runs without
 * the tools, said in the log: a read-only mount of a missing file would fail
 * the whole session for want of an optional tool.
 */
export async function writeKnowledgeSessionFiles(input: {
  sessionDir: string;
  snapshot: KnowledgeSnapshot;
  /** The `node` the sandbox shows (the harness's own, as for the forwarder). */
  nodePath: string;
  serverPath: string;
  log: Logger;
  issue: number;
}): Promise<KnowledgeSessionFiles | null> {
  const present = await fs.stat(input.serverPath).then(
    (stat) => stat.isFile(),
    () => false,
  );
  if (!present) {
    input.log.warn({ issue: input.issue, serverPath: input.serverPath }, "the knowledge server is missing: this session runs without its knowledge tools");
    return null;
  }
  const snapshotFile = path.join(input.sessionDir, "knowledge.json");
  const mcpConfigFile = path.join(input.sessionDir, "mcp.json");
  await fs.writeFile(snapshotFile, JSON.stringify(input.snapshot), { mode: 0o600 });
  const config = {
    mcpServers: {
      [KNOWLEDGE_MCP_SERVER]: { type: "stdio", command: input.nodePath, args: [input.serverPath, "--snapshot", snapshotFile], env: {} },
    },
  };
  await fs.writeFile(mcpConfigFile, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return { snapshotFile, mcpConfigFile, readOnlyFiles: [snapshotFile, mcpConfigFile, input.serverPath], allowedTools: knowledgeToolNames() };
}
