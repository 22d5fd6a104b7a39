import { randomUUID } from "node:crypto";
import type { HarnessConfig } from "../core/config.js";
import { renderLabelRefusedComment, renderTrackingComment } from "../core/render-comments.js";
import { gateLabeler, queueLabeler, type GateVerdict, type LabelEvent } from "../core/actor-gate.js";
import { isBot } from "../core/commands.js";
import type { FollowUp } from "../core/follow-up.js";
import type { LeaseOwner, LeaseRecord } from "../core/lease.js";
import type { GitHubClient, IssueData, RepositoryData } from "../adapters/github-client.js";
import { LeaseStore, type LeaseHead } from "../adapters/github-lease.js";
import { leaseTransport, repositoryOnce } from "./shared-clone.js";
import { acquireLock } from "../adapters/lockfile.js";
import type { Logger } from "../adapters/logger.js";
import type { StateDir } from "./state-dir.js";
import { StepClock } from "../core/step-clock.js";
import { checkApprovedText, type BodyEdits } from "./check-approved-text.js";
import { convoyStagingOf } from "./convoy.js";

/** An issue this agent holds: the local lock, the lease and what people see. */
export interface Claim {
  issue: IssueData;
  owner: LeaseOwner;
  lease: LeaseHead;
  leases: LeaseStore;
  labels: string[];
  /**
   * The attempt's comment, being created: the claim does not wait for it (display only). Null
   * when the creation failed (logged); the attempt's final body then creates it
   * (src/runtime/tracking-comment.ts). Never rejects.
   */
  trackingCommentId: Promise<number | null>;
  sessionId: string;
  /** `new`, or what a person's /retry asked for: continue the session, or start fresh. */
  mode: "new" | "resume" | "fresh";
  /** A follow-up on the pull request a person asked for with the retry (src/core/follow-up.ts); absent otherwise. */
  followUp?: FollowUp;
  /** The lease record before this claim (how the last attempt ended), null for a first claim. */
  previous: LeaseRecord | null;
  /** When the queued label was last added (from the label events the gate read), where known: the claim wait starts here. */
  queuedAt?: string | null;
  releaseLock: () => Promise<void>;
  /**
   * The repository's data as this claim read it (once, for the lease's pushes), for the work that
   * follows: the workspace asks it again without a second request. Null when the claim read none.
   */
  repository: (() => Promise<RepositoryData>) | null;
  /** Permission lookups as the claim's gates made them, one request per login: the prompt's comments ask it again for free. */
  permission: GitHubClient["permission"];
  /** The claim's steps so far; the work goes on with the same clock, logged once the issue is done. */
  clock: StepClock;
}

export type ClaimOutcome = { claimed: true; claim: Claim } | { claimed: false; reason: string };

export interface ClaimDeps {
  github: GitHubClient;
  config: HarnessConfig;
  state: StateDir;
  owner: LeaseOwner;
  log: Logger;
  now: () => Date;
  /**
   * The repository's git URL: when set, the lease moves by git push through
   * this host's shared clone (claim, renewals, release: no REST write spent);
   * without it (no clone at hand) by REST writes.
   */
  gitUrl?: (repository: { cloneUrl: string }) => string;
  /**
   * The harness's own login (`<slug>[bot]` for an App; src/app/own-events.ts), when the claimer
   * knows it: the App's own queue label on an item it staged into a convoy for a writer is then
   * accepted (src/core/convoy-staging.ts). Without it such a label is a bot's like any other.
   */
  ownLogin?: () => Promise<string | null>;
}

/** Permission lookups of one claim, one request per login (case-insensitive); a failed lookup is not kept. */
function permissionsOnce(github: Pick<GitHubClient, "permission">): GitHubClient["permission"] {
  const read = new Map<string, ReturnType<GitHubClient["permission"]>>();
  return (login) => {
    const key = login.toLowerCase();
    let found = read.get(key);
    if (found === undefined) {
      found = github.permission(login);
      read.set(key, found);
      found.catch(() => read.delete(key));
    }
    return found;
  };
}

/**
 * Fail closed: an agent starts only when the queue label's newest `labeled`
 * event names someone allowed (src/core/actor-gate.ts). A person without the
 * right gets the label taken off and one reply saying why; an error reading
 * the events or the permission starts nothing and changes nothing (the
 * reconciler looks again).
 */
async function gateQueueLabel(input: {
  github: GitHubClient;
  config: HarnessConfig;
  issueNumber: number;
  events: LabelEvent[] | null;
  claimedBefore: boolean;
  log: Logger;
  ownLogin?: (() => Promise<string | null>) | undefined;
  permission: GitHubClient["permission"];
}): Promise<GateVerdict & { staged?: { bot: string; at: string } }> {
  const { github, config, issueNumber, log } = input;
  const queued = config.labels.queued;
  if (input.events === null) return { allowed: false, remove: false, reason: "the issue's label events could not be read; the reconciler looks again" };
  const labeler = queueLabeler(input.events, queued);
  let permission: { permission: string; role_name: string | null } | null = null;
  if (labeler !== null && !isBot(labeler)) {
    try {
      permission = await input.permission(labeler.login);
    } catch (error) {
      log.warn({ issue: issueNumber, err: error, labeler: labeler.login }, "could not read the labeler's permission");
      return { allowed: false, remove: false, reason: `the permission of @${labeler.login} could not be read; the reconciler looks again` };
    }
  }
  // The harness's own bot's label, on an issue no lease knows yet: a convoy staging for a writer may stand for the writer's label.
  let ownLogin: string | null = null;
  let staged: { by: string; at: string; permission: { permission: string; role_name: string | null } | null } | null = null;
  const allowedBot = labeler !== null && config.trust.allowBots.some((l) => l.toLowerCase() === labeler.login.toLowerCase());
  if (labeler !== null && isBot(labeler) && !allowedBot && !input.claimedBefore && input.ownLogin) {
    try {
      ownLogin = await input.ownLogin();
      const record =
        ownLogin !== null && ownLogin.toLowerCase() === labeler.login.toLowerCase() ? await convoyStagingOf(github, config, issueNumber, ownLogin) : null;
      if (record) staged = { ...record, permission: await input.permission(record.by) };
    } catch (error) {
      log.warn({ issue: issueNumber, err: error }, "could not read the convoy staging of the harness's own queue label");
      return { allowed: false, remove: false, reason: "the convoy that staged the issue could not be read; the reconciler looks again" };
    }
  }
  const verdict = gateLabeler({
    labeler,
    permission,
    allowBots: config.trust.allowBots,
    claimedBefore: input.claimedBefore,
    queuedLabel: queued,
    ownLogin,
    staged,
  });
  if (!verdict.allowed) {
    log.warn({ issue: issueNumber, labeler: labeler?.login ?? null, reason: verdict.reason }, "queue label refused");
    if (verdict.remove) {
      try {
        await github.removeLabel(issueNumber, queued);
        await github.createComment(issueNumber, renderLabelRefusedComment(verdict.reason));
      } catch (error) {
        log.warn({ issue: issueNumber, err: error }, "could not take the refused label off");
      }
    }
  }
  if (verdict.allowed && staged && labeler !== null && verdict.by === staged.by) return { ...verdict, staged: { bot: labeler.login, at: staged.at } };
  return verdict;
}

export function harnessLabels(config: HarnessConfig): string[] {
  // The convoy label marks a tracking issue, not a state an issue moves through: never swapped away.
  return Object.entries(config.labels)
    .filter(([key]) => key !== "convoy")
    .map(([, name]) => name);
}

/**
 * Claims an issue exactly once: the same-host lockfile first (no API call),
 * then the lease ref on GitHub (the truth across hosts), and only then the
 * labels, assignee and tracking comment that show the claim to people.
 */
export async function claimIssue(deps: ClaimDeps, issueNumber: number): Promise<ClaimOutcome> {
  const { github, config, state, owner, log } = deps;
  const clock = new StepClock();
  const lock = await acquireLock(state.claims(), state.claimName(github.owner, github.repo, issueNumber), owner.agent);
  if (!lock.acquired) {
    return { claimed: false, reason: `held on this host by ${lock.holder ? `${lock.holder.agent} (pid ${lock.holder.pid})` : "another process"}` };
  }
  clock.mark("claim.lock");
  // The lease's pushes need the repository's URL, read once (and again by the workspace from this reader).
  const repository = deps.gitUrl ? repositoryOnce(github) : null;
  const leases = new LeaseStore(
    github,
    config.lease.refPrefix,
    deps.gitUrl && repository
      ? {
          git: leaseTransport({ github, state, gitUrl: deps.gitUrl, repository }),
          onGitFallback: (error) => log.warn({ issue: issueNumber, err: error }, "lease writes by git push failed; using the API"),
        }
      : {},
  );
  // The issue and its lease are read under the lock, so what we decide on is not
  // older than any same-host claimer's work (a stale read could claim a finished
  // issue whose lease was released). Both at once: a finisher labels the issue
  // before it releases the lease, so a released lease read before the issue
  // still finds the issue's final label; and the claim's compare-and-swap
  // settles a lease that moved since.
  let issue: IssueData;
  let before: LeaseHead | null;
  let events: LabelEvent[] | null;
  let bodyEdits: BodyEdits | null;
  try {
    // The label events too (who queued it, for the gate below), and the body's
    // revisions (for the approved-text check); a failed read is the gate's to judge.
    // Both are read after the issue, so an edit that the text read at this claim
    // holds is in the history they show (the agent reads that text, never a later one).
    [[issue, events, bodyEdits], before] = await Promise.all([
      github.getIssue(issueNumber).then((read) =>
        Promise.all([
          read,
          github.labelEvents(issueNumber).catch((error: unknown) => {
            log.warn({ issue: issueNumber, err: error }, "could not read the issue's label events");
            return null;
          }),
          github.bodyEdits(issueNumber).catch((error: unknown) => {
            log.warn({ issue: issueNumber, err: error }, "could not read the issue's edit history");
            return null;
          }),
        ]),
      ),
      leases.read(issueNumber),
    ]);
  } catch (error) {
    await lock.release();
    throw error;
  }
  clock.mark("claim.readIssueAndLease");
  const refusal = issue.isPullRequest
    ? "pull requests are not worked"
    : issue.state !== "open"
      ? "the issue is closed"
      : !issue.labels.includes(config.labels.queued)
        ? `the issue is not labeled ${config.labels.queued}`
        : null;
  if (refusal !== null) {
    await lock.release();
    return { claimed: false, reason: refusal };
  }
  // Read while the gate reads its permissions: the claim's push does not wait for it after them.
  repository?.().catch(() => undefined); // a failed read is asked again by the push, and reported there
  // One read per login for the claim: the gate's labeler is most often the approved-text check's too.
  const permission = permissionsOnce(github);
  const gate = await gateQueueLabel({ github, config, issueNumber, events, claimedBefore: before !== null, log, ownLogin: deps.ownLogin, permission });
  if (!gate.allowed) {
    await lock.release();
    return { claimed: false, reason: gate.reason };
  }
  const text = await checkApprovedText({
    github,
    config,
    issueNumber,
    events,
    bodyEdits,
    log,
    staged: gate.allowed ? (gate.staged ?? null) : null,
    permission,
  });
  if (!text.allowed) {
    await lock.release();
    return { claimed: false, reason: text.reason };
  }
  clock.mark("claim.gate");
  try {
    // A /retry on the lease decides the session: the same one (resume) or a new one.
    const resume = before?.record.retry?.mode === "resume" && before.record.sessionId !== null;
    const sessionId = resume && before?.record.sessionId ? before.record.sessionId : randomUUID();
    // On the head just read: the claim's compare-and-swap settles a head that moved since.
    const result = await leases.claim(
      {
        issue: issueNumber,
        owner,
        now: deps.now(),
        termMs: config.lease.termMinutes * 60_000,
        sessionId,
      },
      before,
    );
    if (!result.ok) {
      await lock.release();
      return { claimed: false, reason: result.reason };
    }
    clock.mark("claim.lease");
    log.info({ issue: issueNumber, epoch: result.head.record.epoch, attempt: result.head.record.attempt }, "claimed");
    try {
      // The agent that claims works the issue at once: it shows as running from
      // here (one label write instead of claimed, then running a second later).
      const labels = await github.transitionLabels(issueNumber, issue.labels, harnessLabels(config), config.labels.running);
      clock.mark("claim.labels");
      if (config.assignee) {
        await github.addAssignee(issueNumber, config.assignee).catch((error: unknown) => {
          log.debug({ err: error, assignee: config.assignee }, "assignee skipped");
        });
        clock.mark("claim.assignee");
      }
      const tracking = renderTrackingComment({
        issue: issueNumber,
        phase: "claimed",
        agent: `${owner.agent}@${owner.host}`,
        attempt: result.head.record.attempt,
        branch: `${config.branchPrefix}${issueNumber}`,
      });
      // One comment per attempt, created here and edited in place until it ends as the session's summary.
      // Not awaited: the work starts meanwhile, the first edit waits for it, a failure leaves it to the summary.
      const trackingCommentId = github.createComment(issueNumber, tracking).catch((error: unknown): null => {
        log.warn({ issue: issueNumber, err: error }, "the tracking comment was not created: the attempt's summary creates it");
        return null;
      });
      return {
        claimed: true,
        claim: {
          issue: { ...issue, labels },
          owner,
          lease: result.head,
          leases,
          labels,
          trackingCommentId,
          sessionId,
          mode: result.head.record.retry?.mode ?? "new",
          ...(result.head.record.retry?.followUp ? { followUp: result.head.record.retry.followUp } : {}),
          previous: before?.record ?? null,
          queuedAt: queuedAtOf(events ?? [], config.labels.queued),
          releaseLock: lock.release,
          repository,
          permission,
          clock,
        },
      };
    } catch (error) {
      // The claim is ours but could not be shown: give it back rather than
      // leave it to expire, then let the caller report the error.
      await leases
        .release(issueNumber, result.head, owner, deps.now(), { outcome: "error", sessionId: null })
        .catch((releaseError: unknown) => log.error({ err: releaseError }, "could not release the lease after a failed claim"));
      throw error;
    }
  } catch (error) {
    await lock.release();
    throw error;
  }
}

/** The time of the newest `labeled` event of `label`, null when none says. */
function queuedAtOf(events: readonly { event: string; label: string; at?: string }[], label: string): string | null {
  for (let i = events.length - 1; i >= 0; i -= 1) {
    const e = events[i];
    if (e?.event === "labeled" && e.label.toLowerCase() === label.toLowerCase()) return e.at ?? null;
  }
  return null;
}
