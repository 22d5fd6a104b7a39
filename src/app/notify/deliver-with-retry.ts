import type { DeliveryAnswer } from "./delivery-answer.js";

export interface RetrySettings {
  /** Tries in all (default 5). */
  attempts?: number;
  /** Pause before try `n + 1` after a 5xx or network error (default 1 s, doubling, at most 60 s). */
  backoffMs?: (retry: number) => number;
  /** The longest Retry-After honoured; a longer one is waited for this long (default 300 s). */
  maxRetryAfterMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface DeliveryOutcome {
  result: "sent" | "failed";
  attempts: number;
  detail?: string;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const defaultBackoff = (retry: number): number => Math.min(60_000, 1000 * 2 ** (retry - 1));

/**
 * Tries `send` until it is accepted, refused for good, or the tries run out: a 429 waits its
 * Retry-After (or the backoff when it names none), a 5xx or network error waits the backoff,
 * any other refusal ends at once.
 */
export async function deliverWithRetry(send: () => Promise<DeliveryAnswer>, settings: RetrySettings = {}): Promise<DeliveryOutcome> {
  const attempts = settings.attempts ?? 5;
  const sleep = settings.sleep ?? realSleep;
  const backoff = settings.backoffMs ?? defaultBackoff;
  let last = "";
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    const answer = await send();
    if (answer.kind === "ok") return { result: "sent", attempts: attempt };
    last = answer.detail;
    if (answer.kind === "fatal") return { result: "failed", attempts: attempt, detail: last };
    if (attempt < attempts) await sleep(answer.afterMs !== null ? Math.min(answer.afterMs, settings.maxRetryAfterMs ?? 300_000) : backoff(attempt));
  }
  return { result: "failed", attempts, detail: `gave up after ${attempts} tries: ${last}` };
}
