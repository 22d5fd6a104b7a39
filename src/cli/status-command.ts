import os from "node:os";
import { tokenOctokit } from "../adapters/octokit.js";
import { HarnessError } from "../core/errors.js";
import { EtagCache } from "../core/etag-cache.js";
import { GitHubClient } from "../adapters/github-client.js";
import { createLogger } from "../adapters/logger.js";
import { processSecrets } from "../adapters/secrets.js";
import { loadConfig } from "../runtime/load-config.js";
import { listWorkers } from "../runtime/worker-registry.js";
import { localAgents, queueStatus, renderHostStatus, type HostStatus, type QueueStatus } from "../runtime/host-status.js";
import { StateDir } from "../runtime/state-dir.js";
import { parseCommandArgs, usageError } from "./args.js";
import { repositoriesFrom, repositoryFullName } from "./repositories.js";
import { statusSpec } from "./commands.js";

/**
 * `harness status [--json] [--repo owner/repo …]`: every agent on this host
 * (dead ones marked), the queue of each repository (named, from
 * HARNESS_REPOSITORIES, or those the workers on this host pull from) and the
 * leases held by other hosts. The queues need GITHUB_TOKEN; without it only
 * the local agents are shown.
 */
export async function statusCommand(args: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, now: () => Date = () => new Date()): Promise<number> {
  const { values } = parseCommandArgs(statusSpec, args);
  const json = values.json === true;
  const named = values.repo ?? [];
  processSecrets.addFromEnv(env);
  const state = new StateDir(env.HARNESS_STATE_DIR ?? `${os.homedir()}/.claude-harness`);
  const at = now();
  const agents = await localAgents(state, at);
  const repositories = new Set<string>(repositoriesFrom({ flags: named, env }, (message) => usageError(statusSpec, message)).map(repositoryFullName));
  if (repositories.size === 0) for (const { record } of await listWorkers(state)) for (const r of record.repositories) repositories.add(r);
  const queues: QueueStatus[] = [];
  // Open convoys per repository (docs/convoys.md), from GitHub's sub_issues_summary: one list request each.
  const convoys: { repository: string; number: number; title: string; url: string; landed: number; total: number }[] = [];
  if (repositories.size > 0 && env.GITHUB_TOKEN) {
    const api = tokenOctokit(env.GITHUB_TOKEN, env.GITHUB_API_URL);
    const log = createLogger({ level: env.LOG_LEVEL ?? "warn" });
    const cache = new EtagCache();
    for (const name of repositories) {
      const [owner = "", repo = ""] = name.split("/");
      const github = new GitHubClient(api, { owner, repo });
      try {
        const config = await loadConfig(github);
        queues.push(await queueStatus({ github, config, cache, log, now: at }));
        for (const c of await github.listConvoys(config.labels.convoy))
          convoys.push({ repository: name, number: c.number, title: c.title, url: c.url, landed: c.completed, total: c.total });
      } catch (error) {
        queues.push({ repository: name, ready: [], waiting: [], heldElsewhere: [], error: error instanceof HarnessError ? error.toString() : String(error) });
      }
    }
  }
  const status: HostStatus = { host: os.hostname(), at: at.toISOString(), agents, queues };
  if (json) out(JSON.stringify({ ...status, convoys }));
  else {
    for (const line of renderHostStatus(status)) out(line);
    if (convoys.length > 0) {
      out("");
      out("convoys:");
      for (const c of convoys) out(`  ${c.repository}#${c.number}\t${c.landed}/${c.total} landed\t${c.title}`);
    }
    if (repositories.size > 0 && !env.GITHUB_TOKEN) out("\n(queues not shown: set GITHUB_TOKEN)");
  }
  return queues.some((q) => q.error !== undefined) ? 1 : 0;
}
