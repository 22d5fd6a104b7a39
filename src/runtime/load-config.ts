import { parse as parseYaml } from "yaml";
import { CONFIG_PATH, parseConfig, type HarnessConfig } from "../core/config.js";
import type { EtagCache } from "../core/etag-cache.js";
import { HarnessError } from "../core/errors.js";
import type { GitHubClient } from "../adapters/github-client.js";

/**
 * The one config loader: `.github/harness.yml` from the default branch, read,
 * parsed and validated (EHARNESS_CONFIG for bad YAML or bad fields). With an
 * ETag cache the read is conditional: an unchanged file costs a 304, which
 * does not count against the rate limit. `found` says whether the repository
 * has a config file at all (the defaults apply when it has none).
 */
export async function readConfig(github: GitHubClient, cache?: EtagCache): Promise<{ config: HarnessConfig; found: boolean }> {
  const text = cache ? await github.readFileConditional(CONFIG_PATH, cache) : await github.readFile(CONFIG_PATH);
  if (text === null) return { config: parseConfig({}), found: false };
  return { config: parseConfigFile(text), found: true };
}

/** `readConfig`'s configuration alone. */
export async function loadConfig(github: GitHubClient, cache?: EtagCache): Promise<HarnessConfig> {
  return (await readConfig(github, cache)).config;
}

/** The text of `.github/harness.yml`, parsed and validated (EHARNESS_CONFIG for bad YAML or bad fields). */
export function parseConfigFile(text: string): HarnessConfig {
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
  return parseConfig(raw);
}
