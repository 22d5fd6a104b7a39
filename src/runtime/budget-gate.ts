import { decideBudget, ledgerMessage, parseLedger, type BudgetDecision, type Reservation, type SpendEntry } from "../core/daily-budget.js";
import { HarnessError } from "../core/errors.js";
import { parseLease } from "../core/lease.js";
import type { HarnessConfig } from "../core/config.js";
import type { GitRepository } from "../adapters/git.js";
import type { Logger } from "../adapters/logger.js";
import { fetchKnowledge, readRecords, type KnowledgeRemote } from "./knowledge-ref.js";
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
 * The budget ledger of a repository: `refs/harness/budget/ledger`, a chain of commits on the
 * empty tree whose head's message lists the reservations of sessions in flight (ledgerMessage).
 * It is written like the knowledge ref, with plain git pushed without force: the push is the
 * compare-and-swap that serialises every host's gate for the repository. A reservation is only
 * a claim on money while the lease it names is held (GitHub is the truth, the lease is the
 * claim): the same epoch, still `claimed`, `leaseUntil` not passed. The attempt's record on
 * refs/harness/knowledge (its actual cost) is appended before the lease is released, so the
 * cost replaces the reservation without a gap; a crashed agent's reservation stops counting
 * when its lease lapses, and the next gate drops it from the ledger.
 */
export const LEDGER_REF = "refs/harness/budget/ledger";
/** Where the gate keeps its copies of the repository's lease refs, apart from anything else in the clone. */
const LEASE_COPIES = "refs/harness/budget-leases/";
/** How often a reservation is replayed on a moved ledger before the issue waits instead. */
const RESERVE_ATTEMPTS = 6;

export interface ReserveInput extends BudgetGateInput {
  /** The repository's remote (the shared clone, its URL and the push token). */
  remote: KnowledgeRemote;
  /** The config's lease ref prefix (`lease.refPrefix`, without `refs/`). */
  leaseRefPrefix: string;
  /** The claim this session holds. */
  holder: { issue: number; agent: string; host: string; epoch: number };
}

// One gate at a time on this host: the shared clone's refs are fetched and written here, and
// agents of one host in different repositories would otherwise both fit under the installation cap.
let gateChain: Promise<unknown> = Promise.resolve();
function serialised<T>(work: () => Promise<T>): Promise<T> {
  const run = gateChain.then(work, work);
  gateChain = run.catch(() => undefined);
  return run;
}

async function resolveLocal(git: GitRepository, ref: string): Promise<string | null> {
  const found = await git.run(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { allowFailure: true });
  return found.exitCode === 0 ? found.stdout.trim() : null;
}

/** The reservations a clone's local copy of the ledger holds (as of its last fetch). */
async function localReservations(git: GitRepository): Promise<{ head: string | null; reservations: Reservation[] }> {
  const head = await resolveLocal(git, LEDGER_REF);
  if (head === null) return { head, reservations: [] };
  const message = (await git.run(["log", "-1", "--format=%B", head])).stdout;
  return { head, reservations: parseLedger(message) };
}

/**
 * The ledger and the repository's leases in one fetch (the ledger first: a reservation read
 * there is checked against a lease read after it), then refs/harness/knowledge (after the
 * leases: a session whose lease is seen released has its record there already).
 */
async function fetchLedger(input: ReserveInput): Promise<{ head: string | null; live: Reservation[]; dead: Reservation[] }> {
  const { git, url, credentials } = input.remote;
  const fetched = await git.run(
    ["fetch", "--quiet", "--no-tags", "--prune", url, "+refs/harness/budget/*:refs/harness/budget/*", `+refs/${input.leaseRefPrefix}*:${LEASE_COPIES}*`],
    { credentials, allowFailure: true },
  );
  if (fetched.exitCode !== 0) {
    throw new HarnessError("EHARNESS_GIT", {
      message: `Fetching ${LEDGER_REF} and the leases failed: ${fetched.stderr.slice(0, 300)}`,
      fix: "Check the harness's access to the repository; no session starts under a daily cap until the ledger can be read.",
    });
  }
  const { head, reservations } = await localReservations(git);
  const live: Reservation[] = [];
  const dead: Reservation[] = [];
  const now = input.now.getTime();
  for (const r of reservations) {
    const leaseHead = await resolveLocal(git, `${LEASE_COPIES}${r.issue}`);
    let held = false;
    if (leaseHead !== null) {
      try {
        const lease = parseLease((await git.run(["log", "-1", "--format=%B", leaseHead])).stdout);
        held =
          lease.state === "claimed" &&
          lease.owner.agent === r.agent &&
          lease.owner.host === r.host &&
          lease.epoch === r.epoch &&
          Date.parse(lease.leaseUntil) > now;
      } catch {
        held = false;
      }
    }
    (held ? live : dead).push(r);
  }
  await fetchKnowledge(input.remote);
  return { head, live, dead };
}

/**
 * The gate for one claimed issue under a daily cap: the decision counts the repository's
 * reservations of sessions in flight (and, for the installation cap, the other clones'
 * local ledger copies); a start is only a start once its reservation landed on the ledger
 * by a push without force. A push that lost the race is decided again on the new ledger.
 * Without any cap it is budgetDecision: nothing read, nothing reserved.
 */
export async function reserveBudget(input: ReserveInput): Promise<BudgetDecision> {
  const repositoryDailyUsd = input.config.budget.dailyUsd ?? null;
  if (repositoryDailyUsd === null && input.installationDailyUsd === null) return budgetDecision(input);
  return serialised(async () => {
    const { git } = input.remote;
    await git.ensureClone();
    for (let attempt = 1; ; attempt += 1) {
      const ledger = await fetchLedger(input);
      const spend = await hostSpend(input);
      const others = ledger.live.filter((r) => !(r.issue === input.holder.issue && r.epoch === input.holder.epoch));
      const reserved = [
        ...others.map((r) => ({ repository: input.repository, usd: r.usd })),
        ...(input.installationDailyUsd === null ? [] : await otherReservations(input)),
      ];
      const decision = decideBudget({
        now: input.now,
        repository: input.repository,
        spend,
        reserved,
        repositoryDailyUsd,
        installationDailyUsd: input.installationDailyUsd,
        maxBudgetUsd: input.config.maxBudgetUsd,
        maxIssueUsd: input.config.budget.maxIssueUsd,
        labels: input.labels,
      });
      if (decision.kind === "wait") return decision;
      const mine: Reservation = { ...input.holder, usd: decision.sessionUsd, at: input.now.toISOString() };
      const emptyTree = (await git.run(["mktree"], { input: "" })).stdout.trim();
      const commit = await git.commitTree(emptyTree, ledger.head === null ? [] : [ledger.head], ledgerMessage([...others, mine]));
      const pushed = await git.pushRef(input.remote.url, commit, LEDGER_REF, input.remote.credentials, ledger.head);
      if (pushed === "landed") {
        await git.run(["update-ref", LEDGER_REF, commit]);
        if (ledger.dead.length > 0)
          input.log.info({ repository: input.repository, dropped: ledger.dead.map((r) => r.issue) }, "budget: reservations of leases no longer held dropped");
        return decision;
      }
      if (pushed === "unknown" || attempt >= RESERVE_ATTEMPTS) {
        throw new HarnessError("EHARNESS_GIT", {
          message: `Reserving the session's budget on ${LEDGER_REF} failed: ${pushed === "rejected" ? `the ledger kept moving (${attempt} tries)` : "the push got no clear answer"}.`,
          fix: "Check the harness's access to the repository (contents: write); the issue is tried again when its lease is free.",
        });
      }
    }
  });
}

/**
 * For the installation cap: the reservations in the local ledger copies of the host's other
 * clones (as of their last fetch; their leases are not read again), each counted at most as
 * long as a session may run (`timeouts.sessionMinutes`), so a stale copy never holds the day.
 */
async function otherReservations(input: ReserveInput): Promise<{ repository: string; usd: number }[]> {
  const out: { repository: string; usd: number }[] = [];
  for (const clone of await input.state.clones()) {
    const name = `${clone.owner}/${clone.repo}`;
    if (name.toLowerCase() === input.repository.toLowerCase()) continue;
    const { reservations } = await localReservations(sharedClone(input.state, clone)).catch(() => ({ reservations: [] as Reservation[] }));
    const oldest = input.now.getTime() - input.config.timeouts.sessionMinutes * 60_000;
    for (const r of reservations) if (Date.parse(r.at) > oldest) out.push({ repository: name, usd: r.usd });
  }
  return out;
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
