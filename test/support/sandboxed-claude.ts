import { createSandbox } from "../../src/adapters/sandbox/sandbox.js";
import { defaultCliPath, forwarderPath } from "../../src/cli/paths.js";
import type { ClaudeSettings } from "../../src/runtime/session-runner.js";

/**
 * The runner's `claude` settings for an end-to-end test: the installed Claude Code CLI, in
 * bubblewrap, answering from the offline model server at `modelUrl` (no credential, no
 * traffic beyond the model).
 */
export function sandboxedClaude(modelUrl: string): ClaudeSettings {
  return {
    cliPath: defaultCliPath(),
    modelEnv: { ANTHROPIC_BASE_URL: modelUrl, ANTHROPIC_API_KEY: "k", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" },
    permissionMode: "dontAsk",
    sandbox: createSandbox("bwrap"),
    forwarderPath: forwarderPath(),
  };
}
