import { promises as fs } from "node:fs";
import path from "node:path";
import type { Probot } from "probot";
import { isBot, maySteer, parseCommand, type SteeringCommand } from "../core/commands.js";
import { answerMarker } from "../core/pr-requests.js";
import type { HarnessConfig } from "../core/config.js";
import { describeLease } from "../core/lease.js";
import { compareQueued, priorityOf } from "../core/queue.js";
import { renderStatusComment, type LiveAgent } from "../core/render-status.js";
import type { GitHubClient } from "../adapters/github-client.js";
import { LeaseStore } from "../adapters/github-lease.js";
import type { Logger } from "../adapters/logger.js";
import { harnessLabels } from "../runtime/claim-issue.js";
import type { InterruptRegistry } from "../runtime/interrupts.js";
import type { StateDir } from "../runtime/state-dir.js";
import { deliveryTarget, IssueIntake, type RepoTarget } from "./issue-intake.js";
import { loadConfig } from "../runtime/load-config.js";
import { runConvoyCommand, type ConvoyAppOptions } from "./convoys.js";
import { readPullState } from "../adapters/github-requests/read-pull-state.js";
import { issueOfAgentPull, requestFollowUp } from "./follow-ups.js";

export interface SteeringOptions {
  intake: IssueIntake;
  interrupts: InterruptRegistry;
  state: StateDir;
  log: Logger;
  now: () => Date;
  /** `/convoy` (docs/convoys.md): the notifier and token-mode repositories; by default none. */
  convoys?: ConvoyAppOptions;
}

/** The running agent's liveness file on this host, if one works the issue here. */
async function liveAgent(state: StateDir, repository: string, issue: number): Promise<LiveAgent | null> {
  const dir = state.agentsDir();
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith(".json"))) {
    try {
      const entry = JSON.parse(await fs.readFile(path.join(dir, name), "utf8")) as LiveAgent & { repository: string; issue: number };
      if (entry.repository === repository && entry.issue === issue) return entry;
    } catch {
      // being rewritten, or not ours
    }
  }
  return null;
}

async function queuePosition(
  github: GitHubClient,
  config: HarnessConfig,
  intake: IssueIntake,
  issue: number,
): Promise<{ position: number; of: number } | null> {
  const queued = await github.listOpenIssuesWithLabel(config.labels.queued, intake.etags);
  const ordered = queued
    .filter((i) => !i.isPullRequest)
    .map((i) => ({ number: i.number, createdAt: i.createdAt, priority: priorityOf(i.labels, config.priorityLabels) }))
    .sort(compareQueued);
  const index = ordered.findIndex((i) => i.number === issue);
  return index < 0 ? null : { position: index + 1, of: ordered.length };
}

/**
 * The steering commands on issue comments: `/interrupt`, `/retry`,
 * `/retry fresh`, `/status`, `/convoy` (src/app/convoys.ts). Only from people whose permission on the
 * repository, read from the API, is write, maintain or admin; bots are
 * ignored; everyone else gets one reply saying why. Every command is
 * acknowledged with a 👀 reaction at once. The lease ref carries interrupt and
 * retry requests, so an agent on another host sees them too.
 */
export function registerSteering(app: Probot, options: SteeringOptions): void {
  const { intake, log } = options;
  app.on("issue_comment.created", async (context) => {
    const { payload } = context;
    const comment = payload.comment;
    if (isBot({ login: comment.user?.login ?? "", type: comment.user?.type ?? null }) || isBot({ login: payload.sender.login, type: payload.sender.type }))
      return;
    const command = parseCommand(comment.body ?? "");
    if (command === null) return;
    if (!intake.firstDelivery(context.id, "steering")) return;
    const target: RepoTarget = deliveryTarget(payload, context.octokit);
    const issueNumber = payload.issue.number;
    const key = IssueIntake.key(target.owner, target.repo, issueNumber);
    const github = intake.client(target, issueNumber);
    const login = comment.user?.login ?? payload.sender.login;
    const clog = log.child({ issue: key, command: command.kind, by: login });
    try {
      if ("pull_request" in payload.issue && payload.issue.pull_request && command.kind === "harness") {
        // `/harness <instructions>` on the agent's pull request: a follow-up on its issue.
        await followUpFromPull({ github, target, pullNumber: issueNumber, commentId: comment.id, login, instructions: command.instructions, log: clog });
        return;
      }
      if ("pull_request" in payload.issue && payload.issue.pull_request) {
        await github.createComment(
          issueNumber,
          `@${login} harness commands work on issues, not on pull requests: comment on the issue the pull request closes.`,
        );
        return;
      }
      const permission = await github.permission(login);
      if (!maySteer(permission)) {
        await github.react(comment.id, "-1");
        await github.createComment(
          issueNumber,
          `@${login} only people with write, maintain or admin permission on this repository can steer the harness (yours: ${permission.role_name ?? permission.permission}). Nothing was changed.`,
        );
        clog.info({ permission }, "command refused");
        return;
      }
      await github.react(comment.id, "eyes");
      const config = await loadConfig(github, intake.etags);
      await run(command, { github, config, target, issueNumber, key, login, log: clog, at: comment.created_at });
    } catch (error) {
      intake.forgetDelivery(context.id, "steering");
      throw error;
    }
  });

  /** `/harness <instructions>` on a pull request: the agent's (head `<branchPrefix>N`) gets a follow-up on issue N. */
  async function followUpFromPull(ctx: {
    github: GitHubClient;
    target: RepoTarget;
    pullNumber: number;
    commentId: number;
    login: string;
    instructions: string;
    log: Logger;
  }): Promise<void> {
    const { github, login } = ctx;
    const permission = await github.permission(login);
    if (!maySteer(permission)) {
      await github.react(ctx.commentId, "-1");
      await github.createComment(
        ctx.pullNumber,
        `${answerMarker({ kind: "comment", id: ctx.commentId })}\n@${login} only people with write, maintain or admin permission on this repository can steer the harness (yours: ${permission.role_name ?? permission.permission}). Nothing was changed.`,
      );
      return;
    }
    const config = await loadConfig(github, intake.etags);
    const pull = await readPullState(github, ctx.pullNumber);
    const issueNumber = issueOfAgentPull(config, {
      head: { ref: pull.headRef, repo: { full_name: pull.headRepo ?? "" } },
      base: { repo: { full_name: pull.baseRepo ?? "" } },
    });
    if (issueNumber === null) {
      await github.createComment(
        ctx.pullNumber,
        `@${login} \`/harness\` works on the harness's own pull requests (branch \`${config.branchPrefix}N\`); this one's branch is \`${pull.headRef}\`.`,
      );
      return;
    }
    await github.react(ctx.commentId, "eyes");
    await requestFollowUp({
      github: intake.client(ctx.target, issueNumber),
      config,
      intake,
      target: ctx.target,
      issueNumber,
      followUp: { source: "comment", by: login, text: ctx.instructions },
      replyTo: ctx.pullNumber,
      answers: { kind: "comment", id: ctx.commentId },
      log: ctx.log,
      now: options.now(),
    });
  }

  async function run(
    command: SteeringCommand,
    ctx: { github: GitHubClient; config: HarnessConfig; target: RepoTarget; issueNumber: number; key: string; login: string; log: Logger; at?: string },
  ): Promise<void> {
    const { github, config, issueNumber } = ctx;
    if (command.kind === "convoy") {
      await runConvoyCommand(
        github,
        ctx.target,
        config,
        issueNumber,
        command.items,
        ctx.login,
        options.convoys ?? { intake, log: ctx.log, now: options.now },
        ctx.at,
      );
      return;
    }
    const leases = new LeaseStore(github, config.lease.refPrefix);
    const head = await leases.read(issueNumber);
    const now = options.now();
    // `/retry <instructions>` (or `/harness <instructions>` on the issue): a follow-up on the pull request.
    if ((command.kind === "retry" && command.instructions !== undefined) || command.kind === "harness") {
      await requestFollowUp({
        github,
        config,
        intake,
        target: ctx.target,
        issueNumber,
        followUp: { source: "retry", by: ctx.login, text: command.kind === "harness" ? command.instructions : (command.instructions ?? "") },
        fresh: command.kind === "retry" && command.fresh,
        log: ctx.log,
        now,
      });
      return;
    }
    switch (command.kind) {
      case "status": {
        const live = await liveAgent(options.state, github.fullName, issueNumber);
        const position = await queuePosition(github, config, intake, issueNumber);
        await github.createComment(issueNumber, renderStatusComment({ issue: issueNumber, lease: head?.record ?? null, live, queuePosition: position, now }));
        return;
      }
      case "interrupt": {
        if (head === null || head.record.state !== "claimed") {
          if (intake.cancel(ctx.key)) {
            await github.createComment(
              issueNumber,
              `Interrupted before an agent started: #${issueNumber} left the queue here. Label it \`${config.labels.queued}\` again to run it.`,
            );
            return;
          }
          await github.createComment(issueNumber, `Nothing to interrupt: ${head ? describeLease(head.record, now) : "no agent ever claimed this issue"}.`);
          return;
        }
        const requested = await leases.interrupt(issueNumber, now);
        if (!requested.ok) {
          await github.createComment(
            issueNumber,
            `The interrupt did not land: the lease changed meanwhile (${requested.head ? describeLease(requested.head.record, now) : "gone"}). Try again.`,
          );
          return;
        }
        const here = options.interrupts.interrupt(ctx.key);
        ctx.log.info({ inProcess: here }, "interrupt requested");
        await github.createComment(
          issueNumber,
          `✋ Interrupt requested by @${ctx.login}: agent \`${head.record.owner.agent}@${head.record.owner.host}\` stops ${here ? "now" : "within a minute"}, commits and pushes its work, and labels the issue \`${config.labels.interrupted}\`. \`/retry\` continues the same session; \`/retry fresh\` starts a new one.`,
        );
        return;
      }
      case "retry": {
        if (head?.record.state === "claimed") {
          await github.createComment(
            issueNumber,
            `An agent still works #${issueNumber} (${describeLease(head.record, now)}). Comment \`/interrupt\` first, then \`/retry\`.`,
          );
          return;
        }
        const mode = command.fresh ? "fresh" : "resume";
        if (head !== null) {
          const requested = await leases.requestRetry(issueNumber, mode, ctx.login, now);
          if (!requested.ok) {
            await github.createComment(
              issueNumber,
              mode === "resume"
                ? "There is no session to continue (the last attempt never started one). Comment `/retry fresh` to start a new session."
                : `The retry did not land: the lease changed meanwhile. Try again.`,
            );
            return;
          }
        }
        const issue = await github.getIssue(issueNumber);
        if (issue.state !== "open") {
          await github.createComment(issueNumber, "The issue is closed: reopen it before `/retry`.");
          return;
        }
        await github.transitionLabels(issueNumber, issue.labels, harnessLabels(config), config.labels.queued);
        const outcome = intake.submit(ctx.target, config, issueNumber);
        ctx.log.info({ mode, outcome }, "retry requested");
        await github.createComment(
          issueNumber,
          `🔁 Retry requested by @${ctx.login}: ${mode === "resume" && head?.record.sessionId ? `the next agent continues session \`${head.record.sessionId}\`` : "the next agent starts a fresh session with the last summary"}. The issue is queued again.`,
        );
        return;
      }
    }
  }
}
