import { HarnessError } from "../../core/errors.js";
import { httpStatus } from "../github-client.js";
import { isRateLimit } from "./rate-limit-wait-ms.js";

/** What a failed request means for the lease protocol. */
export type Failure = "rate-limited" | "ambiguous" | "rejected" | "fatal";

/**
 * Refused by a rate limit (not applied: safe to send again after the wait),
 * ambiguous (5xx, 408, a reset or lost answer: may or may not have been
 * applied), rejected (422, 409: the compare-and-swap failed), or fatal.
 */
export function classifyFailure(error: unknown): Failure {
  const status = httpStatus(error);
  if (status === undefined) {
    // A thrown non-HTTP error (our own parse errors, programming errors) is not a network fault.
    return error instanceof HarnessError ? "fatal" : "ambiguous";
  }
  if (status === 429) return "rate-limited";
  if (status === 403 && isRateLimit(error)) return "rate-limited";
  if (status === 422 || status === 409) return "rejected";
  if (status >= 500 || status === 408) return "ambiguous";
  return "fatal";
}
