import { HarnessError } from "../../core/errors.js";
import { httpStatus } from "../github-client.js";
import { isRateLimit } from "./rate-limit-wait-ms.js";

/** What a failed request means for the lease protocol. */
export type Failure = "rate-limited" | "ambiguous" | "rejected" | "fatal";

/**
 * GitHub's transient failure of a ref write (`422 "Reference update failed"`):
 * its own update failed, which may or may not have left the ref moved. Not a
 * lost compare-and-swap (that is "Reference already exists" or "Update is not
 * a fast forward"), so it is unclear and settled by reading the ref back.
 */
export function isReferenceUpdateFailed(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const data = (error as { response?: { data?: unknown } }).response?.data;
  const message = typeof data === "object" && data !== null ? (data as { message?: unknown }).message : undefined;
  return typeof message === "string" && /^Reference update failed\b/i.test(message);
}

/**
 * Refused by a rate limit (not applied: safe to send again after the wait),
 * ambiguous (5xx, 408, a reset or lost answer: may or may not have been
 * applied; also GitHub's `422 "Reference update failed"`), rejected (422,
 * 409: the compare-and-swap failed), or fatal.
 */
export function classifyFailure(error: unknown): Failure {
  const status = httpStatus(error);
  if (status === undefined) {
    // A thrown non-HTTP error (our own parse errors, programming errors) is not a network fault.
    return error instanceof HarnessError ? "fatal" : "ambiguous";
  }
  if (status === 429) return "rate-limited";
  if (status === 403 && isRateLimit(error)) return "rate-limited";
  if ((status === 422 || status === 409) && isReferenceUpdateFailed(error)) return "ambiguous";
  if (status === 422 || status === 409) return "rejected";
  if (status >= 500 || status === 408) return "ambiguous";
  return "fatal";
}
