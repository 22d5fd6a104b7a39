import { tokenOctokit } from "../adapters/octokit.js";
import { GitHubClient } from "../adapters/github-client.js";
import { createLogger } from "../adapters/logger.js";
import { processSecrets } from "../adapters/secrets.js";
import { parseConvoyItems } from "../core/convoy.js";
import { HarnessError, isHarnessError } from "../core/errors.js";
import { EtagCache } from "../core/etag-cache.js";
import { createConvoy } from "../runtime/convoy.js";
import { loadConfig } from "../runtime/load-config.js";
import { parseCommandArgs, usageError } from "./args.js";
import { convoySpec } from "./commands.js";
import { repositoriesFrom, repositoryFullName } from "./repositories.js";

/**
 * `harness convoy create --title "…" [--repo owner/repo] ITEM…` with a token (GITHUB_TOKEN,
 * GITHUB_API_URL), the same credentials as `harness reclaim` and `harness status`. The
 * repositories the harness works are `--repo` and HARNESS_REPOSITORIES: an item elsewhere is
 * refused at staging. A refusal (EHARNESS_CONVOY) goes to stderr with exit code 2 (bad input);
 * nothing was written then.
 */
export async function convoyCommand(args: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, err: (line: string) => void = out): Promise<number> {
  const { values, positionals } = parseCommandArgs(convoySpec, args);
  const [sub, ...words] = positionals;
  if (sub !== "create") throw usageError(convoySpec, `unknown convoy command "${sub ?? ""}": the one command is create.`);
  if (words.length === 0) throw usageError(convoySpec, "convoy create needs at least one item (12, '#12', owner/repo#4).");
  const title = values.title?.trim() ?? "";
  if (title === "") throw usageError(convoySpec, 'convoy create needs --title "…".');
  const configured = repositoriesFrom({ flags: values.repo ? [values.repo] : [], env }, (message) => usageError(convoySpec, message));
  const home = values.repo ? configured[0] : configured.length === 1 ? configured[0] : undefined;
  if (!home) throw usageError(convoySpec, "name the convoy's repository with --repo owner/repo (or set HARNESS_REPOSITORIES to exactly one).");
  if (!env.GITHUB_TOKEN) {
    throw new HarnessError("EHARNESS_CREDENTIALS", {
      message: "convoy create needs GITHUB_TOKEN.",
      fix: "Set GITHUB_TOKEN to a token with issues write access on the convoy's repository and its items'.",
    });
  }
  processSecrets.addFromEnv(env);
  const log = createLogger({ level: env.LOG_LEVEL ?? "warn" });
  const api = tokenOctokit(env.GITHUB_TOKEN, env.GITHUB_API_URL);
  const clientFor = (r: { owner: string; repo: string }): GitHubClient => new GitHubClient(api, { owner: r.owner, repo: r.repo });
  const config = await loadConfig(clientFor(home));
  const reachable = new Set(configured.map((r) => repositoryFullName(r).toLowerCase()));
  try {
    const items = parseConvoyItems(words, home);
    const created = await createConvoy(
      { clientFor, reachableRepositories: async () => reachable, mode: "token", config, cache: new EtagCache(), log, now: () => new Date() },
      { home, title, items },
    );
    out(`${repositoryFullName(home)}#${created.number}\t${created.url}\t${items.length} item${items.length === 1 ? "" : "s"}`);
    return 0;
  } catch (error) {
    if (!isHarnessError(error) || error.code !== "EHARNESS_CONVOY") throw error;
    err(error.toString());
    return 2;
  }
}
