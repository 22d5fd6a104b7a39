import { decideBudget, type BudgetDecision, type SpendEntry } from "../core/daily-budget.js";
import type { HarnessConfig } from "../core/config.js";
import type { GitRepository } from "../adapters/git.js";
import type { Logger } from "../adapters/logger.js";
import { readRecords } from "./knowledge-ref.js";
import { sharedClone } from "./shared-clone.js";
import type { StateDir } from "./state-dir.js";

export interface BudgetGateInput {
  /** The shared clone of the issue's repository, its `refs/harness/knowledge` just fetched (prepareKnowledge). */
  git: GitRepository;
  /** `owner/repo` */
  repository: string;
  config: HarnessConfig;
  /** HARNESS_DAILY_USD; null: no installation cap. */
  installationDailyUsd: number | null;
  labels: readonly string[];
  state: StateDir;
  now: Date;
  log: Logger;
}

/**
 * Every attempt's cost the host can see, as spend: the records of the issue's repository
 * (refs/harness/knowledge, fetched a moment ago, so every host's attempts count) and, for the
 * installation cap only, the local copies of that ref in the host's other clones (as of their
 * last fetch: the repositories this host works). Unreadable records are skipped and logged;
 * nothing here fails the issue.
 */
export async function hostSpend(input: Pick<BudgetGateInput, "git" | "repository" | "installationDailyUsd" | "state" | "log">): Promise<SpendEntry[]> {
  const spend: SpendEntry[] = [];
  const add = async (git: GitRepository, repository: string): Promise<void> => {
    const { records, skipped } = await readRecords(git, { repository });
    if (skipped.length > 0) input.log.warn({ repository, skipped: skipped.length }, "budget: knowledge records that do not read as records are not counted");
    for (const r of records) spend.push({ repository: r.repository, at: r.at, costUsd: r.costUsd });
  };
  await add(input.git, input.repository);
  if (input.installationDailyUsd === null) return spend;
  for (const clone of await input.state.clones()) {
    const name = `${clone.owner}/${clone.repo}`;
    if (name.toLowerCase() === input.repository.toLowerCase()) continue;
    await add(sharedClone(input.state, clone), name).catch((error: unknown) =>
      input.log.warn({ repository: name, err: error }, "budget: this clone's records could not be read; its spend is not counted"),
    );
  }
  return spend;
}

/**
 * The daily budget's decision for one claimed issue (src/core/daily-budget.ts): start, with the
 * session's `--max-budget-usd`, or wait until the next UTC midnight. Without any cap and without
 * a `budget:N` label nothing is read.
 */
export async function budgetDecision(input: BudgetGateInput): Promise<BudgetDecision> {
  const repositoryDailyUsd = input.config.budget.dailyUsd ?? null;
  const needsSpend = repositoryDailyUsd !== null || input.installationDailyUsd !== null;
  const spend = needsSpend ? await hostSpend(input) : [];
  return decideBudget({
    now: input.now,
    repository: input.repository,
    spend,
    repositoryDailyUsd,
    installationDailyUsd: input.installationDailyUsd,
    maxBudgetUsd: input.config.maxBudgetUsd,
    maxIssueUsd: input.config.budget.maxIssueUsd,
    labels: input.labels,
  });
}
