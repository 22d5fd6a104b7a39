/**
 * The reconciler's backstop for lost webhooks on the agent's pull request
 * (docs/pull-request-follow-ups.md): GitHub does not redeliver a webhook that failed, so a
 * `/harness <instructions>` comment or a review requesting changes whose delivery was lost
 * would wait forever. Every reply the harness makes to one carries a marker naming it
 * (`answerMarker`), so the pass finds what nobody answered yet, from the comments and reviews
 * it reads anyway. Pure.
 */
import { isBot, parseCommand } from "./commands.js";
import { escapeRegExp } from "./escape-regexp.js";

/** What a reply answers: a `/harness` comment or a review, by id. */
export type AnsweredItem = { kind: "comment"; id: number } | { kind: "review"; id: number };

const MARKER = /<!-- harness:answers (comment|review)-(\d+) -->/g;

/** The hidden first line of every reply to a `/harness` comment or a changes-requested review. */
export function answerMarker(item: AnsweredItem): string {
  return `<!-- harness:answers ${item.kind}-${item.id} -->`;
}

export interface PullComment {
  id: number;
  body: string;
  login: string;
  userType: string | null;
  createdAt: string;
  reactions: { eyes: number; minusOne: number };
}

export interface PullReview {
  id: number;
  body: string;
  state: string;
  login: string;
  userType: string | null;
  commitId: string | null;
  submittedAt: string | null;
}

/** A person's request nobody answered: the `/harness` comment's instructions or the review's body. */
export type UnansweredRequest =
  { kind: "comment"; id: number; by: string; text: string; at: string } | { kind: "review"; id: number; by: string; text: string; at: string };

/**
 * The requests on a pull request nobody answered, oldest first: `/harness <instructions>`
 * comments and reviews requesting changes with a body, by people (not bots, not the harness),
 * that no comment of a bot or of the harness (`self`) marks answered. A comment the harness reacted to (👀 or 👎: how every handled
 * `/harness` comment is acknowledged, replies from before the markers included) counts as
 * answered; so does a review of an older head (a later session pushed after it) and a review
 * whose author a later comment of the harness without a marker addresses (`@login`: the replies
 * from before the markers).
 * `skip` holds the ids this process decided already (a review by someone who may not steer gets
 * no reply, so nothing on GitHub says it was seen).
 */
export function unansweredRequests(input: {
  comments: readonly PullComment[];
  reviews: readonly PullReview[];
  headSha: string;
  /** The login the harness acts as (who opened the agent's pull request): its replies count as a bot's. */
  self: string;
  skip?: ReadonlySet<string>;
}): UnansweredRequest[] {
  const answered = new Set<string>();
  const isHarness = (c: PullComment): boolean => isBot({ login: c.login, type: c.userType }) || c.login.toLowerCase() === input.self.toLowerCase();
  const botReplies = input.comments.filter(isHarness);
  for (const c of botReplies) for (const m of c.body.matchAll(MARKER)) answered.add(`${m[1]}-${m[2]}`);
  const skipped = (key: string): boolean => answered.has(key) || (input.skip?.has(key) ?? false);
  const out: UnansweredRequest[] = [];
  for (const c of input.comments) {
    if (isHarness(c) || skipped(`comment-${c.id}`)) continue;
    if (c.reactions.eyes > 0 || c.reactions.minusOne > 0) continue;
    const command = parseCommand(c.body);
    if (command?.kind !== "harness") continue;
    out.push({ kind: "comment", id: c.id, by: c.login, text: command.instructions, at: c.createdAt });
  }
  for (const r of input.reviews) {
    if (r.state !== "CHANGES_REQUESTED" || r.body.trim() === "" || r.submittedAt === null) continue;
    if (isBot({ login: r.login, type: r.userType }) || skipped(`review-${r.id}`)) continue;
    if (r.commitId !== input.headSha) continue;
    const at = r.submittedAt;
    const mention = new RegExp(`@${escapeRegExp(r.login)}\\b`, "i");
    // A reply from before the markers: one that names no request (a marked reply answers its own).
    if (botReplies.some((c) => c.createdAt >= at && !c.body.includes("<!-- harness:answers ") && mention.test(c.body))) continue;
    out.push({ kind: "review", id: r.id, by: r.login, text: r.body.trim(), at });
  }
  return out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id - b.id));
}
