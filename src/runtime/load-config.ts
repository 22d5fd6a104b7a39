import { parse as parseYaml } from "yaml";
import { CONFIG_PATH, parseConfig, type HarnessConfig } from "../core/config.js";
import { HarnessError } from "../core/errors.js";
import type { GitHubClient } from "../adapters/github-client.js";

/** Reads and validates `.github/harness.yml` from the default branch. */
export async function loadConfig(github: GitHubClient): Promise<HarnessConfig> {
  const text = await github.readFile(CONFIG_PATH);
  return text === null ? parseConfig({}) : parseConfigFile(text);
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
