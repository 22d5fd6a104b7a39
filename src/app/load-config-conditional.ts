import { parse as parseYaml } from "yaml";
import { CONFIG_PATH, parseConfig, type HarnessConfig } from "../core/config.js";
import type { EtagCache } from "../core/etag-cache.js";
import { HarnessError } from "../core/errors.js";
import type { GitHubClient } from "../adapters/github-client.js";

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
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (cause) {
    throw new HarnessError("EHARNESS_CONFIG", {
      message: `${CONFIG_PATH} is not valid YAML: ${(cause as Error).message.split("\n")[0] ?? ""}`,
      fix: `Correct the YAML syntax of ${CONFIG_PATH}, then label the issue again.`,
      cause,
    });
  }
  return { config: parseConfig(raw), found: true };
}
