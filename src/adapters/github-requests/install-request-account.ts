import type { ProbotOctokit } from "probot";
import { RequestAccount, type HookedRequest } from "./request-account.js";

const installed = new WeakMap<object, RequestAccount>();

/**
 * Installs the harness's request hook on an Octokit, once (later calls are
 * no-ops and return the account installed first). Every request of that
 * Octokit then passes RequestAccount: the account named in the request
 * options (`request.harnessAccount`, set by accountedApi for a GitHubClient)
 * or else `fallback`, the Octokit's own (its installation's budget, counted
 * nowhere per issue). Installed after the plugins, it is the outermost layer:
 * a write waits for the budget before the throttling queue and the retries.
 */
export function installRequestAccount(octokit: Pick<ProbotOctokit, "hook">, fallback: RequestAccount): RequestAccount {
  const known = installed.get(octokit);
  if (known) return known;
  installed.set(octokit, fallback);
  octokit.hook.wrap("request", (request, options) => {
    const seen = options as unknown as HookedRequest;
    const account = seen.request?.harnessAccount instanceof RequestAccount ? seen.request.harnessAccount : fallback;
    return account.around(seen, async () => request(options));
  });
  return fallback;
}
