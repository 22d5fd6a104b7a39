/**
 * Request options (`request: CALLER_RETRIES`) for a request whose caller
 * retries it itself, under its own policy: Octokit's retry plugin and the
 * harness's rate-limit retry (src/adapters/octokit.ts) leave it alone, so no
 * request is retried by two layers. The lease refs (src/adapters/lease-refs)
 * use it: they must never repeat a write blindly, only after reading back.
 */
export const CALLER_RETRIES = { retries: 0, harnessRetries: "caller" } as const;
