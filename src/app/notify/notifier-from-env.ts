import { HarnessError } from "../../core/errors.js";
import { notifyEvents, type NotifyEvent } from "../../core/notify-config.js";
import type { Logger } from "../../adapters/logger.js";
import { EmailChannel } from "./email-channel.js";
import { GitHubNotifyClaims } from "./notify-claims.js";
import { Notifier, type NotifierOptions } from "./notifier.js";
import { SlackChannel } from "./slack-channel.js";

function bad(name: string, problem: string, fix: string): HarnessError {
  return new HarnessError("EHARNESS_CONFIG", { message: `${name} ${problem}.`, fix });
}

function events(env: NodeJS.ProcessEnv, name: string): NotifyEvent[] {
  const raw = env[name]?.trim();
  if (!raw) return [];
  const list = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const unknown = list.filter((e) => !(notifyEvents as readonly string[]).includes(e));
  if (unknown.length > 0) throw bad(name, `names unknown transitions: ${unknown.join(", ")}`, `Use a comma-separated list of ${notifyEvents.join(", ")}.`);
  return list as NotifyEvent[];
}

function url(env: NodeJS.ProcessEnv, name: string, protocols: string[]): string | null {
  const raw = env[name]?.trim();
  if (!raw) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw bad(name, "is not a URL", `Set ${name} to a ${protocols.join(" or ")} URL, or unset it.`);
  }
  if (!protocols.includes(parsed.protocol))
    throw bad(name, `must be a ${protocols.join(" or ")} URL`, `Set ${name} to a ${protocols.join(" or ")} URL, or unset it.`);
  return raw;
}

/**
 * The notifier of a host, from its environment (secrets never come from a repository file):
 *   HARNESS_SLACK_WEBHOOK_URL     a Slack incoming webhook
 *   HARNESS_SMTP_URL              smtp:// or smtps:// (nodemailer), with HARNESS_EMAIL_FROM
 *   HARNESS_EMAIL_TO              the installation's recipients (comma-separated)
 *   HARNESS_NOTIFY_SLACK_EVENTS   the installation's transitions for Slack (comma-separated)
 *   HARNESS_NOTIFY_EMAIL_EVENTS   the same for email
 *   HARNESS_NOTIFY_WINDOW_SECONDS the digest window (default 60)
 *   HARNESS_NOTIFY_DAILY_SPEND_USD the installation's daily spend threshold per repository
 *   HARNESS_NOTIFY_CLAIMS         `github` (default): a create-only ref per transition on GitHub
 *                                 decides which replica sends; `local`: the state directory alone
 * A repository's `notify.slack` / `notify.email` in `.github/harness.yml` wins over the
 * installation's events (and recipients) for that repository. Null when no channel is set.
 */
export function notifierFromEnv(
  env: NodeJS.ProcessEnv,
  base: { stateRoot: string; log: Logger; host?: string } & Pick<NotifierOptions, "onResult" | "retry">,
): Notifier | null {
  const slackUrl = url(env, "HARNESS_SLACK_WEBHOOK_URL", ["https:", "http:"]);
  const smtpUrl = url(env, "HARNESS_SMTP_URL", ["smtp:", "smtps:"]);
  const from = env.HARNESS_EMAIL_FROM?.trim() ?? "";
  if (smtpUrl && from === "")
    throw bad("HARNESS_EMAIL_FROM", "is not set while HARNESS_SMTP_URL is", "Set HARNESS_EMAIL_FROM to the sender address, like harness@example.org.");
  const to = (env.HARNESS_EMAIL_TO ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const invalid = to.filter((a) => !/^[^\s@<>,]+@[^\s@<>,]+$/.test(a));
  if (invalid.length > 0)
    throw bad(
      "HARNESS_EMAIL_TO",
      `has addresses that are not email addresses: ${invalid.join(", ")}`,
      "Use a comma-separated list of addresses like ops@example.org.",
    );
  const windowRaw = env.HARNESS_NOTIFY_WINDOW_SECONDS?.trim();
  const windowSeconds = windowRaw ? Number(windowRaw) : 60;
  if (!Number.isFinite(windowSeconds) || windowSeconds < 0 || windowSeconds > 3600)
    throw bad("HARNESS_NOTIFY_WINDOW_SECONDS", `is ${JSON.stringify(windowRaw)}`, "Set it to a number of seconds from 0 (send at once) to 3600.");
  const spendRaw = env.HARNESS_NOTIFY_DAILY_SPEND_USD?.trim();
  const dailySpendUsd = spendRaw ? Number(spendRaw) : undefined;
  if (dailySpendUsd !== undefined && !(Number.isFinite(dailySpendUsd) && dailySpendUsd > 0))
    throw bad("HARNESS_NOTIFY_DAILY_SPEND_USD", `is ${JSON.stringify(spendRaw)}`, "Set it to a positive number of US dollars, like 50, or unset it.");
  const installation = {
    slackEvents: events(env, "HARNESS_NOTIFY_SLACK_EVENTS"),
    emailEvents: events(env, "HARNESS_NOTIFY_EMAIL_EVENTS"),
    emailTo: to,
    ...(dailySpendUsd !== undefined ? { dailySpendUsd } : {}),
  };
  const claimsMode = env.HARNESS_NOTIFY_CLAIMS?.trim() || "github";
  if (claimsMode !== "github" && claimsMode !== "local")
    throw bad(
      "HARNESS_NOTIFY_CLAIMS",
      `is ${JSON.stringify(claimsMode)}`,
      "Set it to github (a claim ref per transition on GitHub: replicas on several hosts send once) or local (this state directory alone), or unset it.",
    );
  if (!slackUrl && !smtpUrl) return null;
  const { host, ...rest } = base;
  return new Notifier({
    ...rest,
    claims: claimsMode === "github" ? new GitHubNotifyClaims({ stateRoot: base.stateRoot, log: base.log, ...(host !== undefined ? { host } : {}) }) : null,
    slack: slackUrl ? new SlackChannel(slackUrl) : null,
    email: smtpUrl ? new EmailChannel(smtpUrl, from) : null,
    installation,
    windowMs: windowSeconds * 1000,
  });
}
