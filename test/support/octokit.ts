import { ProbotOctokit } from "probot";
import type { GitHubApi } from "../../src/adapters/github-client.js";

/** An Octokit for tests: a token, no retries, no throttling, so every request happens once. */
export function testOctokit(options: { baseUrl?: string; token?: string } = {}): GitHubApi {
  const Octokit = ProbotOctokit.defaults({ throttle: { enabled: false }, retry: { enabled: false } });
  return new Octokit({ auth: { token: options.token ?? "test-token" }, baseUrl: options.baseUrl ?? "https://api.github.com" }) as unknown as GitHubApi;
}
