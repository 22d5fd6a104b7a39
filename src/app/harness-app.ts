import type { ApplicationFunction, Context } from "probot";
import { isHarnessError } from "../core/errors.js";
import { describeWait } from "../core/queue.js";
import { renderConfigErrorComment } from "../core/render-comments.js";
import type { GitHubApi } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import type { AgentPool } from "../runtime/agent-pool.js";
import { claimIssue } from "../runtime/claim-issue.js";
import type { StateDir } from "../runtime/state-dir.js";
import { workIssue, type ClaudeSettings, type WorkResult } from "../runtime/work-issue.js";
import { InterruptRegistry } from "../runtime/interrupts.js";
import { registerSteering } from "./steering.js";
import { IssueIntake, registerIntake, type ApiCounts, type IssueJob, type RepoTarget } from "./issue-intake.js";
import { loadConfigConditional } from "../runtime/load-config-conditional.js";
import { readQueue } from "../runtime/read-queue.js";

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
  /** Delivers /interrupt to agents of this process at once (one is made when absent). */
  interrupts?: InterruptRegistry;
}

type IssueContext = Context<"issues.labeled" | "issues.unlabeled" | "issues.opened" | "issues.reopened" | "issues.closed">;

const sameName = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** The job an agent of the pool runs for an issue: claim (lockfile, lease), then work. */
function issueJob(options: HarnessAppOptions, now: () => Date, interrupts: InterruptRegistry): IssueJob {
  return async ({ github, config, issueNumber, agentIndex }) => {
    const key = IssueIntake.key(github.owner, github.repo, issueNumber);
    const owner = { agent: `agent-${agentIndex + 1}`, host: options.host, runId: options.runId };
    const log = options.log.child({ issue: key, agent: owner.agent });
    const gitUrl = options.gitUrl ?? ((r: { cloneUrl: string }) => r.cloneUrl);
    const claimed = await claimIssue({ github, config, state: options.state, owner, log, now, gitUrl }, issueNumber);
    if (!claimed.claimed) {
      log.info({ reason: claimed.reason }, "not claimed");
      return;
    }
    const result = await workIssue(
      {
        github,
        config,
        state: options.state,
        claude: options.claude,
        promptsDir: options.promptsDir,
        gitUrl,
        log,
        now,
        ...(options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {}),
        interrupts,
      },
      claimed.claim,
    );
    options.onResult?.(result);
  };
}

/**
 * The Probot app: turns `harness:queued` into work. Webhooks are neither
 * retried nor ordered, so the handlers
 * - ignore a delivery they have already handled (same `X-GitHub-Delivery`);
 * - decide from the issue's labels as the API reads them now, not from the
 *   payload's action, so `unlabeled` arriving before `labeled` ends right;
 * - drop an issue that waits in the pool, not started, once it is no longer
 *   queued (unlabeled or closed);
 * - hand over only what the queue allows now (not blocked, not backing off);
 *   the reconciler (src/app/reconciler.ts) picks up the rest, and anything a
 *   lost webhook missed.
 * The handler answers at once; an agent of the pool claims and works the issue.
 */
export function createHarnessApp(options: HarnessAppOptions): ApplicationFunction {
  const now = options.now ?? (() => new Date());
  return (app) => {
    const interrupts = options.interrupts ?? new InterruptRegistry();
    const intake = new IssueIntake({ pool: options.pool, job: issueJob(options, now, interrupts), log: options.log, apiCounts: options.apiCounts });
    registerIntake(app, intake);
    registerSteering(app, { intake, interrupts, state: options.state, log: options.log, now });

    const onIssueEvent = async (context: IssueContext): Promise<void> => {
      const { payload } = context;
      const target: RepoTarget = {
        octokit: context.octokit as unknown as GitHubApi,
        owner: payload.repository.owner.login,
        repo: payload.repository.name,
        installationId: payload.installation?.id,
      };
      const issueNumber = payload.issue.number;
      const key = IssueIntake.key(target.owner, target.repo, issueNumber);
      const log = options.log.child({ issue: key, event: `issues.${payload.action}`, delivery: context.id });
      intake.sawRepository(target.owner, target.repo, payload.installation?.id);
      if ("pull_request" in payload.issue && payload.issue.pull_request) return;

      if (payload.action === "closed") {
        if (intake.cancel(key)) log.info("closed while waiting for an agent: dropped");
        intake.issueClosed(target);
        return;
      }

      const github = intake.client(target, issueNumber);
      let config;
      try {
        config = await loadConfigConditional(github, intake.etags);
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
