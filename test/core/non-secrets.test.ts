import { describe, expect, it } from "vitest";
import { defaultConfig } from "../../src/core/config.js";
import { NON_SECRETS } from "../../src/core/non-secrets.js";
import { decidePublication, type ChangedPath } from "../../src/core/publish-gate.js";
import { secretsFromEnv } from "../../src/core/redact.js";
import { PLACEHOLDER_API_KEY, PLACEHOLDER_AUTH_TOKEN } from "../../src/runtime/agent-sandbox.js";

function file(addedText: string): ChangedPath {
  return { path: "notes.txt", oldPath: null, status: "added", oldMode: null, newMode: "100644", size: addedText.length, symlinkTarget: null, addedText };
}
/** The gate as the publisher runs it on a host whose environment holds these variables. */
function kind(addedText: string, env: Record<string, string>): string {
  const secrets = secretsFromEnv(env).secrets;
  return decidePublication({ changes: [file(addedText)], publish: defaultConfig().publish, secrets, canWriteWorkflows: true }).kind;
}
/** A real-looking Anthropic key (the canary form), and a GitHub token the host holds. */
const CANARY = `sk-ant-api03-${"Zx9".repeat(31)}AA`;
const TOKEN = "ghs_realInstallationToken0123456789abcdefXYZ";

describe("the publish gate and known non-secret values", () => {
  it("the sandbox's placeholders are the values the sandbox hands the CLI", () => {
    expect(PLACEHOLDER_API_KEY).toBe(NON_SECRETS.placeholderApiKey);
    expect(PLACEHOLDER_AUTH_TOKEN).toBe(NON_SECRETS.placeholderAuthToken);
  });

  it.each([
    ["the CLI's environment written to a file", `ANTHROPIC_API_KEY=${PLACEHOLDER_API_KEY}\nANTHROPIC_AUTH_TOKEN=${PLACEHOLDER_AUTH_TOKEN}\n`],
    ["a test fixture naming the scripted model key", `const key = "${NON_SECRETS.scriptedModelKey}";`],
    ["the placeholder in JSON", JSON.stringify({ env: { ANTHROPIC_API_KEY: PLACEHOLDER_API_KEY, CLAUDE_CODE_OAUTH_TOKEN: PLACEHOLDER_AUTH_TOKEN } })],
    ["the placeholder base64-encoded", Buffer.from(NON_SECRETS.scriptedModelKey).toString("base64")],
  ])("publishes %s, although the host's secret variables hold those values", (_name, text) => {
    const env = { ANTHROPIC_API_KEY: NON_SECRETS.scriptedModelKey, CLAUDE_CODE_OAUTH_TOKEN: PLACEHOLDER_AUTH_TOKEN, GITHUB_TOKEN: TOKEN };
    expect(kind(text, env)).toBe("publish");
  });

  it.each([
    ["a real Anthropic key next to the placeholder", `ANTHROPIC_API_KEY=${PLACEHOLDER_API_KEY}\nREAL=${CANARY}\n`],
    ["a longer key that starts like the placeholder", `${PLACEHOLDER_API_KEY}0123456789`],
    ["the host's GitHub token beside the scripted key", `${NON_SECRETS.scriptedModelKey} ${TOKEN}`],
    ["the host's GitHub token in hex", Buffer.from(TOKEN).toString("hex")],
  ])("still refuses %s", (_name, text) => {
    const env = { ANTHROPIC_API_KEY: NON_SECRETS.scriptedModelKey, GITHUB_TOKEN: TOKEN };
    expect(kind(text, env)).toBe("refuse");
  });

  it("a real key in ANTHROPIC_API_KEY is still a known secret in every encoding", () => {
    const real = "a-real-model-key-0123456789";
    expect(kind(Buffer.from(real).toString("base64url"), { ANTHROPIC_API_KEY: real })).toBe("refuse");
  });
});
