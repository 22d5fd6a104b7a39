/**
 * Values that look like credentials but are known to be worthless, so the
 * publish gate never refuses a diff for them: the placeholders the sandboxed
 * CLI gets instead of the real model credential (the model proxy swaps in the
 * real one outside the sandbox), and the offline kit's scripted model key. An
 * agent that writes its environment into a file, or a repository whose tests
 * name these values, publishes them harmlessly. A value in a secret variable
 * (ANTHROPIC_API_KEY=scripted-model-key) is not a known secret either.
 */
export const NON_SECRETS = {
  /** ANTHROPIC_API_KEY inside the sandbox. */
  placeholderApiKey: "sk-ant-harness-placeholder",
  /** ANTHROPIC_AUTH_TOKEN and CLAUDE_CODE_OAUTH_TOKEN inside the sandbox. */
  placeholderAuthToken: "harness-placeholder-token",
  /** The key the offline stack and `harness offline` give the CLI for the scripted model server. */
  scriptedModelKey: "scripted-model-key",
} as const;
