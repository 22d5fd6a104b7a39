import { tokenOctokit } from "../adapters/octokit.js";
import { GitHubClient } from "../adapters/github-client.js";
import { EtagCache } from "../core/etag-cache.js";
import { toHarnessError } from "../core/errors.js";
import { reclaimPolicyOf } from "../core/reclaim.js";
import { loadConfig } from "../runtime/load-config.js";
import { reclaimRepository, type ReclaimResult } from "../runtime/reclaimer.js";
import type { ActionCore } from "./action-core.js";
import { createActionLogger } from "./action-logger.js";
import { escapeCell, reclaimSummaryRows } from "./job-summary.js";
import type { ActionOutputs, ActionSettings, MainDeps } from "./main.js";

const FIX =
  "Pass `github-token: ${{ secrets.GITHUB_TOKEN }}` and give the job `permissions: contents: write` (the lease refs) and `issues: write` (labels and comments); see the log above for the request that failed, then run the workflow again.";

/** The issues whose lease this pass took back (requeued or failed). */
function takenBack(results: readonly ReclaimResult[]): ReclaimResult[] {
  return results.filter((r) => r.action === "requeued" || r.action === "failed");
}

/** Mode reclaim's outputs: `reclaimed` lists the issues taken back; the session outputs stay empty. */
export function reclaimOutputs(results: readonly ReclaimResult[]): ActionOutputs {
  const taken = takenBack(results);
  return {
    outcome: taken.length > 0 ? "reclaimed" : "none",
    "pr-number": "",
    "cost-usd": "",
    "session-id": "",
    reclaimed: taken.map((r) => String(r.issue)).join(" "),
  };
}

/**
 * Mode reclaim (for a schedule): one pass of the stall reclaimer over the
 * repository, as `harness reclaim` does. Every lease whose holder stopped
 * renewing it for its term plus the grace period is taken back by CAS; its
 * issue is requeued with a backoff, or marked failed after the last attempt.
 * Needs the token only: no Claude Code CLI, no model credentials, no state
 * directory. The step fails only when the pass could not run (an error).
 */
export async function reclaimMode(deps: MainDeps, settings: ActionSettings): Promise<void> {
  const { core, now } = deps;
  const log = deps.log ?? createActionLogger(core);
  const fullName = `${settings.repository.owner}/${settings.repository.repo}`;
  let results: ReclaimResult[];
  let maxAttempts: number;
  try {
    const github = new GitHubClient((deps.createApi ?? tokenOctokit)(settings.githubToken, settings.apiUrl), settings.repository);
    const config = await loadConfig(github);
    const policy = reclaimPolicyOf(config);
    maxAttempts = policy.maxAttempts;
    results = await reclaimRepository({ github, config, policy, cache: new EtagCache(), log, now });
  } catch (thrown) {
    const error = toHarnessError(thrown, "EHARNESS_GITHUB", FIX);
    log.error({ code: error.code, err: thrown }, error.message);
    await writeSummary(core, null, [
      `The reclaimer did not finish its pass over ${fullName}.`,
      escapeCell(`${error.code}: ${error.message} Fix: ${error.fix}`),
    ]);
    for (const [name, value] of Object.entries({ ...reclaimOutputs([]), outcome: "error" })) core.setOutput(name, value);
    core.setFailed(error.toString());
    return;
  }

  const taken = takenBack(results);
  if (taken.length > 0) {
    core.notice(
      `Took back ${taken.length} stalled lease${taken.length === 1 ? "" : "s"} in ${fullName}: ${taken.map((r) => `#${r.issue} ${r.action}`).join(", ")}.`,
    );
  } else {
    core.info(`Every lease in ${fullName} is live or already free (${results.length} checked): nothing to take back.`);
  }
  const rows = reclaimSummaryRows(results, fullName, maxAttempts);
  const checked = `${results.length} lease${results.length === 1 ? "" : "s"} checked`;
  await writeSummary(
    core,
    rows,
    rows === null ? [`Every lease was live or already free: none in ${fullName} had run out (term plus grace), so nothing was taken back (${checked}).`] : [],
  );
  for (const [name, value] of Object.entries(reclaimOutputs(results))) core.setOutput(name, value);
}

async function writeSummary(core: ActionCore, rows: ReturnType<typeof reclaimSummaryRows>, lines: string[]): Promise<void> {
  try {
    core.summary.addHeading("claude-harness: reclaimer", 2);
    if (rows !== null) core.summary.addTable(rows);
    for (const line of lines) core.summary.addRaw(`\n\n${line}`, true);
    await core.summary.write();
  } catch (error) {
    // Without GITHUB_STEP_SUMMARY (a local run) there is no summary to write; the outputs still count.
    core.warning(`The job summary was not written: ${error instanceof Error ? error.message : String(error)}`);
  }
}
