/**
 * The session's knowledge tools as the Claude Code CLI names them: an MCP
 * server's tool `T` of the server named `S` in the `--mcp-config` file is the
 * tool `mcp__S__T`, which is what `--allowedTools` must list (verified against
 * the CLI in test/runtime/knowledge-session.test.ts).
 */

/** The server's name in the session's MCP config. */
export const KNOWLEDGE_MCP_SERVER = "knowledge";

/** The server's tools, read-only all three. */
export const KNOWLEDGE_TOOLS = ["knowledge_search", "knowledge_read", "knowledge_related"] as const;

/** `mcp__knowledge__knowledge_search`, …: the names the CLI gives the model, and `--allowedTools` takes. */
export function knowledgeToolNames(server: string = KNOWLEDGE_MCP_SERVER): string[] {
  return KNOWLEDGE_TOOLS.map((tool) => `mcp__${server}__${tool}`);
}
