import { z } from "zod";

/** The transitions a person can be told about (docs/notifications.md). */
export const notifyEvents = ["failed", "interrupted", "needs-review", "reclaimed", "spend", "convoy-landed", "budget"] as const;
export type NotifyEvent = (typeof notifyEvents)[number];

const eventList = z.array(z.enum(notifyEvents)).max(notifyEvents.length);

/**
 * The `notify:` section of `.github/harness.yml`: which transitions go to which channel, and
 * who gets the email. No secret lives here (the Slack webhook URL and the SMTP server come from
 * the host's environment). A channel left out here uses the installation's setting (env);
 * a channel given here wins over it for this repository. Everything is off by default.
 */
export const notifySchema = z
  .object({
    /** A repository's spend in one UTC day (its sessions' cost) over this many USD sends `spend`, once that day. */
    dailySpendUsd: z.number().positive().max(1_000_000).optional(),
    slack: z
      .object({ events: eventList.default([]) })
      .strict()
      .optional(),
    email: z
      .object({
        events: eventList.default([]),
        to: z.array(z.string().email()).max(50).default([]),
      })
      .strict()
      .optional(),
  })
  .strict();

export type NotifyConfig = z.infer<typeof notifySchema>;
