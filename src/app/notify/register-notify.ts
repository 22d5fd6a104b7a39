import type { Context, Probot } from "probot";
import { isHarnessError } from "../../core/errors.js";
import type { HarnessConfig } from "../../core/config.js";
import type { LeaseRecord } from "../../core/lease.js";
import type { NotifyEvent } from "../../core/notify-config.js";
import type { GitHubClient } from "../../adapters/github-client.js";
import { LeaseStore, type LeaseHead } from "../../adapters/github-lease.js";
import type { Logger } from "../../adapters/logger.js";
import { loadConfig } from "../../runtime/load-config.js";
import { deliveryTarget, type IssueIntake } from "../issue-intake.js";
import type { OwnEvents } from "../own-events.js";
import type { Notifier } from "./notifier.js";

export interface NotifySourceOptions {
  notifier: Notifier;
  intake: IssueIntake;
  own: OwnEvents;
  log: Logger;
  now?: () => Date;
  /**
   * The label moves before the lease is released (src/runtime/publisher.ts), so a head still
   * `claimed` is read again after these pauses until it names the transition (default: 0.2 s
   * doubling to 5 s, about a minute in all).
   */
  releaseWaitsMs?: number[];
  sleep?: (ms: number) => Promise<void>;
}

const defaultWaits = [200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000, 5000, 5000, 5000, 5000, 5000, 5000];
const sameName = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The event a lease head names, given the label that moved: null when it names none of ours. */
function eventOf(label: "failed" | "interrupted" | "needs-review", record: LeaseRecord): NotifyEvent | null {
  if (label === "interrupted") return record.state === "interrupted" ? "interrupted" : null;
  if (label === "needs-review") return "needs-review";
  return record.state === "reclaimed" ? "reclaimed" : "failed";
}

/**
 * Where the notifier learns transitions, for issues worked on any host: the webhooks of the
 * harness's own label writes (GitHub delivers every host's writes to the App), then the lease
 * ref's head, which names the transition and whose commit is its identity:
 * - `issues.labeled` with the failed label: `failed` (head released), or `reclaimed` (head
 *   reclaimed: the reclaimer marked it failed after the last attempt);
 * - `issues.labeled` with the interrupted label: `interrupted` (head interrupted);
 * - `pull_request.labeled` with `publish.needsReviewLabel` on the harness's branch: `needs-review`.
 * A label a person sets by hand is no transition of the harness (its lease says otherwise) and
 * is not notified; a label the issue no longer carries (a redelivery after it moved on) neither.
 */
export function registerNotify(app: Probot, options: NotifySourceOptions): void {
  const sleep = options.sleep ?? realSleep;
  const waits = options.releaseWaitsMs ?? defaultWaits;

  /**
   * The harness itself: the App's bot (`own-events.ts`), or in token mode the token's user, whose
   * label writes are the harness's (a person using that same account is indistinguishable).
   */
  const byHarness = async (sender: { login: string; type?: string | null } | null | undefined): Promise<boolean> => {
    if (!sender) return false;
    if (await options.own.isOwn(sender)) return true;
    if (sender.type === "Bot") return false;
    const login = await options.own.ownLogin();
    return login !== null && !login.endsWith("[bot]") && login.toLowerCase() === sender.login.toLowerCase();
  };

  const client = (context: Context<"issues.labeled" | "pull_request.labeled">, issue: number): GitHubClient =>
    options.intake.client(deliveryTarget(context.payload, context.octokit), issue);

  const config = async (github: GitHubClient, log: Logger): Promise<HarnessConfig | null> => {
    try {
      return await loadConfig(github, options.intake.etags);
    } catch (error) {
      if (isHarnessError(error) && error.code === "EHARNESS_CONFIG") {
        log.warn({ code: error.code }, `no notification: ${error.message}`);
        return null;
      }
      throw error;
    }
  };

  /** The lease head once it names the transition (not a live claim), or the last head read. */
  const settledHead = async (leases: LeaseStore, issue: number): Promise<LeaseHead | null> => {
    let head = await leases.read(issue);
    for (const wait of waits) {
      if (!head || head.record.state !== "claimed") return head;
      await sleep(wait);
      head = await leases.read(issue);
    }
    return head;
  };

  const transition = async (
    github: GitHubClient,
    cfg: HarnessConfig,
    issue: number,
    label: "failed" | "interrupted" | "needs-review",
    facts: { title: string; url: string },
    log: Logger,
  ): Promise<void> => {
    const head = await settledHead(new LeaseStore(github, cfg.lease.refPrefix, { etags: options.intake.etags }), issue);
    if (!head) {
      log.info("no lease ref: not a transition of the harness, no notification");
      return;
    }
    if (head.record.state === "claimed") log.warn({ sha: head.sha }, "the lease is still claimed after the wait: notified with its current commit");
    const event = eventOf(label, head.record);
    if (event === null) {
      log.info({ state: head.record.state }, "the lease names no such transition: no notification");
      return;
    }
    await options.notifier.notify(
      {
        repository: github.fullName,
        issue,
        title: facts.title,
        url: facts.url,
        event,
        sha: head.sha,
        attempt: head.record.attempt,
        outcome: head.record.outcome ?? null,
        at: (options.now ?? (() => new Date()))().toISOString(),
      },
      cfg.notify,
      github,
    );
  };

  const background = (work: Promise<void>, log: Logger): void => {
    options.notifier.track(work.catch((error: unknown) => log.error({ err: error }, "could not record a notification")));
  };

  app.on("issues.labeled", async (context) => {
    const { payload } = context;
    if (payload.issue.pull_request) return;
    const name = payload.label?.name ?? "";
    const log = options.log.child({ issue: `${payload.repository.full_name}#${payload.issue.number}`, label: name, delivery: context.id, notify: true });
    if (!(await byHarness(payload.sender))) {
      log.debug("a label set by someone else than the harness: no notification");
      return;
    }
    const github = client(context, payload.issue.number);
    const cfg = await config(github, log);
    if (!cfg) return;
    const label = sameName(name, cfg.labels.failed) ? "failed" : sameName(name, cfg.labels.interrupted) ? "interrupted" : null;
    if (label === null || !options.notifier.wants(label === "failed" ? ["failed", "reclaimed"] : ["interrupted"], cfg.notify)) return;
    background(
      (async () => {
        const now = await github.getIssue(payload.issue.number);
        if (!now.labels.some((l) => sameName(l, name))) {
          log.info("the issue no longer carries the label: no notification");
          return;
        }
        await transition(github, cfg, payload.issue.number, label, { title: now.title, url: payload.issue.html_url }, log);
      })(),
      log,
    );
  });

  app.on("pull_request.labeled", async (context) => {
    const { payload } = context;
    const name = payload.label?.name ?? "";
    const log = options.log.child({ pull: `${payload.repository.full_name}#${payload.pull_request.number}`, label: name, delivery: context.id, notify: true });
    if (!(await byHarness(payload.sender))) return;
    const github = client(context, payload.pull_request.number);
    const cfg = await config(github, log);
    if (!cfg || !sameName(name, cfg.publish.needsReviewLabel) || !options.notifier.wants(["needs-review"], cfg.notify)) return;
    const branch = payload.pull_request.head.ref;
    const issue = branch.startsWith(cfg.branchPrefix) ? Number(branch.slice(cfg.branchPrefix.length)) : NaN;
    if (!Number.isInteger(issue) || issue <= 0) {
      log.info({ branch }, "not a harness branch: no notification");
      return;
    }
    background(transition(github, cfg, issue, "needs-review", { title: payload.pull_request.title, url: payload.pull_request.html_url }, log), log);
  });
}
