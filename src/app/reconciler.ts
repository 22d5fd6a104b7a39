import { defaultConfig, type HarnessConfig } from "../core/config.js";
import { isHarnessError } from "../core/errors.js";
import { compareQueued, describeWait, type Priority, type QueueEntry } from "../core/queue.js";
import { GitHubClient, type GitHubApi } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import { intakeOf, IssueIntake, type RepoTarget } from "./issue-intake.js";
import { readConfig } from "../runtime/load-config.js";
import { readQueue } from "../runtime/read-queue.js";
import { emptyFleetSnapshot, type FleetIssue, type FleetRepository, type FleetSnapshot } from "../core/fleet.js";
import { readFleet } from "./read-fleet.js";

/**
 * The reconciler: webhooks are neither retried nor ordered, so every few
 * minutes it walks the queue of every repository the app can reach and hands
 * each claimable issue to the pool in queue order (the intake and the pool
 * drop what is already queued or running). A lost webhook only delays work.
 *
 * Every read is conditional (ETag): an unchanged queue, config, dependency
 * list or lease costs 304s, which GitHub does not count against the rate limit.
 *
 * Probot apps have no timers, so the server entry starts it next to the app:
 *   const reconciler = startReconciler({ probot: server.probot, log });
 *   …  await reconciler.stop();
 */

export interface ReconcilerOptions {
  /** The Probot instance the harness app was loaded into (`RunningServer.probot`); only `auth` is used. */
  probot: { auth(installationId?: number): Promise<unknown> };
  /** The app's intake; by default the one the app registered on `probot`. */
  intake?: IssueIntake;
  /**
   * Token mode (GITHUB_TOKEN): the repositories to walk, `owner/repo`, besides
   * those webhooks came from. Absent: App mode, every repository of every installation.
   */
  repositories?: readonly string[] | (() => readonly string[]);
  /** The tick, in minutes (default 5). A repository's `reconcileMinutes` can only lengthen its own cadence. */
  minutes?: number;
  log: Logger;
  now?: () => Date;
  /** App mode: repositories per page of `GET /installation/repositories` (default 100, GitHub's maximum). */
  pageSize?: number;
  /** Run a pass at once on start (default false: the first pass comes after one tick). */
  runAtStart?: boolean;
  /**
   * Runs first in each repository's walk, with its config: the reclaimer takes
   * back abandoned leases there, so their issues are queued again before the
   * queue is read.
   */
  beforeWalk?: (github: GitHubClient, config: HarnessConfig) => Promise<void>;
}

export interface RepositoryPass {
  repository: string;
  /** Issues handed to the pool, in queue order. */
  submitted: number[];
  /** Queued issues already queued or running here. */
  active: number[];
  waiting: { issue: number; reason: string }[];
  /** Not walked: its `reconcileMinutes` have not passed, or its config is invalid. */
  skipped?: "not-due" | "invalid-config" | "error";
}

export interface ReconcilePass {
  repositories: RepositoryPass[];
  /** Conditional requests answered 304 (free) and 200 during the pass. */
  notModified: number;
  fresh: number;
}

export interface Reconciler {
  /** One pass over every repository now, whatever their cadence. Passes never overlap. */
  runOnce(): Promise<ReconcilePass>;
  /** The pass the timer runs, now: a repository whose `reconcileMinutes` have not passed is skipped. */
  tick(): Promise<ReconcilePass>;
  /** Walks one repository now (after a blocker closed, say). */
  reconcileRepository(target: RepoTarget): Promise<RepositoryPass>;
  /** Stops the timer and waits for a pass under way. */
  stop(): Promise<void>;
  /** The fleet as of the last pass (src/core/fleet.ts); the empty snapshot before the first. */
  snapshot(): FleetSnapshot;
  /** Calls `listener` with each new snapshot (after every pass and single walk); returns the unsubscribe function. */
  onSnapshot(listener: (snapshot: FleetSnapshot) => void): () => void;
  /** The last full pass: when it ended and whether it reached GitHub (listed its repositories and read them without error). Null before the first. */
  lastPass(): { at: string; reachedGitHub: boolean; lastSuccessAt: string | null } | null;
}

const MINUTE = 60_000;

function parseRepository(fullName: string): { owner: string; repo: string } | null {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(fullName.trim());
  return m?.[1] && m[2] ? { owner: m[1], repo: m[2] } : null;
}

/** A claimable issue found by a walk, handed to the pool when the pass has walked every repository. */
interface ReadyIssue {
  target: RepoTarget;
  config: HarnessConfig;
  entry: QueueEntry;
  pass: RepositoryPass;
}

const rankOf = (r: ReadyIssue): { priority: Priority; createdAt: string; number: number } => ({
  priority: r.entry.priority,
  createdAt: r.entry.waitingSince ?? "",
  number: r.entry.issue,
});

/** Starts the reconciler's timer. Throws when the app was not loaded into `probot` and no intake is given. */
export function startReconciler(options: ReconcilerOptions): Reconciler {
  const intake = options.intake ?? intakeOf(options.probot);
  if (!intake) throw new Error("startReconciler: the harness app is not loaded into this Probot instance (start the server first, or pass `intake`)");
  const log = options.log.child({ component: "reconciler" });
  const now = options.now ?? (() => new Date());
  const tickMs = (options.minutes ?? defaultConfig().reconcileMinutes) * MINUTE;
  const lastWalk = new Map<string, number>();
  const wakeAt = new Map<string, number>();
  /**
   * Repositories without a config file: GitHub answers a missing file with a
   * 404 that has no ETag, so it cannot be asked conditionally. The defaults
   * stand in until the pass finds work to hand over; then the file is read
   * again before anything starts, so work never starts on a stale config.
   */
  const withoutConfig = new Set<string>();
  /** Each repository's part of the snapshot: the last good read, and the last error. */
  const fleet = new Map<string, { repository: FleetRepository; issues: FleetIssue[] }>();
  let snapshot: FleetSnapshot = emptyFleetSnapshot(now().toISOString());
  const snapshotListeners = new Set<(snapshot: FleetSnapshot) => void>();
  let lastPass: { at: string; reachedGitHub: boolean; lastSuccessAt: string | null } | null = null;
  const publishSnapshot = (): void => {
    const parts = [...fleet.values()];
    snapshot = { takenAt: now().toISOString(), repositories: parts.map((p) => ({ ...p.repository })), issues: parts.flatMap((p) => p.issues) };
    for (const listener of snapshotListeners) {
      try {
        listener(snapshot);
      } catch (error) {
        log.error({ err: error }, "snapshot listener failed");
      }
    }
  };
  const fleetFailed = (repository: string, error: string): void => {
    const key = repository.toLowerCase();
    const known = fleet.get(key);
    fleet.set(key, { repository: { repository, readAt: known?.repository.readAt ?? null, error }, issues: known?.issues ?? [] });
  };
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let chain: Promise<unknown> = Promise.resolve();

  const auth = async (installationId?: number): Promise<GitHubApi> => (await options.probot.auth(installationId)) as GitHubApi;

  const targets = async (): Promise<RepoTarget[]> => {
    const seen = new Map<string, RepoTarget>();
    const add = (target: RepoTarget): void => {
      const key = `${target.owner}/${target.repo}`.toLowerCase();
      if (!seen.has(key)) seen.set(key, target);
    };
    if (options.repositories !== undefined) {
      const octokit = await auth();
      const listed = typeof options.repositories === "function" ? options.repositories() : options.repositories;
      for (const name of listed) {
        const parsed = parseRepository(name);
        if (parsed) add({ octokit, ...parsed });
        else log.warn({ repository: name }, "not an owner/repo name: ignored");
      }
      for (const r of intake.seenRepositories()) add({ octokit, owner: r.owner, repo: r.repo });
      return [...seen.values()];
    }
    const appClient = new GitHubClient(await auth(), { owner: "", repo: "" });
    for (const installationId of await appClient.listInstallationIds(intake.etags)) {
      const octokit = await auth(installationId);
      const client = new GitHubClient(octokit, { owner: "", repo: "" });
      for (const r of await client.listInstallationRepositories(installationId, intake.etags, options.pageSize)) add({ octokit, ...r, installationId });
    }
    return [...seen.values()];
  };

  const handOver = (ready: ReadyIssue): void => {
    const { target, config, entry, pass } = ready;
    const outcome = intake.submit(target, config, entry.issue, { priority: entry.priority, waitingSince: entry.waitingSince ?? "", number: entry.issue });
    if (outcome === "submitted") pass.submitted.push(entry.issue);
    else pass.active.push(entry.issue);
  };

  /**
   * Walks one repository. With `collect`, its claimable issues are not handed over here but
   * added to the pass's list, which `pass` hands over in one global queue order after every
   * repository is walked: a high-priority issue of one repository is not left behind the
   * low ones of a repository walked before it.
   */
  const walk = async (target: RepoTarget, force: boolean, recheckConfig = false, collect?: ReadyIssue[]): Promise<RepositoryPass> => {
    const repository = `${target.owner}/${target.repo}`;
    const key = repository.toLowerCase();
    const pass: RepositoryPass = { repository, submitted: [], active: [], waiting: [] };
    const github = intake.client(target);
    const assumedDefaults = withoutConfig.has(key) && !recheckConfig;
    let config = defaultConfig();
    try {
      if (!assumedDefaults) {
        const read = await readConfig(github, intake.etags);
        config = read.config;
        if (read.found) withoutConfig.delete(key);
        else withoutConfig.add(key);
      }
    } catch (error) {
      if (isHarnessError(error) && error.code === "EHARNESS_CONFIG") {
        log.warn({ repository, code: error.code }, error.message);
        fleetFailed(repository, error.message);
        return { ...pass, skipped: "invalid-config" };
      }
      throw error;
    }
    const t = now().getTime();
    const last = lastWalk.get(key);
    const wake = wakeAt.get(key);
    const due = recheckConfig || force || last === undefined || t - last + tickMs / 2 >= config.reconcileMinutes * MINUTE || (wake !== undefined && wake <= t);
    if (!due) return { ...pass, skipped: "not-due" };
    lastWalk.set(key, t);
    wakeAt.delete(key);
    if (options.beforeWalk) {
      await options.beforeWalk(github, config).catch((error: unknown) => log.error({ repository, err: error }, "before-walk step failed"));
    }

    // The queue listing and the lease heads are read once and shared by the queue plan and the fleet snapshot.
    const queued = await github.listOpenIssuesWithLabel(config.labels.queued, intake.etags);
    const heads = await github.listRefHeads(config.lease.refPrefix, intake.etags);
    const plan = await readQueue(queued, {
      github,
      config,
      cache: intake.etags,
      now: now(),
      log,
      skip: (n) => intake.isActive(IssueIntake.key(target.owner, target.repo, n)),
      leaseHeads: Promise.resolve(heads),
    });
    if (assumedDefaults && plan.ready.some((e) => !intake.isActive(IssueIntake.key(target.owner, target.repo, e.issue)))) {
      lastWalk.delete(key);
      return walk(target, force, true, collect);
    }
    for (const entry of plan.ready) {
      const ready: ReadyIssue = { target, config, entry, pass };
      if (collect) collect.push(ready);
      else handOver(ready);
    }
    for (const entry of plan.waiting) pass.waiting.push({ issue: entry.issue, reason: describeWait(entry.reason, target) });
    if (plan.nextBackoffEnds !== null) wakeAt.set(key, Date.parse(plan.nextBackoffEnds));
    const issues = await readFleet({
      github,
      config,
      cache: intake.etags,
      log,
      queued,
      heads,
      waiting: new Map(pass.waiting.map((w) => [w.issue, w.reason])),
    });
    fleet.set(key, { repository: { repository, readAt: now().toISOString(), error: null }, issues });
    if (pass.submitted.length > 0 || pass.waiting.length > 0) log.info({ repository, submitted: pass.submitted, waiting: pass.waiting }, "queue walked");
    return pass;
  };

  const guardedWalk = async (target: RepoTarget, force: boolean, collect?: ReadyIssue[]): Promise<RepositoryPass> => {
    try {
      return await walk(target, force, false, collect);
    } catch (error) {
      log.error({ err: error, repository: `${target.owner}/${target.repo}` }, "queue walk failed; the next pass tries again");
      fleetFailed(`${target.owner}/${target.repo}`, error instanceof Error ? error.message : String(error));
      return { repository: `${target.owner}/${target.repo}`, submitted: [], active: [], waiting: [], skipped: "error" };
    }
  };

  const pass = async (force: boolean): Promise<ReconcilePass> => {
    const before = { ...intake.etags.stats };
    const result: ReconcilePass = { repositories: [], notModified: 0, fresh: 0 };
    let list: RepoTarget[] = [];
    let listed = true;
    try {
      list = await targets();
    } catch (error) {
      listed = false;
      log.error({ err: error }, "could not list the repositories to reconcile; the next pass tries again");
    }
    // A repository the app no longer reaches (uninstalled, removed from the list) leaves the snapshot.
    if (listed) {
      const current = new Set(list.map((t) => `${t.owner}/${t.repo}`.toLowerCase()));
      for (const key of [...fleet.keys()]) if (!current.has(key)) fleet.delete(key);
    }
    const ready: ReadyIssue[] = [];
    for (const target of list) {
      if (stopped && !force) break;
      result.repositories.push(await guardedWalk(target, force, ready));
    }
    // One queue over every repository (src/core/queue.ts's rule): the highest first to the pool.
    ready.sort((a, b) => compareQueued(rankOf(a), rankOf(b)));
    for (const r of ready) handOver(r);
    result.notModified = intake.etags.stats.notModified - before.notModified;
    result.fresh = intake.etags.stats.fresh - before.fresh;
    const at = now().toISOString();
    const reachedGitHub = listed && result.repositories.every((r) => r.skipped !== "error");
    lastPass = { at, reachedGitHub, lastSuccessAt: reachedGitHub ? at : (lastPass?.lastSuccessAt ?? null) };
    publishSnapshot();
    return result;
  };

  /** Passes and single-repository walks run one after another, never at once. */
  const serialize = <T>(run: () => Promise<T>): Promise<T> => {
    const next = chain.then(run, run);
    chain = next.catch(() => undefined);
    return next;
  };

  const delayToNext = (): number => {
    let delay = tickMs;
    const t = now().getTime();
    for (const wake of wakeAt.values()) delay = Math.min(delay, Math.max(1_000, wake - t));
    return delay;
  };

  const schedule = (delay: number): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = null;
      void serialize(() => pass(false)).finally(() => schedule(delayToNext()));
    }, delay);
    timer.unref?.();
  };

  const unsubscribe = intake.onIssueClosed((target) => {
    if (stopped) return;
    // Issues the closed one blocked may be claimable now: look at once rather than at the next tick.
    void serialize(() => guardedWalk(target, true).finally(publishSnapshot));
  });

  if (options.runAtStart) {
    void serialize(() => pass(true)).finally(() => schedule(delayToNext()));
  } else {
    schedule(tickMs);
  }

  return {
    runOnce: () => serialize(() => pass(true)),
    tick: () => serialize(() => pass(false)),
    reconcileRepository: (target) =>
      serialize(async () => {
        const walked = await guardedWalk(target, true);
        publishSnapshot();
        return walked;
      }),
    stop: async () => {
      stopped = true;
      unsubscribe();
      if (timer) clearTimeout(timer);
      timer = null;
      await chain;
    },
    snapshot: () => snapshot,
    onSnapshot: (listener) => {
      snapshotListeners.add(listener);
      return () => {
        snapshotListeners.delete(listener);
      };
    },
    lastPass: () => lastPass,
  };
}
