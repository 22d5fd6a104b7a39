import type { ApplicationFunction, Context } from "probot";
import { budgetNotification } from "../core/daily-budget.js";
import { isHarnessError } from "../core/errors.js";
import { describeWait } from "../core/queue.js";
import { renderConfigErrorComment } from "../core/render-comments.js";
import type { Logger } from "../adapters/logger.js";
import type { AgentPool } from "../runtime/agent-pool.js";
import { HostRuntime } from "../runtime/host-runtime.js";
import type { StateDir } from "../runtime/state-dir.js";
import type { ClaudeSettings, WorkResult } from "../runtime/work-issue.js";
import { OwnEvents } from "./own-events.js";
import { registerSteering } from "./steering.js";
import { registerReviewFollowUps } from "./follow-ups.js";
import { registerPrWatch } from "./pr-watch.js";
import { deliveryTarget, IssueIntake, registerIntake, type ApiCounts, type IssueJob, type RepoTarget } from "./issue-intake.js";
import { loadConfig } from "../runtime/load-config.js";
import { readQueue } from "../runtime/read-queue.js";
import type { Notifier } from "./notify/notifier.js";
import { registerNotify } from "./notify/register-notify.js";
import { registerConvoys, type ConvoyAppOptions } from "./convoys.js";
import type { ConvoyBoard } from "./convoy-board.js";

export type { ApiCounts } from "./issue-intake.js";

export interface HarnessAppOptions {
  pool: AgentPool;
  state: StateDir;
  host: string;
  runId: string;
  claude: ClaudeSettings;
  promptsDir: string;
  /** The URL the harness pushes to; by default the repository's clone URL. */
  gitUrl?: (repository: { cloneUrl: string }) => string;
  log: Logger;
  now?: () => Date;
  progressIntervalMs?: number;
  /** Called when an issue's work ends, for the demo and the tests. */
  onResult?: (result: WorkResult) => void;
  /** API calls made for each issue (`owner/repo#N`), reads and writes apart. */
  apiCounts?: Map<string, ApiCounts>;
  /**
   * The host runtime the agents run in (issue runner, events, interrupts,
   * shutdown policy); one is made from the fields above when absent.
   */
  runtime?: HostRuntime;
  /** Notifications of failed, interrupted, needs-review and reclaimed issues (docs/notifications.md); none when absent. */
  notifier?: Notifier;
  /** Token mode: the repositories the harness works (HARNESS_REPOSITORIES), where a convoy's items may live besides its own. */
  repositories?: () => readonly string[];
  /** The status page's Convoys section (src/app/convoy-board.ts), updated by every convoy refresh. */
  convoyBoard?: ConvoyBoard;
}

type IssueContext = Context<"issues.labeled" | "issues.unlabeled" | "issues.opened" | "issues.reopened" | "issues.closed">;

const sameName = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** The job an agent of the pool runs for an issue: the runtime's issue runner (claim, work). */
function issueJob(options: HarnessAppOptions, runtime: HostRuntime, own: OwnEvents): IssueJob {
  return async ({ github, config, issueNumber, agentIndex }) => {
    const key = IssueIntake.key(github.owner, github.repo, issueNumber);
    const agent = `agent-${agentIndex + 1}`;
    options.notifier?.useClient(github);
    // The App's own login lets the actor gate accept the queue labels it put on convoy items for a writer (docs/convoys.md).
    const run = await runtime.runIssue({ github, config, ownLogin: () => own.ownLogin() }, issueNumber, agent, options.log.child({ issue: key, agent }));
    if (run.claimed) options.onResult?.(run.result);
    // A daily budget reached (src/core/daily-budget.ts): `budget`, once per repository and UTC day (the outbox keys it so).
    const wait = run.claimed ? run.result.budgetWait : undefined;
    if (options.notifier && wait)
      await options.notifier
        .notify(budgetNotification(github.fullName, wait, (options.now ?? (() => new Date()))()), config.notify, github)
        .catch((error: unknown) => options.log.warn({ err: error }, "could not record the budget notification"));
    // The day's spend of the repository, for the `spend` notification (docs/notifications.md).
    const cost = run.claimed ? (run.result.report?.costUsd ?? 0) : 0;
    if (options.notifier && cost > 0)
      await options.notifier.spend
        .add(github.fullName, cost, config.notify, (options.now ?? (() => new Date()))(), github)
        .catch((error: unknown) => options.log.warn({ err: error }, "could not add the session's cost to the day's spend"));
  };
}

/** The runtime of `options`: the one given, or one made from the host fields (tests, the embedded stack). */
export function appRuntime(options: HarnessAppOptions): HostRuntime {
  return (
    options.runtime ??
    new HostRuntime({
      state: options.state,
      host: options.host,
      runId: options.runId,
      claude: options.claude,
      promptsDir: options.promptsDir,
      log: options.log,
      requeueOnShutdown: true,
      ...(options.now ? { now: options.now } : {}),
      ...(options.gitUrl ? { gitUrl: options.gitUrl } : {}),
      ...(options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {}),
    })
  );
}

/**
 * The Probot app: turns `harness:queued` into work. Webhooks are neither
 * retried nor ordered, so the handlers
 * - ignore a delivery they have already handled (same `X-GitHub-Delivery`);
 * - decide from the issue's labels as the API reads them now, not from the
 *   payload's action, so `unlabeled` arriving before `labeled` ends right;
 * - drop an issue that waits in the pool, not started, once it is no longer
 *   queued (unlabeled or closed);
 * - ignore the harness's own label changes, which GitHub delivers back with
 *   the App's bot as sender (src/app/own-events.ts), without a read;
 * - hand over only what the queue allows now (not blocked, not backing off);
 *   the reconciler (src/app/reconciler.ts) picks up the rest, and anything a
 *   lost webhook missed.
 * The handler answers at once; an agent of the pool claims and works the issue.
 */
export function createHarnessApp(options: HarnessAppOptions): ApplicationFunction {
  const now = options.now ?? (() => new Date());
  return (app) => {
    const runtime = appRuntime(options);
    const interrupts = runtime.interrupts;
    const own = new OwnEvents(app, options.log);
    const intake = new IssueIntake({ pool: options.pool, job: issueJob(options, runtime, own), log: options.log, apiCounts: options.apiCounts });
    registerIntake(app, intake);
    registerReviewFollowUps(app, { intake, log: options.log, now });
    registerPrWatch(app, { intake, log: options.log, now });
    const convoys: ConvoyAppOptions = {
      own,
      intake,
      log: options.log,
      now,
      notifier: options.notifier,
      ...(options.repositories ? { repositories: options.repositories } : {}),
      ...(options.convoyBoard ? { board: options.convoyBoard } : {}),
    };
    registerSteering(app, { intake, interrupts, state: options.state, log: options.log, now, convoys });
    registerConvoys(app, convoys);
    if (options.notifier) registerNotify(app, { notifier: options.notifier, intake, own, log: options.log });

    const onIssueEvent = async (context: IssueContext): Promise<void> => {
      const { payload } = context;
      const target: RepoTarget = deliveryTarget(payload, context.octokit);
      const issueNumber = payload.issue.number;
      const key = IssueIntake.key(target.owner, target.repo, issueNumber);
      const log = options.log.child({ issue: key, event: `issues.${payload.action}`, delivery: context.id });
      intake.sawRepository(target.owner, target.repo, payload.installation?.id);
      // The notifier's cross-host claims use the repository's client (what a restart left pending there is claimed now).
      options.notifier?.useClient(intake.client(target));
      if ("pull_request" in payload.issue && payload.issue.pull_request) return;

      if (payload.action === "closed") {
        if (intake.cancel(key)) log.info("closed while waiting for an agent: dropped");
        intake.issueClosed(target);
        return;
      }
      // The harness's own label changes come back as webhooks: it made them, so there is nothing
      // to read and nothing to hand over (a requeue of its own is picked up where it was made, or by the reconciler).
      if (await own.isOwn(payload.sender)) {
        log.debug(
          { label: payload.action === "labeled" || payload.action === "unlabeled" ? payload.label?.name : undefined },
          "the harness's own change: ignored",
        );
        return;
      }

      const github = intake.client(target, issueNumber);
      let config;
      try {
        config = await loadConfig(github, intake.etags);
      } catch (error) {
        if (isHarnessError(error) && error.code === "EHARNESS_CONFIG") {
          log.warn({ code: error.code }, error.message);
          if (payload.action === "labeled" || payload.action === "opened") await github.createComment(issueNumber, renderConfigErrorComment(error));
          return;
        }
        throw error;
      }

      const queued = config.labels.queued;
      const concernsQueue =
        payload.action === "labeled" || payload.action === "unlabeled"
          ? sameName(payload.label?.name ?? "", queued)
          : (payload.issue.labels ?? []).some((l) => l !== null && sameName(l.name, queued));
      if (!concernsQueue) return;

      // The payload says what happened then; the API says how things are now.
      const issue = await github.getIssue(issueNumber);
      if (issue.isPullRequest || issue.state !== "open" || !issue.labels.some((l) => sameName(l, queued))) {
        if (intake.cancel(key)) log.info("no longer queued while waiting for an agent: dropped");
        else log.debug({ state: issue.state, labels: issue.labels }, "not queued");
        return;
      }
      if (intake.isActive(key)) {
        log.info({ outcome: intake.submit(target, config, issueNumber) }, "already queued or running here");
        return;
      }
      const plan = await readQueue([{ ...issue, createdAt: "" }], { github, config, cache: intake.etags, now: now(), log });
      const waiting = plan.waiting[0];
      if (waiting) {
        log.info({ reason: waiting.reason.kind }, `waits: ${describeWait(waiting.reason, target)}; the reconciler will look again`);
        return;
      }
      if (plan.ready.length === 0) return;
      const outcome = intake.submit(target, config, issueNumber);
      log.info({ outcome }, outcome === "submitted" ? "queued for an agent" : "already queued or running here");
    };

    /** Runs a handler once per delivery id; forgets the id when the handler failed, so a redelivery can retry. */
    const once =
      (name: string, handler: (context: IssueContext) => Promise<void>) =>
      async (context: IssueContext): Promise<void> => {
        if (!intake.firstDelivery(context.id, name)) {
          options.log.info({ delivery: context.id, event: name }, "delivery already handled: ignored");
          return;
        }
        try {
          await handler(context);
        } catch (error) {
          intake.forgetDelivery(context.id, name);
          throw error;
        }
      };

    const events = ["issues.labeled", "issues.unlabeled", "issues.opened", "issues.reopened", "issues.closed"] as const;
    for (const event of events) app.on(event, once(event, onIssueEvent));
  };
}
