import type { Probot } from "probot";
import { isBot, maySteer } from "../core/commands.js";
import type { HarnessConfig } from "../core/config.js";
import { boundFollowUpText, type FollowUp } from "../core/follow-up.js";
import { describeLease } from "../core/lease.js";
import { answerMarker, type AnsweredItem } from "../core/pr-requests.js";
import type { GitHubClient } from "../adapters/github-client.js";
import { LeaseStore } from "../adapters/github-lease.js";
import type { Logger } from "../adapters/logger.js";
import { harnessLabels } from "../runtime/claim-issue.js";
import { loadConfig } from "../runtime/load-config.js";
import { deliveryTarget, IssueIntake, type RepoTarget } from "./issue-intake.js";

/**
 * Follow-up sessions on the agent's pull request (docs/pull-request-follow-ups.md): a writer's
 * `/retry <instructions>` on the issue, a review requesting changes on the pull request, or a
 * `/harness <instructions>` comment on it queues the issue again with the instructions
 * recorded on the lease (`retry.followUp`), so the next agent, on any host, resumes the saved
 * session (or starts fresh with the summary) on the same branch, and the same pull request is
 * refreshed by the publisher.
 */
export interface FollowUpRequest {
  github: GitHubClient;
  config: HarnessConfig;
  /** Hands the queued issue to an agent now; without them (the reconciler's pass) the same pass's queue read picks it up. */
  intake?: IssueIntake;
  target?: RepoTarget;
  issueNumber: number;
  followUp: FollowUp;
  /** `fresh`: the writer asked for a new session (`/retry fresh <instructions>`); else the saved one is resumed where there is one. */
  fresh?: boolean;
  /** Where replies go: the pull request the review or `/harness` comment was made on; the issue by default. */
  replyTo?: number;
  /** The `/harness` comment or review this answers: every reply carries its marker (src/core/pr-requests.ts), so the reconciler's backstop knows it was answered. */
  answers?: AnsweredItem;
  log: Logger;
  now: Date;
}

const SOURCE: Record<FollowUp["source"], string> = {
  retry: "`/retry`",
  review: "a review requesting changes",
  comment: "`/harness` on the pull request",
  ci: "failing checks",
  conflict: "a base that conflicts",
};

/** Records the follow-up on the lease and queues the issue; every refusal is one comment on the issue saying why. Returns true when queued. */
export async function requestFollowUp(request: FollowUpRequest): Promise<boolean> {
  const { github, config, issueNumber, followUp, now } = request;
  const replyTo = request.replyTo ?? issueNumber;
  const marker = request.answers ? `${answerMarker(request.answers)}\n` : "";
  const reply = (body: string): Promise<number> => github.createComment(replyTo, `${marker}${body}`);
  const leases = new LeaseStore(github, config.lease.refPrefix);
  const head = await leases.read(issueNumber);
  const by = followUp.by;
  if (head === null) {
    await reply(`@${by} no agent has worked #${issueNumber} yet, so there is nothing to follow up: label it \`${config.labels.queued}\` to start one.`);
    return false;
  }
  if (head.record.state === "claimed") {
    await reply(
      `@${by} an agent still works #${issueNumber} (${describeLease(head.record, now)}): your follow-up was not recorded. Send it again once the attempt has ended, or \`/interrupt\` first.`,
    );
    return false;
  }
  const waiting = head.record.retry?.followUp;
  if (waiting) {
    // One follow-up at a time: a second one would replace the first's instructions on the lease.
    await reply(
      `@${by} a follow-up already waits for an agent (${waiting.source === "ci" || waiting.source === "conflict" ? "the harness's own" : `from @${waiting.by}`}): yours was not recorded. Send it again once that attempt has ended.`,
    );
    return false;
  }
  const issue = await github.getIssue(issueNumber);
  if (issue.state !== "open") {
    await reply(`@${by} #${issueNumber} is closed: reopen it before asking for a follow-up.`);
    return false;
  }
  const mode = request.fresh || head.record.sessionId === null ? "fresh" : "resume";
  const bounded = { ...followUp, text: boundFollowUpText(followUp.text) };
  const requested = await leases.requestRetry(issueNumber, mode, by, now, bounded);
  if (!requested.ok) {
    await reply(`@${by} the follow-up did not land: the lease changed meanwhile. Send it again.`);
    return false;
  }
  await github.transitionLabels(issueNumber, issue.labels, harnessLabels(config), config.labels.queued);
  const outcome = request.intake && request.target ? request.intake.submit(request.target, config, issueNumber) : "next-pass";
  request.log.info({ mode, outcome, source: followUp.source }, "follow-up requested");
  await reply(
    `🔁 Follow-up requested by @${by} (${SOURCE[followUp.source]}): ${
      mode === "resume" ? `the next agent continues session \`${head.record.sessionId ?? ""}\`` : "the next agent starts a fresh session with the last summary"
    } on \`${config.branchPrefix}${issueNumber}\` with the instructions, and pushes to the same pull request. #${issueNumber} is queued again.`,
  );
  return true;
}

/** The issue an agent's pull request works on: its head branch is `<branchPrefix>N` of the same repository. Null for anyone else's. */
export function issueOfAgentPull(
  config: HarnessConfig,
  pull: { head: { ref: string; repo?: { full_name?: string } | null }; base: { repo?: { full_name?: string } | null } },
): number | null {
  if (!pull.head.ref.startsWith(config.branchPrefix)) return null;
  if (pull.head.repo?.full_name && pull.base.repo?.full_name && pull.head.repo.full_name !== pull.base.repo.full_name) return null;
  const n = Number(pull.head.ref.slice(config.branchPrefix.length));
  return Number.isInteger(n) && n > 0 ? n : null;
}

/**
 * `pull_request_review.submitted` with "changes requested" by a writer on the agent's pull
 * request: a follow-up whose instructions are the review's body. Other reviews, reviews by
 * people without write access, and reviews of other pull requests change nothing.
 */
export function registerReviewFollowUps(app: Probot, options: { intake: IssueIntake; log: Logger; now: () => Date }): void {
  const { intake, log } = options;
  app.on("pull_request_review.submitted", async (context) => {
    const { payload } = context;
    const review = payload.review;
    if (review.state !== "changes_requested") return;
    const reviewer = review.user;
    if (!reviewer || isBot({ login: reviewer.login, type: reviewer.type })) return;
    if (!intake.firstDelivery(context.id, "review-follow-up")) return;
    const target: RepoTarget = deliveryTarget(payload, context.octokit);
    try {
      const probe = intake.client(target);
      const config = await loadConfig(probe, intake.etags);
      const issueNumber = issueOfAgentPull(config, payload.pull_request);
      if (issueNumber === null) return;
      const github = intake.client(target, issueNumber);
      const rlog = log.child({ issue: IssueIntake.key(target.owner, target.repo, issueNumber), review: review.id, by: reviewer.login });
      const permission = await github.permission(reviewer.login);
      if (!maySteer(permission)) {
        rlog.info({ permission }, "changes requested by someone who may not steer: no follow-up");
        return;
      }
      const body = (review.body ?? "").trim();
      if (body === "") {
        await github.createComment(
          issueNumber,
          `@${reviewer.login} your review of #${payload.pull_request.number} requested changes without a body: write what to change in the review's body (the agent cannot read line comments), or comment \`/harness <instructions>\` on the pull request.`,
        );
        return;
      }
      await requestFollowUp({
        github,
        config,
        intake,
        target,
        issueNumber,
        followUp: { source: "review", by: reviewer.login, text: body },
        replyTo: payload.pull_request.number,
        answers: { kind: "review", id: review.id },
        log: rlog,
        now: options.now(),
      });
    } catch (error) {
      intake.forgetDelivery(context.id, "review-follow-up");
      throw error;
    }
  });
}
