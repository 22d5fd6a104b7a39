import { HarnessError } from "../../core/errors.js";
import { classifyFailure } from "./classify-failure.js";
import type { SwapOutcome } from "./lease-refs.js";
import { rateLimitWaitMs } from "./rate-limit-wait-ms.js";

export interface RetryPolicyOptions {
  /** Tries per request when GitHub answers 5xx, resets the connection or rate-limits (default 8). */
  attempts?: number;
  /** Pause before retry `n` (1-based) after a 5xx or reset (default 50 ms · 2^(n-1), at most 2 s, jittered). */
  backoffMs?: (retry: number) => number;
  /** Wait after a rate limit that names no `retry-after` and no reset time (default 60 s, GitHub's advice). */
  rateLimitFallbackMs?: number;
  /** Longest rate-limit wait honoured; a longer one fails the call instead (default 120 s). */
  maxWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Clock for `x-ratelimit-reset` (epoch ms). */
  now?: () => number;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The one retry policy of the lease's requests (sent with CALLER_RETRIES, so
 * Octokit's plugins do not retry them too):
 * - a request GitHub refused with a rate limit was not applied: sent again
 *   after the wait GitHub asks for (bounded by `maxWaitMs`), reads and writes alike;
 * - a read, or the creation of a lease commit (a repeat makes at most an
 *   orphan commit, harmless), is sent again after a 5xx or a reset;
 * - a compare-and-swap is never sent again on an unclear answer: it is
 *   "unknown", and the lease protocol reads the ref back and decides (write
 *   again only when the ref is unchanged: the CAS keeps that safe).
 */
export class RetryPolicy {
  readonly attempts: number;
  readonly backoffMs: (retry: number) => number;
  readonly sleep: (ms: number) => Promise<void>;
  private readonly rateLimitFallbackMs: number;
  private readonly maxWaitMs: number;
  private readonly now: () => number;

  constructor(options: RetryPolicyOptions = {}) {
    this.attempts = Math.max(1, options.attempts ?? 8);
    this.backoffMs = options.backoffMs ?? ((retry) => Math.min(2000, 50 * 2 ** (retry - 1)) * (0.5 + Math.random() / 2));
    this.rateLimitFallbackMs = options.rateLimitFallbackMs ?? 60_000;
    this.maxWaitMs = options.maxWaitMs ?? 120_000;
    this.sleep = options.sleep ?? realSleep;
    this.now = options.now ?? Date.now;
  }

  /** The wait a rate limit asks for, or a HarnessError when it is longer than this policy waits. */
  private rateLimitWait(what: string, error: unknown): number {
    const wait = rateLimitWaitMs(error, this.now(), this.rateLimitFallbackMs);
    if (wait > this.maxWaitMs) {
      throw new HarnessError("EHARNESS_GITHUB", {
        message: `GitHub rate-limited ${what} and asks to wait ${Math.ceil(wait / 1000)} s, longer than the ${Math.ceil(this.maxWaitMs / 1000)} s this agent waits.`,
        fix: "Fewer agents per installation, or wait for the limit to reset; the issue stays queued.",
        cause: error,
      });
    }
    return wait;
  }

  /** A request that may be repeated (a read, a commit creation): retried on rate limits, 5xx and resets. */
  async idempotent<T>(what: string, call: () => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries += 1) {
      try {
        return await call();
      } catch (error) {
        const failure = classifyFailure(error);
        if (tries >= this.attempts) throw error;
        if (failure === "rate-limited") await this.sleep(this.rateLimitWait(what, error));
        else if (failure === "ambiguous") await this.sleep(this.backoffMs(tries));
        else throw error;
      }
    }
  }

  /** A compare-and-swap: retried only while refused by a rate limit (not applied); anything unclear is "unknown". */
  async swap(_what: string, call: () => Promise<unknown>): Promise<SwapOutcome> {
    for (let tries = 1; ; tries += 1) {
      try {
        await call();
        return "landed";
      } catch (error) {
        const failure = classifyFailure(error);
        if (failure === "fatal") throw error;
        if (failure === "rejected") return "rejected";
        if (failure === "rate-limited" && tries < this.attempts) {
          const wait = rateLimitWaitMs(error, this.now(), this.rateLimitFallbackMs);
          // Refused before it was applied; an earlier try of ours may still have landed, which the read-back settles.
          if (wait <= this.maxWaitMs) {
            await this.sleep(wait);
            continue;
          }
        }
        return "unknown";
      }
    }
  }
}
