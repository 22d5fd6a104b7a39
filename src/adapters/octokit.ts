import Bottleneck from "bottleneck";
import { ProbotOctokit } from "probot";
import type { GitHubApi } from "./github-client.js";
import { CALLER_RETRIES } from "./github-requests/caller-retries.js";
import { installRequestAccount } from "./github-requests/install-request-account.js";
import { processWriteBudgets } from "./github-requests/process-write-budgets.js";
import { RequestAccount } from "./github-requests/request-account.js";
import { observeRequests } from "./github-requests/request-stats.js";

type OctokitOptions = NonNullable<ConstructorParameters<typeof ProbotOctokit>[0]>;

/**
 * The throttling plugin's own pacing sends writes at least 1 s apart, and comments and pull
 * requests 3 s apart, in one queue per process: with several agents in a process that queue,
 * not GitHub, became the limit (the scaling benchmark measured about 10 s per issue whatever
 * the number of agents). GitHub's limits are 80 content-creating requests a minute and 500 an
 * hour, and the harness's WriteBudget (src/core/write-budget.ts) enforces them per
 * installation, with the pacing of bursts: at most 10 writes in any second. So the plugin's
 * write queue here adds no spacing of its own (a fixed 100 ms between any two writes made a
 * lone agent wait about 0.1 s before each write of its claim and of its publication, against
 * a GitHub that answers at once); notifying writes (comments, pull requests) stay at least
 * 250 ms apart, and the plugin still handles 403/429 rate-limit answers and their retry-after.
 */
const pacing = {
  write: new Bottleneck.Group({ id: "harness-write", maxConcurrent: 1, minTime: 0 }),
  notifications: new Bottleneck.Group({ id: "harness-notifications", maxConcurrent: 1, minTime: 250 }),
};

/** The throttling plugin's rate-limit callback: true retries the request after `retryAfter` seconds. */
type LimitHandler = (retryAfter: number, options: unknown, octokit: unknown, retryCount: number) => boolean | void;
interface ThrottleOptions {
  onRateLimit?: LimitHandler;
  onSecondaryRateLimit?: LimitHandler;
  [key: string]: unknown;
}

/** Tries of one request that GitHub refused with a rate limit (primary or secondary). */
const RATE_LIMIT_RETRIES = 3;
/** A refusal that asks for a longer wait fails the request instead (callers decide: requeue, retry later). */
const MAX_RETRY_AFTER_S = 120;

/**
 * Who retries what (one policy, no request retried by two layers):
 * - this Octokit retries transport failures and 5xx (the retry plugin, 3 times)
 *   and requests GitHub refused with a rate limit (below, 3 times, waits up to
 *   2 minutes): for the client's ordinary requests (labels, comments, pull
 *   requests), where a rare duplicate is the lesser evil;
 * - a request marked `request: CALLER_RETRIES` is retried by its caller only:
 *   the lease refs (src/adapters/lease-refs) retry reads and commit creation
 *   under their RetryPolicy, and never repeat a ref update blindly: an unclear
 *   one is answered "unknown" and the lease protocol reads the ref back.
 *
 * Retry a request GitHub refused with a rate limit (403 secondary, 429, primary
 * quota) up to three times, after the wait it asks for. A refusal means the
 * request was not applied, so a retry cannot duplicate a write. Probot's own
 * handlers (kept for their log lines) never retry a secondary limit: the app
 * failed an issue on a single 403 (found by the soak run).
 */
function retrying(original: LimitHandler | undefined): LimitHandler {
  return (retryAfter, options, octokit, retryCount) => {
    original?.(retryAfter, options, octokit, retryCount);
    if (callerRetries(options)) return false;
    return retryCount < RATE_LIMIT_RETRIES && retryAfter <= MAX_RETRY_AFTER_S;
  };
}

function callerRetries(options: unknown): boolean {
  if (typeof options !== "object" || options === null) return false;
  const request = (options as { request?: { harnessRetries?: unknown } }).request;
  return request?.harnessRetries === CALLER_RETRIES.harnessRetries;
}

/** The budget key of an Octokit's options: its installation (as Probot builds installation clients), else the token's. */
function budgetKey(options: OctokitOptions): string {
  const auth = options.auth as { installationId?: unknown } | undefined;
  const id = typeof auth === "object" && auth !== null ? auth.installationId : undefined;
  return typeof id === "number" || typeof id === "string" ? `installation:${id}` : "default";
}

/**
 * Probot's Octokit with the harness's write pacing and rate-limit retries; Probot builds its installation clients from it.
 * Every request passes the write budget and the accounting (installRequestAccount).
 */
export class HarnessOctokit extends ProbotOctokit {
  constructor(options: OctokitOptions = {}) {
    const given = (options.throttle ?? {}) as ThrottleOptions;
    const throttle = {
      ...given,
      ...pacing,
      onRateLimit: retrying(given.onRateLimit),
      onSecondaryRateLimit: retrying(given.onSecondaryRateLimit),
    };
    super({ ...options, throttle: throttle as OctokitOptions["throttle"] });
    // Answers by status class and the rate limit left (metrics), inside the accounting below.
    observeRequests(this);
    // The write budget and the request accounting, as a hook: no request of this Octokit skips them.
    installRequestAccount(this, new RequestAccount(processWriteBudgets.for(budgetKey(options))));
  }
}

/** An Octokit for a token (`GITHUB_TOKEN`), against GitHub or a GitHub Enterprise Server API root. */
export function tokenOctokit(token: string, baseUrl?: string): GitHubApi {
  return new HarnessOctokit({ auth: { token }, ...(baseUrl ? { baseUrl } : {}) }) as unknown as GitHubApi;
}
