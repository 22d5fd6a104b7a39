import type { Notification } from "./notification.js";
import type { NotifyEvent } from "./notify-config.js";
import { slackEscape } from "./slack-escape.js";

const verbs: Record<NotifyEvent, string> = {
  failed: "failed",
  interrupted: "was interrupted",
  "needs-review": "needs review",
  reclaimed: "was reclaimed after its last attempt and marked failed",
  spend: "spent over its daily threshold",
  "convoy-landed": "landed (a convoy: every item is closed)",
  budget: "reached its daily budget: no new session starts",
};

const plural: Record<NotifyEvent, string> = {
  failed: "failed",
  interrupted: "were interrupted",
  "needs-review": "need review",
  reclaimed: "were reclaimed after their last attempt and marked failed",
  spend: "spent over their daily threshold",
  "convoy-landed": "landed (convoys: every item is closed)",
  budget: "reached their daily budget: no new session starts",
};

/** Issues a Slack digest lists, and the characters of a title it shows, within Slack's 3,000-character section. */
export const SLACK_MAX_ITEMS = 10;
const SLACK_MAX_TITLE = 120;
const clip = (title: string): string => ([...title].length > SLACK_MAX_TITLE ? `${[...title].slice(0, SLACK_MAX_TITLE - 1).join("")}…` : title);

/** What one message (one transition, or a digest of several of one repository and event) says. */
export interface RenderedNotification {
  subject: string;
  text: string;
  html: string;
  slack: { text: string; blocks: unknown[] };
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

/** A Slack link `<url|label>`: the URL must not carry `|` or `>`, the label is escaped. */
const slackLink = (url: string, label: string): string =>
  url === "" ? slackEscape(label) : `<${url.replace(/[|>\s]/g, encodeURIComponent)}|${slackEscape(label)}>`;

function detail(n: Notification): string {
  return [n.outcome ? `outcome ${n.outcome}` : null, n.attempt > 0 ? `attempt ${n.attempt}` : null].filter((p) => p !== null).join(", ");
}

/**
 * Renders one message for `items`, all of one repository and event: plain text (the email body
 * and Slack's `text` fallback), HTML for email (escaped), Block Kit for Slack (escaped mrkdwn).
 */
export function renderNotification(items: readonly Notification[]): RenderedNotification {
  const first = items[0];
  if (!first) throw new Error("renderNotification needs at least one notification");
  const { repository, event } = first;
  if (event === "spend" || event === "budget") return renderSpend(first);
  const single = items.length === 1;
  const subject = single
    ? `[harness] ${repository}#${first.issue} ${verbs[event]}: ${first.title}`
    : `[harness] ${items.length} issues in ${repository} ${plural[event]}`;
  const lines = items.map((n) => `#${n.issue} ${n.title}${detail(n) ? ` (${detail(n)})` : ""} ${n.url}`);
  const text = single
    ? `${repository}#${first.issue} ${verbs[event]}: ${first.title}${detail(first) ? ` (${detail(first)})` : ""}\n${first.url}`
    : `${items.length} issues in ${repository} ${plural[event]}:\n${lines.join("\n")}`;
  const htmlItems = items
    .map((n) => `<li><a href="${escapeHtml(n.url)}">#${n.issue} ${escapeHtml(n.title)}</a>${detail(n) ? ` (${escapeHtml(detail(n))})` : ""}</li>`)
    .join("");
  const html = `<p>${escapeHtml(single ? `${repository}#${first.issue} ${verbs[event]}` : `${items.length} issues in ${repository} ${plural[event]}`)}:</p><ul>${htmlItems}</ul>`;
  // Slack refuses a section text over 3,000 characters (a 400, not retried): a long digest lists the first ones.
  const shown = items.slice(0, SLACK_MAX_ITEMS);
  const slackLines = shown.map((n) => `• ${slackLink(n.url, `#${n.issue} ${clip(n.title)}`)}${detail(n) ? ` (${slackEscape(detail(n))})` : ""}`);
  if (items.length > shown.length) slackLines.push(`… and ${items.length - shown.length} more`);
  const heading = single
    ? `${slackEscape(repository)}#${first.issue} ${verbs[event]}`
    : `${items.length} issues in ${slackEscape(repository)} ${plural[event]}`;
  const fallback = single
    ? `${slackEscape(`${repository}#${first.issue} ${verbs[event]}: ${first.title}`)}`
    : `${items.length} issues in ${slackEscape(repository)} ${plural[event]}`;
  return {
    subject,
    text,
    html,
    slack: {
      text: fallback,
      blocks: [
        { type: "section", text: { type: "mrkdwn", text: `*${heading}*` } },
        { type: "section", text: { type: "mrkdwn", text: slackLines.join("\n") } },
      ],
    },
  };
}

/** The daily spend and daily budget messages: `title` says the amount and the threshold or cap (no issue). */
function renderSpend(n: Notification): RenderedNotification {
  const line = `${n.repository} ${verbs[n.event]}: ${n.title}`;
  return {
    subject: `[harness] ${line}`,
    text: line,
    html: `<p>${escapeHtml(line)}</p>`,
    slack: { text: slackEscape(line), blocks: [{ type: "section", text: { type: "mrkdwn", text: `*${slackEscape(line)}*` } }] },
  };
}
