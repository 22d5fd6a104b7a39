import { describe, expect, it } from "vitest";
import type { Notification } from "../../src/core/notification.js";
import { renderNotification, SLACK_MAX_ITEMS } from "../../src/core/render-notification.js";

const item = (issue: number, title: string): Notification => ({
  repository: "acme/widgets",
  issue,
  title,
  url: `https://github.com/acme/widgets/issues/${issue}`,
  event: "failed",
  sha: "a".repeat(40),
  attempt: 3,
  outcome: "max_turns",
  at: "2026-12-02T20:00:00.000Z",
});

describe("notification messages", () => {
  it("a long digest stays within Slack's 3,000-character section and says how many more; email lists all", () => {
    const items = Array.from({ length: 40 }, (_, i) => item(i + 1, `<@U123> ${"x".repeat(300)}`));
    const message = renderNotification(items);
    const blocks = message.slack.blocks as { text: { text: string } }[];
    for (const block of blocks) expect(block.text.text.length).toBeLessThanOrEqual(3000);
    expect(blocks[1]?.text.text).toContain(`… and ${40 - SLACK_MAX_ITEMS} more`);
    expect(blocks[1]?.text.text).not.toContain("<@U123>");
    expect(message.slack.text).toBe("40 issues in acme/widgets failed");
    expect(message.html.match(/<li>/g)).toHaveLength(40);
    expect(message.text.split("\n")).toHaveLength(41);
  });

  it("one transition: subject, text and the outcome and attempt", () => {
    const message = renderNotification([item(7, "Fix & ship")]);
    expect(message.subject).toBe("[harness] acme/widgets#7 failed: Fix & ship");
    expect(message.text).toBe("acme/widgets#7 failed: Fix & ship (outcome max_turns, attempt 3)\nhttps://github.com/acme/widgets/issues/7");
    expect(message.slack.text).toBe("acme/widgets#7 failed: Fix &amp; ship");
    expect(message.html).toContain("Fix &amp; ship");
  });
});
