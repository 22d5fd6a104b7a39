import { CONFIG_PATH, parseConfig, type HarnessConfig } from "../core/config.js";
import type { EtagCache } from "../core/etag-cache.js";
import type { GitHubClient } from "../adapters/github-client.js";
import { parseConfigFile } from "./load-config.js";

/**
 * `loadConfig` with a conditional read: an unchanged `.github/harness.yml`
 * costs a 304, which does not count against the rate limit. Same errors.
 */
export async function loadConfigConditional(github: GitHubClient, cache: EtagCache): Promise<HarnessConfig> {
  return (await readConfigConditional(github, cache)).config;
}

/** The configuration, and whether the repository has a config file at all. */
export async function readConfigConditional(github: GitHubClient, cache: EtagCache): Promise<{ config: HarnessConfig; found: boolean }> {
  const text = await github.readFileConditional(CONFIG_PATH, cache);
  if (text === null) return { config: parseConfig({}), found: false };
  return { config: parseConfigFile(text), found: true };
}
