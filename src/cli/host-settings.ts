import { randomUUID } from "node:crypto";
import os from "node:os";
import { parseDailyUsdSetting } from "../core/daily-budget.js";
import { parseSessionKey } from "../core/session-seal.js";
import { modelEnvFrom } from "../runtime/model-env.js";
import { StateDir } from "../runtime/state-dir.js";
import type { ClaudeSettings } from "../runtime/work-issue.js";
import { sandboxFromEnv } from "../runtime/host-checks.js";
import { warmWorktreeLimit } from "../runtime/warm-worktrees.js";
import { defaultCliPath, forwarderPath, promptsDir } from "./paths.js";

/** What every command that runs agents on this host reads from its environment. */
export interface HostSettings {
  state: StateDir;
  host: string;
  runId: string;
  claude: ClaudeSettings;
  promptsDir: string;
  /** HARNESS_EVENTS_FILE: the lifecycle events as JSON lines. */
  eventsFile?: string;
  /** HARNESS_DAILY_USD: the installation's dollars per UTC day over every repository this host works; null: no cap. */
  dailyUsd: number | null;
}

export function hostSettingsFromEnv(env: NodeJS.ProcessEnv): HostSettings {
  const sessionKey = parseSessionKey(env.HARNESS_SESSION_KEY);
  // Read where worktrees are made and parked; a bad value stops the host here, before any claim.
  warmWorktreeLimit(env);
  const dailyUsd = parseDailyUsdSetting(env.HARNESS_DAILY_USD);
  return {
    state: new StateDir(env.HARNESS_STATE_DIR ?? `${os.homedir()}/.claude-harness`),
    host: os.hostname(),
    runId: env.GITHUB_RUN_ID ?? randomUUID(),
    claude: {
      cliPath: defaultCliPath(),
      modelEnv: modelEnvFrom(env),
      permissionMode: env.HARNESS_PERMISSION_MODE ?? "dontAsk",
      sandbox: sandboxFromEnv(env),
      forwarderPath: forwarderPath(),
      ...(sessionKey ? { sessionKey } : {}),
    },
    promptsDir: promptsDir(),
    ...(env.HARNESS_EVENTS_FILE ? { eventsFile: env.HARNESS_EVENTS_FILE } : {}),
    dailyUsd,
  };
}
