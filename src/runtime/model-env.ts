import { HarnessError } from "../core/errors.js";

/**
 * The variables the Claude Code CLI reads to reach its model, by provider;
 * everything else stays out of its environment. Sources (the CLI's own docs):
 * https://code.claude.com/docs/en/env-vars, https://code.claude.com/docs/en/amazon-bedrock,
 * https://code.claude.com/docs/en/google-vertex-ai, https://code.claude.com/docs/en/network-config.
 * README.md ("Model settings") has the same list as a table: keep them together.
 */
export const MODEL_VARIABLES = {
  /** The Anthropic API, directly or through a gateway. */
  anthropic: ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "CLAUDE_CODE_OAUTH_TOKEN"],
  /** Which model, on any provider. */
  model: [
    "ANTHROPIC_MODEL",
    "ANTHROPIC_SMALL_FAST_MODEL",
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "CLAUDE_CODE_MAX_OUTPUT_TOKENS",
    "MAX_THINKING_TOKENS",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
  ],
  /** Amazon Bedrock. */
  bedrock: [
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_SKIP_BEDROCK_AUTH",
    "ANTHROPIC_BEDROCK_BASE_URL",
    "ANTHROPIC_SMALL_FAST_MODEL_AWS_REGION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_BEARER_TOKEN_BEDROCK",
  ],
  /** Google Vertex AI. */
  vertex: [
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_SKIP_VERTEX_AUTH",
    "ANTHROPIC_VERTEX_BASE_URL",
    "ANTHROPIC_VERTEX_PROJECT_ID",
    "CLOUD_ML_REGION",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
  ],
  /** A corporate proxy and its certificate authority, mTLS client certificates. */
  network: [
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
    "NODE_EXTRA_CA_CERTS",
    "CLAUDE_CODE_CLIENT_CERT",
    "CLAUDE_CODE_CLIENT_KEY",
    "CLAUDE_CODE_CLIENT_KEY_PASSPHRASE",
  ],
} as const;

const ALL_VARIABLES: readonly string[] = Object.values(MODEL_VARIABLES).flat();

/** The model variables of `env` that are set (empty counts as unset). */
export function modelEnvFrom(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ALL_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value !== "") out[name] = value;
  }
  return out;
}

/** A CLAUDE_CODE_USE_* flag as the CLI reads it: set and not "0"/"false". */
function flagSet(value: string | undefined): boolean {
  return value !== undefined && value !== "" && value !== "0" && value.toLowerCase() !== "false";
}

export type ModelProvider = "anthropic" | "bedrock" | "vertex";

/** Which provider the CLI will use with these variables. */
export function modelProvider(modelEnv: Record<string, string | undefined>): ModelProvider {
  if (flagSet(modelEnv.CLAUDE_CODE_USE_BEDROCK)) return "bedrock";
  if (flagSet(modelEnv.CLAUDE_CODE_USE_VERTEX)) return "vertex";
  return "anthropic";
}

/** What a sandboxed session's model proxy adds, and what the CLI inside gets instead. */
export interface SandboxModelSplit {
  /** The real endpoint (ANTHROPIC_BASE_URL), if set. */
  upstream?: string;
  /** Sent by the proxy as `x-api-key`. */
  apiKey?: string;
  /** Sent by the proxy as `authorization: Bearer …` (ANTHROPIC_AUTH_TOKEN, or the CLAUDE_CODE_OAUTH_TOKEN). */
  authToken?: string;
  /** Which placeholder the CLI gets: the variable it reads its credential from. */
  placeholder: "ANTHROPIC_API_KEY" | "ANTHROPIC_AUTH_TOKEN" | "CLAUDE_CODE_OAUTH_TOKEN";
  /** Every other model variable, for the CLI inside the sandbox: never a credential of the Anthropic API. */
  rest: Record<string, string>;
  /** Bedrock or Vertex (open network only): the CLI reaches its provider itself, there is no model proxy. */
  direct: boolean;
}

/**
 * Files on the host the CLI in a sandbox could not read (they are not mounted) and
 * does not need: its model traffic is plain http to the proxy on its loopback, and
 * the proxy (the harness's own process) uses the harness's CA and certificates.
 */
const HOST_ONLY_FOR_PROXIED = ["NODE_EXTRA_CA_CERTS", "CLAUDE_CODE_CLIENT_CERT", "CLAUDE_CODE_CLIENT_KEY", "CLAUDE_CODE_CLIENT_KEY_PASSPHRASE"];

/**
 * Splits the host's model variables for a sandboxed session: the Anthropic
 * credentials stay on the host with the model proxy, the CLI gets a
 * placeholder. Bedrock and Vertex sign their own requests (SigV4, Google
 * OAuth) and cannot go through that proxy: in an isolated network they are
 * refused (EHARNESS_SANDBOX); in an open network their variables go to the CLI
 * as they are, which then holds those credentials itself.
 */
export function splitModelEnvForSandbox(modelEnv: Record<string, string>, network: "isolated" | "open"): SandboxModelSplit {
  const provider = modelProvider(modelEnv);
  if (provider !== "anthropic" && network === "isolated") {
    const flag = provider === "bedrock" ? "CLAUDE_CODE_USE_BEDROCK" : "CLAUDE_CODE_USE_VERTEX";
    throw new HarnessError("EHARNESS_SANDBOX", {
      message: `${flag} is set, and the repository's sandbox network is isolated: ${provider === "bedrock" ? "Bedrock" : "Vertex AI"} requests are signed by the CLI itself, so they cannot go through the harness's model proxy, and the isolated sandbox reaches nothing else.`,
      fix: `Set sandbox.network: open in the repository's .github/harness.yml (the CLI then holds the ${provider === "bedrock" ? "AWS" : "Google"} credentials inside its sandbox), or use the Anthropic API (ANTHROPIC_API_KEY) or a gateway (ANTHROPIC_BASE_URL + ANTHROPIC_AUTH_TOKEN) instead; HARNESS_SANDBOX=none with HARNESS_UNSAFE_NO_SANDBOX=1 also works, without any sandbox.`,
    });
  }
  const { ANTHROPIC_API_KEY: apiKey, ANTHROPIC_AUTH_TOKEN: authToken, CLAUDE_CODE_OAUTH_TOKEN: oauthToken, ANTHROPIC_BASE_URL: upstream, ...rest } = modelEnv;
  const direct = provider !== "anthropic";
  if (!direct) for (const name of HOST_ONLY_FOR_PROXIED) delete rest[name];
  const split: SandboxModelSplit = { rest, placeholder: "ANTHROPIC_API_KEY", direct };
  if (upstream !== undefined) split.upstream = upstream;
  if (apiKey !== undefined) split.apiKey = apiKey;
  if (authToken !== undefined) split.authToken = authToken;
  else if (oauthToken !== undefined && apiKey === undefined) split.authToken = oauthToken;
  if (apiKey === undefined && authToken !== undefined) split.placeholder = "ANTHROPIC_AUTH_TOKEN";
  else if (apiKey === undefined && oauthToken !== undefined) split.placeholder = "CLAUDE_CODE_OAUTH_TOKEN";
  return split;
}
