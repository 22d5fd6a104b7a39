import type { HarnessConfig } from "../core/config.js";
import type { GateVerdict, LabelEvent } from "../core/actor-gate.js";
import { editsSinceApproval, unapprovedEditReason, type TextEdit } from "../core/approved-text.js";
import { isBot, maySteer } from "../core/commands.js";
import { renderUnapprovedEditComment } from "../core/render-unapproved-edit.js";
import type { GitHubClient } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";

/** The issue's body revisions and creation time, as `GitHubClient.bodyEdits` reads them. */
export interface BodyEdits {
  createdAt: string;
  author: string | null;
  edits: TextEdit[];
}

/**
 * Approved text, after the actor gate allowed the label: the approval is the
 * newest `labeled` event of the queue label by someone who may start an agent
 * (a writer, or a bot in `trust.allowBots`; the harness's own requeue is not
 * an approval, so an earlier writer's label is), and every edit of the title
 * or body at or after it must be by such a person too (src/core/approved-text.ts).
 * A queue label the harness's own bot applied when it staged the issue into a
 * convoy for a writer (`staged`, which the actor gate verified) approves the text
 * as of the moment the writer asked.
 * Otherwise the label is taken off with one EHARNESS_UNAPPROVED_EDIT reply. A
 * read or a permission lookup that fails starts nothing and changes nothing
 * (the reconciler looks again).
 */
export async function checkApprovedText(input: {
  github: GitHubClient;
  config: HarnessConfig;
  issueNumber: number;
  events: LabelEvent[] | null;
  bodyEdits: BodyEdits | null;
  log: Logger;
  /** The actor gate's convoy staging (src/core/convoy-staging.ts): that bot's queue label approves the text as of `at`. */
  staged?: { bot: string; at: string } | null;
  /** Permission lookups shared with the actor gate (the claim's `permissionsOnce`): a login the gate read is not read again. */
  permission?: GitHubClient["permission"];
}): Promise<GateVerdict> {
  const { github, config, issueNumber, log } = input;
  const queued = config.labels.queued;
  if (input.events === null || input.bodyEdits === null) {
    return { allowed: false, remove: false, reason: "the issue's edit history could not be read; the reconciler looks again" };
  }
  const known = new Map<string, Promise<boolean>>();
  const mayApprove = (actor: { login: string; type: string | null } | null): Promise<boolean> => {
    if (actor === null) return Promise.resolve(false);
    if (isBot(actor)) return Promise.resolve(config.trust.allowBots.some((login) => login.toLowerCase() === actor.login.toLowerCase()));
    const key = actor.login.toLowerCase();
    let found = known.get(key);
    if (found === undefined) {
      found = (input.permission ?? ((login: string) => github.permission(login)))(actor.login).then(maySteer);
      known.set(key, found);
    }
    return found;
  };
  const refuse = async (reason: string): Promise<GateVerdict> => {
    log.warn({ issue: issueNumber, reason }, "queue label refused: the issue's text is not approved");
    try {
      await github.removeLabel(issueNumber, queued);
      await github.createComment(issueNumber, renderUnapprovedEditComment(reason));
    } catch (error) {
      log.warn({ issue: issueNumber, err: error }, "could not take the label off after an unapproved edit");
    }
    return { allowed: false, remove: true, reason };
  };
  try {
    const labelings = input.events.filter((e) => e.event === "labeled" && e.label.toLowerCase() === queued.toLowerCase()).reverse();
    let approvedAt: string | null = null;
    for (const labeling of labelings) {
      const actor = labeling.actor;
      if (input.staged && actor !== null && isBot(actor) && actor.login.toLowerCase() === input.staged.bot.toLowerCase()) {
        approvedAt = input.staged.at;
        break;
      }
      if (await mayApprove(labeling.actor)) {
        approvedAt = labeling.at ?? "";
        break;
      }
    }
    if (approvedAt === null) return await refuse(`no ${queued} label by a person with write access approves the issue's text`);
    const renames: TextEdit[] = input.events.filter((e) => e.event === "renamed").map((e) => ({ field: "title", at: e.at ?? "", editor: e.actor }));
    const after = editsSinceApproval({
      approvedAt,
      issueCreatedAt: input.bodyEdits.createdAt,
      issueAuthor: input.bodyEdits.author,
      edits: [...renames, ...input.bodyEdits.edits],
    });
    for (const edit of after.sort((a, b) => a.at.localeCompare(b.at))) {
      if (!(await mayApprove(edit.editor))) return await refuse(unapprovedEditReason(edit, queued));
    }
  } catch (error) {
    log.warn({ issue: issueNumber, err: error }, "could not read the permission of an editor or labeler");
    return { allowed: false, remove: false, reason: "the permission of the issue's labeler or editor could not be read; the reconciler looks again" };
  }
  return { allowed: true, by: "approved text" };
}
