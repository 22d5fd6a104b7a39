import type { ProbotOctokit } from "probot";

/** A GitHub answer's status class, or `error` when no answer came (a network failure, a timeout). */
export type StatusClass = "2xx" | "3xx" | "4xx" | "5xx" | "error";

export const statusClasses: readonly StatusClass[] = ["2xx", "3xx", "4xx", "5xx", "error"];

type Headers = Record<string, string | number | undefined>;

function classOf(status: number | undefined): StatusClass {
  if (status === undefined || status < 200 || status >= 600) return "error";
  return `${Math.floor(status / 100)}xx` as StatusClass;
}

/**
 * The process's GitHub requests as metrics read them: answers by status class
 * and the rate limit left by resource (`x-ratelimit-resource`, `x-ratelimit-remaining`
 * of the last answer that had them). Fed by the Octokit hook of observeRequests;
 * the exporter reads it on a scrape, so a scrape never calls GitHub.
 */
export class RequestStats {
  readonly byClass: Record<StatusClass, number> = { "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, error: 0 };
  readonly rateLimitRemaining = new Map<string, number>();

  record(status: number | undefined, headers: Headers | undefined): void {
    this.byClass[classOf(status)] += 1;
    const remaining = Number(headers?.["x-ratelimit-remaining"]);
    const resource = headers?.["x-ratelimit-resource"];
    // GitHub names a handful of resources (core, graphql, search, …); anything else is not a label value.
    if (Number.isFinite(remaining) && typeof resource === "string" && /^[a-z_]{1,32}$/.test(resource)) this.rateLimitRemaining.set(resource, remaining);
  }
}

/** The one RequestStats of this process: every Octokit the harness builds reports to it. */
export const processRequestStats = new RequestStats();

const observed = new WeakSet<object>();

function statusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null || !("status" in error)) return undefined;
  const status = (error as { status: unknown }).status;
  return typeof status === "number" ? status : undefined;
}

function headersOf(error: unknown): Headers | undefined {
  if (typeof error !== "object" || error === null || !("response" in error)) return undefined;
  const response = (error as { response?: { headers?: Headers } }).response;
  return response?.headers;
}

/**
 * Counts every answer of this Octokit in `stats` (once per Octokit; later calls
 * are no-ops). Installed before the request account, it sits inside it: a write
 * the budget dropped was never sent and is not counted; each retry is.
 */
export function observeRequests(octokit: Pick<ProbotOctokit, "hook">, stats: RequestStats = processRequestStats): void {
  if (observed.has(octokit)) return;
  observed.add(octokit);
  octokit.hook.wrap("request", async (request, options) => {
    try {
      const response = await request(options);
      stats.record(response.status, response.headers as Headers);
      return response;
    } catch (error) {
      stats.record(statusOf(error), headersOf(error));
      throw error;
    }
  });
}
