import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/adapters/logger.js";
import { notifierFromEnv } from "../../../src/app/notify/notifier-from-env.js";
import { parseConfig } from "../../../src/core/config.js";
import { HarnessError } from "../../../src/core/errors.js";

const base = { stateRoot: "/nonexistent-notify-state", log: silentLogger() };

function configError(fn: () => unknown): HarnessError {
  try {
    fn();
  } catch (error) {
    if (error instanceof HarnessError) return error;
    throw error;
  }
  throw new Error("expected a HarnessError");
}

describe("notification settings", () => {
  it("the notify section is off by default and strict", () => {
    expect(parseConfig({}).notify).toEqual({});
    expect(
      parseConfig({ notify: { slack: { events: ["failed", "needs-review"] }, email: { events: ["reclaimed"], to: ["ops@example.org"] } } }).notify,
    ).toEqual({
      slack: { events: ["failed", "needs-review"] },
      email: { events: ["reclaimed"], to: ["ops@example.org"] },
    });
    const unknownEvent = configError(() => parseConfig({ notify: { slack: { events: ["exploded"] } } }));
    expect(unknownEvent.code).toBe("EHARNESS_CONFIG");
    expect(unknownEvent.message).toContain("`notify.slack.events.0`");
    expect(configError(() => parseConfig({ notify: { slack: { webhookUrl: "https://hooks.slack.com/x" } } })).message).toContain("webhookUrl");
    expect(configError(() => parseConfig({ notify: { email: { to: ["not an address"] } } })).message).toContain("`notify.email.to.0`");
    expect(configError(() => parseConfig({ notify: { dailySpendUsd: 0 } })).message).toContain("`notify.dailySpendUsd`");
    expect(parseConfig({ notify: { dailySpendUsd: 25 } }).notify.dailySpendUsd).toBe(25);
  });

  it("secrets and the installation's defaults come from the environment; none set, no notifier", () => {
    expect(notifierFromEnv({}, base)).toBeNull();
    expect(notifierFromEnv({ HARNESS_NOTIFY_SLACK_EVENTS: "failed" }, base)).toBeNull();
    expect(
      notifierFromEnv({ HARNESS_SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T/B/X", HARNESS_NOTIFY_SLACK_EVENTS: "failed, reclaimed" }, base),
    ).not.toBeNull();
    expect(
      notifierFromEnv(
        { HARNESS_SMTP_URL: "smtp://mail.example.org:25", HARNESS_EMAIL_FROM: "harness@example.org", HARNESS_EMAIL_TO: "a@example.org,b@example.org" },
        base,
      ),
    ).not.toBeNull();
  });

  it("the cross-host claim on GitHub is on by default; HARNESS_NOTIFY_CLAIMS=local turns it off", () => {
    const slack = { HARNESS_SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T/B/X" };
    expect(notifierFromEnv(slack, base)?.claimsAcrossHosts).toBe(true);
    expect(notifierFromEnv({ ...slack, HARNESS_NOTIFY_CLAIMS: "github" }, base)?.claimsAcrossHosts).toBe(true);
    expect(notifierFromEnv({ ...slack, HARNESS_NOTIFY_CLAIMS: "local" }, base)?.claimsAcrossHosts).toBe(false);
  });

  it.each([
    [{ HARNESS_NOTIFY_CLAIMS: "redis" }, 'HARNESS_NOTIFY_CLAIMS is "redis"'],
    [{ HARNESS_SLACK_WEBHOOK_URL: "not a url" }, "HARNESS_SLACK_WEBHOOK_URL is not a URL"],
    [{ HARNESS_SLACK_WEBHOOK_URL: "ftp://hooks.example.org" }, "HARNESS_SLACK_WEBHOOK_URL must be a https: or http: URL"],
    [{ HARNESS_SMTP_URL: "smtp://mail.example.org" }, "HARNESS_EMAIL_FROM is not set"],
    [{ HARNESS_SMTP_URL: "https://mail.example.org", HARNESS_EMAIL_FROM: "h@example.org" }, "HARNESS_SMTP_URL must be a smtp: or smtps: URL"],
    [{ HARNESS_EMAIL_TO: "ops" }, "HARNESS_EMAIL_TO has addresses that are not email addresses: ops"],
    [{ HARNESS_NOTIFY_EMAIL_EVENTS: "failed,done" }, "HARNESS_NOTIFY_EMAIL_EVENTS names unknown transitions: done"],
    [{ HARNESS_NOTIFY_WINDOW_SECONDS: "soon" }, 'HARNESS_NOTIFY_WINDOW_SECONDS is "soon"'],
    [{ HARNESS_NOTIFY_DAILY_SPEND_USD: "-5" }, 'HARNESS_NOTIFY_DAILY_SPEND_USD is "-5"'],
  ])("%o is refused with EHARNESS_CONFIG and a fix", (env, message) => {
    const error = configError(() => notifierFromEnv(env, base));
    expect(error.code).toBe("EHARNESS_CONFIG");
    expect(error.message).toContain(message);
    expect(error.fix.length).toBeGreaterThan(10);
  });
});
