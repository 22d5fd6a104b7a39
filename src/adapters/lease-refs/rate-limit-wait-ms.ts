function headersOf(error: unknown): Record<string, string | number | undefined> {
  if (typeof error !== "object" || error === null || !("response" in error)) return {};
  const response = (error as { response?: { headers?: unknown } }).response;
  const headers = response?.headers;
  return typeof headers === "object" && headers !== null ? (headers as Record<string, string | number | undefined>) : {};
}

/** Whether a 403 is a rate limit (primary or secondary) rather than a permission refusal. */
export function isRateLimit(error: unknown): boolean {
  const headers = headersOf(error);
  if (headers["retry-after"] !== undefined || String(headers["x-ratelimit-remaining"]) === "0") return true;
  const message = error instanceof Error ? error.message : "";
  return /rate limit/i.test(message);
}

/** How long GitHub asks us to wait: retry-after, else the primary limit's reset time, else the fallback. */
export function rateLimitWaitMs(error: unknown, nowMs: number, fallbackMs: number): number {
  const headers = headersOf(error);
  const retryAfter = Number(headers["retry-after"]);
  if (headers["retry-after"] !== undefined && Number.isFinite(retryAfter)) return Math.max(0, retryAfter * 1000);
  const reset = Number(headers["x-ratelimit-reset"]);
  if (String(headers["x-ratelimit-remaining"]) === "0" && Number.isFinite(reset)) return Math.max(0, reset * 1000 - nowMs);
  return fallbackMs;
}
