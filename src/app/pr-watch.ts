import type { Probot } from "probot";
import type { HarnessConfig } from "../core/config.js";
import type { FollowUp } from "../core/follow-up.js";
import { maySteer } from "../core/commands.js";
import { EtagCache } from "../core/etag-cache.js";
import { MAX_JOB_LOGS } from "../core/job-log.js";
import { answerMarker, unansweredRequests } from "../core/pr-requests.js";
import { checksToFix, decidePrFix, prFixKey, renderFailingChecks, type FailingCheck, type PrFixKind } from "../core/pr-fixes.js";
import type { GitHubClient } from "../adapters/github-client.js";
import { LeaseStore } from "../adapters/github-lease.js";
import { processSecrets } from "../adapters/secrets.js";
import { readJobLog } from "../adapters/github-requests/read-job-log.js";
import { readFailingChecks, readPullState, type PullState } from "../adapters/github-requests/read-pull-state.js";
import type { Logger } from "../adapters/logger.js";
import { harnessLabels } from "../runtime/claim-issue.js";
import { loadConfig } from "../runtime/load-config.js";
import { issueOfAgentPull, requestFollowUp } from "./follow-ups.js";
import { deliveryTarget, IssueIntake, type RepoTarget } from "./issue-intake.js";

/**
 * The harness watches its own open pull requests (docs/pull-request-follow-ups.md): failing
 * checks on the head, or a base that moved so that the pull request conflicts, queue a fix
 * session on the same branch, at most `pr.ciFixAttempts` / `pr.conflictFixAttempts` times per
 * issue (src/core/pr-fixes.ts), the pull request a draft while it works; past the limit one
 * comment on the pull request says the harness gives up. Driven by `check_suite.completed`
 * and `status` webhooks, and by the reconciler's pass as the backstop (webhooks get lost, and
 * GitHub sends none when a base move makes a pull request conflict).
 */
export type PrWatchOutcome =
  | { kind: "skip"; reason: string }
  | { kind: "follow-up"; source: "comment" | "review"; id: number; issue: number; queued: boolean }
  | { kind: "fix"; fix: PrFixKind; issue: number; attempt: number }
  | { kind: "give-up"; fix: PrFixKind; issue: number; attempts: number };

export interface PrWatchDeps {
  github: GitHubClient;
  config: HarnessConfig;
  log: Logger;
  now: Date;
  /** Hands the requeued issue to an agent now (webhooks); the reconciler's walk picks it up otherwise. */
  submit?: (issueNumber: number) => void;
  /** The reconciler's conditional reads (comments, reviews, lease heads) across passes. */
  etags?: EtagCache;
  /** `comment-<id>` / `review-<id>` this process decided without a reply on GitHub (a review by someone who may not steer). */
  decided?: Set<string>;
}

const HARNESS = "harness";

/** Acts on one pull request as read now (`readPullState`): a CI or conflict fix when one is due. */
export async function watchAgentPull(deps: PrWatchDeps, pull: PullState): Promise<PrWatchOutcome> {
  const { github, config } = deps;
  const issueNumber = issueOfAgentPull(config, {
    head: { ref: pull.headRef, repo: { full_name: pull.headRepo ?? "" } },
    base: { repo: { full_name: pull.baseRepo ?? "" } },
  });
  if (issueNumber === null) return { kind: "skip", reason: "not the harness's pull request" };
  if (pull.state !== "open") return { kind: "skip", reason: "closed" };
  const leases = new LeaseStore(github, config.lease.refPrefix);
  const head = await leases.read(issueNumber);
  if (head === null) return { kind: "skip", reason: "no lease" };
  if (head.record.state === "claimed" || head.record.retry) return { kind: "skip", reason: "an agent works it or a retry waits" };

  let kind: PrFixKind;
  let key: string;
  let followUp: FollowUp;
  let detail: string;
  if (pull.mergeable === false) {
    kind = "conflict";
    key = prFixKey("conflict", pull.headSha, pull.baseSha);
    followUp = { source: "conflict", by: HARNESS, text: pull.baseRef };
    detail = `the base \`${pull.baseRef}\` moved and #${pull.number} conflicts with it`;
  } else {
    kind = "ci";
    key = prFixKey("ci", pull.headSha);
    // Decided for this head already (a fix queued, or the give-up said): no reads of its checks again, pass after pass.
    if (head.record.prFixes?.lastKey === key) return { kind: "skip", reason: "already decided for this head" };
    const failed = await readFailingChecks(github, pull.headSha);
    if (failed === null) return { kind: "skip", reason: "checks still running" };
    if (failed.length === 0) return { kind: "skip", reason: "no failing checks" };
    // Which of them count (pr.ciFixChecks): read only when something failed.
    const required = config.pr.ciFixChecks === "required" ? await github.readRequiredChecks(pull.baseRef, deps.etags ?? new EtagCache()) : [];
    const { fix: failing, ignored } = checksToFix(failed, config.pr.ciFixChecks, required);
    if (failing.length === 0) {
      deps.log.info(
        { issue: issueNumber, pull: pull.number, failing: ignored.map((c) => c.name), required },
        "only checks the base branch does not require failed: no fix session",
      );
      return { kind: "skip", reason: "no failing required checks" };
    }
    // The job logs are read only when a fix session will get them (below).
    followUp = { source: "ci", by: HARNESS, text: "" };
    detail = `checks failed on #${pull.number} (${failing.map((c) => `\`${c.name}\``).join(", ")})`;
    const limit = config.pr.ciFixAttempts;
    if (decidePrFix(head.record, { kind, key, limit, followUp, now: deps.now }).kind === "fix") {
      await withJobLogs(github, failing, deps.log.child({ issue: issueNumber, pull: pull.number }));
    }
    followUp = { ...followUp, text: renderFailingChecks(pull.headSha, failing) };
  }
  const limit = kind === "ci" ? config.pr.ciFixAttempts : config.pr.conflictFixAttempts;
  const input = { kind, key, limit, followUp, now: deps.now };
  const first = decidePrFix(head.record, input);
  if (first.kind === "skip") return first;
  // Decided again on the head the compare-and-swap reads: another host may have acted meanwhile.
  let decided = first;
  const written = await leases.transition(issueNumber, (current) => {
    const d = decidePrFix(current, input);
    if (d.kind === "skip") return null;
    decided = d;
    return d.record;
  });
  if (!written.ok) return { kind: "skip", reason: "the lease changed meanwhile" };
  const log = deps.log.child({ issue: issueNumber, pull: pull.number, fix: kind });
  // Failing or conflicting is not ready, whether work continues or the harness gives up: a draft either way
  // (a session that succeeds marks it ready again, in the publisher).
  if (!pull.draft) {
    await github
      .setPullDraft({ nodeId: pull.nodeId }, true)
      .catch((error: unknown) => log.warn({ err: error }, "could not turn the pull request into a draft"));
  }
  if (decided.kind === "give-up") {
    log.info({ attempts: decided.attempts }, "fix attempts used up: the harness gives up");
    await github.createComment(
      pull.number,
      `<!-- harness:gave-up -->\n🛑 The harness gives up on this pull request: ${detail}, and it has used its ${decided.attempts} ${kind === "ci" ? "CI fix" : "conflict fix"} attempt${decided.attempts === 1 ? "" : "s"} (\`pr.${kind === "ci" ? "ciFixAttempts" : "conflictFixAttempts"}\` in .github/harness.yml). It stays a draft for a person; \`/harness <instructions>\` here or \`/retry <instructions>\` on #${issueNumber} starts another session.`,
    );
    return { kind: "give-up", fix: kind, issue: issueNumber, attempts: decided.attempts };
  }
  const issue = await github.getIssue(issueNumber);
  await github.transitionLabels(issueNumber, issue.labels, harnessLabels(config), config.labels.queued);
  log.info({ attempt: decided.attempt, limit: decided.limit }, "fix session queued");
  await github.createComment(
    issueNumber,
    `🔧 ${detail[0]?.toUpperCase() ?? ""}${detail.slice(1)}: fix attempt ${decided.attempt} of ${decided.limit} queued on \`${config.branchPrefix}${issueNumber}\`${kind === "conflict" ? ` (the base is merged into the branch, and the session resolves the conflicts)` : ""}.`,
  );
  deps.submit?.(issueNumber);
  return { kind: "fix", fix: kind, issue: issueNumber, attempt: decided.attempt };
}

/**
 * The logs of the failing checks that are GitHub Actions jobs, on each check (`log`): the first
 * `MAX_JOB_LOGS` are read (a log that cannot be read says why), the others say they were not.
 */
async function withJobLogs(github: GitHubClient, failing: FailingCheck[], log: Logger): Promise<void> {
  let read = 0;
  for (const check of failing) {
    if (check.jobId === null || check.jobId === undefined) continue;
    if (read >= MAX_JOB_LOGS) {
      check.log = { kind: "missing", reason: "not-read" };
      continue;
    }
    read += 1;
    try {
      check.log = await readJobLog(github, check.jobId, { redact: processSecrets.redact });
    } catch (error) {
      log.warn({ job: check.jobId, err: error }, "could not read the job's log");
      check.log = { kind: "missing", reason: "unavailable", detail: "GitHub's API failed" };
    }
    if (check.log.kind === "missing") log.info({ job: check.jobId, reason: check.log.reason }, "failing job without a log");
  }
}

/**
 * The backstop for lost `/harness` comment and review webhooks, one pull request: the oldest
 * request nobody answered (src/core/pr-requests.ts) is handled as its webhook would have been,
 * once (every reply carries the marker that answers it). Nothing while an agent works the issue
 * or a follow-up waits: the next pass looks again. Reads: the lease head, the pull request's
 * comments and reviews (conditional: 304s while nothing changed), and a permission read when
 * there is a request.
 */
export async function watchPersonRequests(deps: PrWatchDeps, pull: PullState, issueNumber: number): Promise<PrWatchOutcome> {
  const { github, config } = deps;
  const etags = deps.etags ?? new EtagCache();
  const leases = new LeaseStore(github, config.lease.refPrefix, { etags });
  const head = await leases.read(issueNumber);
  if (head === null) return { kind: "skip", reason: "no lease" };
  if (head.record.state === "claimed" || head.record.retry) return { kind: "skip", reason: "an agent works it or a retry waits" };
  const comments = await github.listCommentsConditional(pull.number, etags);
  const reviews = await github.listReviewsConditional(pull.number, etags);
  const [request] = unansweredRequests({ comments, reviews, headSha: pull.headSha, self: pull.author, ...(deps.decided ? { skip: deps.decided } : {}) });
  if (!request) return { kind: "skip", reason: "no unanswered request" };
  const key = `${request.kind}-${request.id}`;
  const log = deps.log.child({ issue: issueNumber, pull: pull.number, [request.kind]: request.id, by: request.by });
  log.info("a request on the pull request nobody answered (its webhook was lost?): handled now");
  const permission = await github.permission(request.by);
  if (!maySteer(permission)) {
    if (request.kind === "comment") {
      await github.react(request.id, "-1");
      await github.createComment(
        pull.number,
        `${answerMarker(request)}\n@${request.by} only people with write, maintain or admin permission on this repository can steer the harness (yours: ${permission.role_name ?? permission.permission}). Nothing was changed.`,
      );
    }
    deps.decided?.add(key);
    log.info({ permission }, "from someone who may not steer: no follow-up");
    return { kind: "skip", reason: "may not steer" };
  }
  if (request.kind === "comment") await github.react(request.id, "eyes");
  const queued = await requestFollowUp({
    github,
    config,
    issueNumber,
    followUp: { source: request.kind, by: request.by, text: request.text },
    replyTo: pull.number,
    answers: { kind: request.kind, id: request.id },
    log,
    now: deps.now,
  });
  deps.decided?.add(key);
  return { kind: "follow-up", source: request.kind, id: request.id, issue: issueNumber, queued };
}

/**
 * The reconciler's backstop, one repository: every open pull request of the harness, one list
 * read and one read each (both conditional), then a person's unanswered request (`watchPersonRequests`), else
 * failing checks or a conflict (`watchAgentPull`; more reads when one is due).
 */
export async function watchAgentPulls(deps: PrWatchDeps): Promise<PrWatchOutcome[]> {
  // Conditional, pass after pass: an unchanged list and unchanged pull requests cost no rate limit;
  // one cache for the whole pass (the pull requests' lease heads, comments, reviews and required checks too).
  const etags = deps.etags ?? new EtagCache();
  const pass: PrWatchDeps = { ...deps, etags };
  const { github, config } = pass;
  const open = await github.listOpenPullsConditional(etags);
  const outcomes: PrWatchOutcome[] = [];
  for (const listed of open.filter((p) => p.headRef.startsWith(config.branchPrefix))) {
    try {
      const pull = await readPullState(github, listed.number, etags);
      const issueNumber = issueOfAgentPull(config, {
        head: { ref: pull.headRef, repo: { full_name: pull.headRepo ?? "" } },
        base: { repo: { full_name: pull.baseRepo ?? "" } },
      });
      if (issueNumber !== null && pull.state === "open") {
        const person = await watchPersonRequests(pass, pull, issueNumber);
        if (person.kind !== "skip") {
          outcomes.push(person);
          continue;
        }
      }
      outcomes.push(await watchAgentPull(pass, pull));
    } catch (error) {
      pass.log.warn({ pull: listed.number, err: error }, "could not check the pull request");
    }
  }
  return outcomes;
}

/** `check_suite.completed` and `status` (failure or error) on a commit: the harness's pull requests whose head it is. */
export function registerPrWatch(app: Probot, options: { intake: IssueIntake; log: Logger; now: () => Date }): void {
  const { intake, log } = options;
  const watch = async (context: { id: string; octokit: unknown }, target: RepoTarget, sha: string, pullNumbers: number[], name: string): Promise<void> => {
    if (!intake.firstDelivery(context.id, name)) return;
    try {
      const probe = intake.client(target);
      const config = await loadConfig(probe, intake.etags);
      for (const number of pullNumbers) {
        const pull = await readPullState(probe, number);
        if (pull.headSha !== sha) continue; // an older head's result: the newer one decides
        const n = issueOfAgentPull(config, {
          head: { ref: pull.headRef, repo: { full_name: pull.headRepo ?? "" } },
          base: { repo: { full_name: pull.baseRepo ?? "" } },
        });
        if (n === null) continue;
        const outcome = await watchAgentPull(
          { github: intake.client(target, n), config, log, now: options.now(), submit: (issue) => intake.submit(target, config, issue) },
          pull,
        );
        log.info({ pull: number, outcome }, `${name}: pull request checked`);
      }
    } catch (error) {
      intake.forgetDelivery(context.id, name);
      throw error;
    }
  };
  const targetOf = deliveryTarget;
  app.on("check_suite.completed", async (context) => {
    const suite = context.payload.check_suite;
    if (suite.conclusion === "success" || suite.conclusion === "neutral" || suite.conclusion === "skipped") return;
    await watch(
      context,
      targetOf(context.payload, context.octokit),
      suite.head_sha,
      suite.pull_requests.map((p) => p.number),
      "check-suite-watch",
    );
  });
  app.on("status", async (context) => {
    const { payload } = context;
    if (payload.state !== "failure" && payload.state !== "error") return;
    const target = targetOf(payload, context.octokit);
    const probe = intake.client(target);
    const numbers: number[] = [];
    for (const branch of payload.branches) {
      // findOpenPull qualifies the head with the owner itself.
      const found = await probe.findOpenPull(branch.name, payload.repository.default_branch);
      if (found) numbers.push(found.number);
    }
    await watch(context, target, payload.sha, numbers, "status-watch");
  });
}

/**
 * The reconciler's per-repository step with the PR watch after `first` (the stall reclaimer),
 * each failing alone: a pull request due a fix is labeled queued before the queue is read, so
 * the same pass hands it to an agent.
 */
export function withPrWatch(
  first: (github: GitHubClient, config: HarnessConfig) => Promise<void>,
  options: { log: Logger; now?: () => Date },
): (github: GitHubClient, config: HarnessConfig) => Promise<void> {
  // Across passes: the conditional reads' ETags, and what this process decided without a reply.
  const etags = new EtagCache();
  const decided = new Set<string>();
  return async (github, config) => {
    await first(github, config).catch((error: unknown) => options.log.error({ repository: github.fullName, err: error }, "reclaimer step failed"));
    const outcomes = await watchAgentPulls({ github, config, log: options.log, now: (options.now ?? (() => new Date()))(), etags, decided });
    const acted = outcomes.filter((o) => o.kind !== "skip");
    if (acted.length > 0) options.log.info({ repository: github.fullName, acted }, "pull requests followed up");
  };
}
