/** Variables the CLI needs to reach its model; everything else stays out of its environment. */
const MODEL_VARIABLES = [
  "ANTHROPIC_API_KEY",
  "ANTHROPIC_BASE_URL",
  "ANTHROPIC_AUTH_TOKEN",
  "ANTHROPIC_MODEL",
  "CLAUDE_CODE_USE_BEDROCK",
  "CLAUDE_CODE_USE_VERTEX",
  "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
];

export function modelEnvFrom(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of MODEL_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value !== "") out[name] = value;
  }
  return out;
}
