import { tokenOctokit } from "../adapters/octokit.js";
import { HarnessError } from "../core/errors.js";
import { EtagCache } from "../core/etag-cache.js";
import { reclaimPolicyOf } from "../core/reclaim.js";
import { GitHubClient } from "../adapters/github-client.js";
import { createLogger } from "../adapters/logger.js";
import { loadConfig } from "../runtime/load-config.js";
import { reclaimRepository, type ReclaimResult } from "../runtime/reclaimer.js";
import { processSecrets } from "../adapters/secrets.js";
import { parseCommandArgs, usageError } from "./args.js";
import { reclaimSpec } from "./commands.js";
import { repositoriesFrom } from "./repositories.js";

/**
 * `harness reclaim --repo owner/repo [--repo …]`: one pass of the stall
 * reclaimer with a token (GITHUB_TOKEN, GITHUB_API_URL for GitHub Enterprise
 * Server), for a schedule outside the app (cron, a scheduled workflow).
 */
export async function reclaimCommand(args: string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  const repositories = repositoriesFrom({ flags: parseCommandArgs(reclaimSpec, args).values.repo, env }, (message) => usageError(reclaimSpec, message));
  if (repositories.length === 0) throw usageError(reclaimSpec, "reclaim needs at least one repository.");
  if (!env.GITHUB_TOKEN) {
    throw new HarnessError("EHARNESS_CREDENTIALS", {
      message: "reclaim needs GITHUB_TOKEN.",
      fix: "Set GITHUB_TOKEN to a token with contents and issues write access.",
    });
  }
  processSecrets.addFromEnv(env);
  const log = createLogger({ level: env.LOG_LEVEL ?? "warn" });
  const api = tokenOctokit(env.GITHUB_TOKEN, env.GITHUB_API_URL);
  const cache = new EtagCache();
  let failures = 0;
  for (const { owner, repo } of repositories) {
    const name = `${owner}/${repo}`;
    const github = new GitHubClient(api, { owner, repo });
    let results: ReclaimResult[];
    try {
      const config = await loadConfig(github);
      results = await reclaimRepository({ github, config, policy: reclaimPolicyOf(config), cache, log, now: () => new Date() });
    } catch (error) {
      failures += 1;
      out(`${name}: ${error instanceof HarnessError ? error.toString() : String(error)}`);
      continue;
    }
    if (results.length === 0) out(`${name}: no leases`);
    for (const r of results) out(`${name}#${r.issue}\t${r.action}\t${r.reason}`);
  }
  return failures === 0 ? 0 : 1;
}
