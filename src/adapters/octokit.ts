import Bottleneck from "bottleneck";
import { ProbotOctokit } from "probot";
import type { GitHubApi } from "./github-client.js";

type OctokitOptions = NonNullable<ConstructorParameters<typeof ProbotOctokit>[0]>;

/**
 * The throttling plugin's own pacing sends one write at a time at least 1 s
 * apart, and comments and pull requests 3 s apart, in one queue per process:
 * with several agents in a process that queue, not GitHub, became the limit
 * (the scaling benchmark measured about 10 s per issue whatever the number of
 * agents). GitHub's limits are 80 content-creating requests a minute and 500 an
 * hour, and the harness's WriteBudget (src/core/write-budget.ts) enforces them
 * per installation. So here writes stay serial (GitHub asks for no concurrent
 * writes) but are spaced only enough to stay polite; the plugin still handles
 * 403/429 rate-limit answers and their retry-after.
 */
const pacing = {
  write: new Bottleneck.Group({ id: "harness-write", maxConcurrent: 1, minTime: 100 }),
  notifications: new Bottleneck.Group({ id: "harness-notifications", maxConcurrent: 1, minTime: 250 }),
};

/** Probot's Octokit with the harness's write pacing; Probot builds its installation clients from it. */
export class HarnessOctokit extends ProbotOctokit {
  constructor(options: OctokitOptions = {}) {
    super({ ...options, throttle: { ...options.throttle, ...pacing } });
  }
}

/** An Octokit for a token (`GITHUB_TOKEN`), against GitHub or a GitHub Enterprise Server API root. */
export function tokenOctokit(token: string, baseUrl?: string): GitHubApi {
  return new HarnessOctokit({ auth: { token }, ...(baseUrl ? { baseUrl } : {}) }) as unknown as GitHubApi;
}
