import { describe, expect, it } from "vitest";
import { emptyFleetSnapshot, type FleetIssue, type FleetSnapshot } from "../../../src/core/fleet.js";
import type { LifecycleEvent } from "../../../src/core/lifecycle-events.js";
import { renderStatusPage, STATUS_COLUMNS } from "../../../src/app/status-page/render-status-page.js";
import { StatusModel } from "../../../src/app/status-page/status-model.js";

const T0 = "2026-12-02T10:00:00.000Z";
const at = (seconds: number): string => new Date(Date.parse(T0) + seconds * 1000).toISOString();

function issue(number: number, fields: Partial<FleetIssue> = {}): FleetIssue {
  return {
    repository: "octo/site",
    number,
    title: `Issue ${number}`,
    url: `https://github.example/octo/site/issues/${number}`,
    state: "queued",
    priority: "none",
    createdAt: T0,
    queuedAt: T0,
    waiting: null,
    lease: null,
    pullRequest: null,
    ...fields,
  };
}

function model(snapshot: FleetSnapshot, clock = { now: Date.parse(at(100)) }): StatusModel {
  return new StatusModel({
    snapshot: () => snapshot,
    host: "host-a",
    pool: () => ({ busy: 1, idle: 1, max: 2, waiting: 0 }),
    now: () => new Date(clock.now),
    webUrl: "https://github.example",
  });
}

const base = { issue: "octo/site#7", agent: "agent-1" };
const lifecycle: LifecycleEvent[] = [
  { ...base, type: "claimed", at: at(10), epoch: 1, attempt: 2, sessionId: "s", mode: "new" },
  { ...base, type: "session_started", at: at(11), sessionId: "s", resume: false },
  { ...base, type: "progress", at: at(40), turns: 3, costUsd: 0.0123, lastToolCall: 'Bash "><img src=x onerror=alert(1)>' },
];

describe("the status page's renderer and read model", () => {
  it("renders an accessible table: caption, column and row headers, state as text and icon", () => {
    const m = model({ ...emptyFleetSnapshot(at(5)), issues: [issue(3), issue(4, { state: "failed" })] });
    const html = renderStatusPage(m.view());
    expect(html).toContain("<caption>");
    for (const column of STATUS_COLUMNS) expect(html).toContain(`<th scope="col">${column}</th>`);
    expect(html.match(/<th scope="row">/g)).toHaveLength(2);
    expect(html).toContain('<span class="state state-failed"><span aria-hidden="true">✖</span> failed</span>');
    expect(html).toContain('role="status"');
    expect(html).toContain("No trend data yet.");
    expect(renderStatusPage(m.view(), { trends: '<svg role="img" aria-label="t"></svg>' })).toContain('<div id="trends"><svg role="img"');
  });

  it("escapes every title and every text from the events", () => {
    const hostile = ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>'];
    const m = model({ ...emptyFleetSnapshot(at(5)), issues: hostile.map((title, i) => issue(i + 1, { title, waiting: title })) });
    for (const event of lifecycle) m.apply(event);
    m.apply({ ...base, type: "failed", at: at(50), code: "EHARNESS_X", message: "<script>bad()</script>" });
    const html = renderStatusPage(m.view());
    expect(html).not.toContain("<script>alert");
    expect(html).not.toContain("<script>bad");
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(html).toContain("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
    // The page's own script is the only one.
    expect(html.match(/<script>/g)).toHaveLength(1);
  });

  it("overlays this process's agent on the snapshot: agent, host, attempt, turns, cost, last tool call, heartbeat", () => {
    const m = model({ ...emptyFleetSnapshot(at(5)), issues: [issue(7, { state: "queued" })] });
    for (const event of lifecycle) m.apply(event);
    const [row] = m.view().rows;
    expect(row).toMatchObject({
      key: "octo/site#7",
      state: "running",
      agent: "agent-1",
      host: "host-a",
      attempt: 2,
      startedAt: at(10),
      turns: 3,
      costUsd: 0.0123,
      heartbeatAt: at(40),
      live: true,
    });
    const html = renderStatusPage(m.view());
    expect(html).toContain(`<span data-since="${at(10)}">1m 30s</span>`); // elapsed at 100 s
    expect(html).toContain(`<span data-since="${at(40)}">1m 00s</span> ago`); // heartbeat age
    expect(html).toContain("$0.0123");
  });

  it("counts done, failed, success rate and spend over 24 h from the events it saw", () => {
    const clock = { now: Date.parse(at(100)) };
    const m = model(emptyFleetSnapshot(at(5)), clock);
    const finish = (n: number, outcome: "success" | "crashed" | "interrupted", cost: number, seconds: number): void => {
      const e = { issue: `octo/site#${n}`, agent: "agent-1" };
      m.apply({ ...e, type: "session_ended", at: at(seconds), outcome, turns: 1, costUsd: cost, durationMs: 1 });
      m.apply({ ...e, type: "issue_done", at: at(seconds), outcome, label: "", pullRequest: null, steps: {} });
    };
    finish(1, "success", 0.5, 200);
    finish(2, "success", 0.25, 300);
    finish(3, "crashed", 0.125, 400);
    finish(4, "interrupted", 0, 500);
    expect(m.counters()).toMatchObject({ done: 2, failed: 1, interrupted: 1, spendUsd: 0.875 });
    expect(m.counters().successRate).toBeCloseTo(2 / 3, 10);
    expect(m.view().rows.map((r) => [r.key, r.state])).toEqual([
      ["octo/site#4", "interrupted"],
      ["octo/site#3", "failed"],
      ["octo/site#1", "done"],
      ["octo/site#2", "done"],
    ]);
    // A day later the first two have left the window.
    clock.now = Date.parse(at(24 * 3600 + 350));
    expect(m.counters()).toMatchObject({ done: 0, failed: 1, interrupted: 1, spendUsd: 0.125 });
    expect(m.view().rows.map((r) => r.key)).toEqual(["octo/site#4", "octo/site#3"]);
  });

  it("keeps the last 50 events, newest first", () => {
    const m = model(emptyFleetSnapshot(at(5)));
    for (let i = 0; i < 60; i += 1) m.apply({ ...base, type: "progress", at: at(i), turns: i, costUsd: 0, lastToolCall: null });
    const { events } = m.view();
    expect(events).toHaveLength(50);
    expect(events[0]?.text).toBe("turn 59, $0.0000");
  });

  it("shows a repository the last pass could not read, as an alert", () => {
    const m = model({ takenAt: at(5), repositories: [{ repository: "octo/site", readAt: null, error: "403 <b>forbidden</b>" }], issues: [] });
    const html = renderStatusPage(m.view());
    expect(html).toMatch(/<div id="errors" role="alert"><h2>Could not read<\/h2><ul><li><strong>octo\/site<\/strong>: 403 &lt;b&gt;forbidden&lt;\/b&gt;/);
  });

  it("links the Actions run that holds a lease", () => {
    const lease = {
      issue: 9,
      state: "claimed" as const,
      owner: { agent: "a", host: "runner-1", runId: "555-2" },
      epoch: 1,
      attempt: 1,
      leaseUntil: at(600),
      notBefore: null,
      sessionId: null,
    };
    const m = model({ ...emptyFleetSnapshot(at(5)), issues: [issue(9, { state: "running", lease, pullRequest: 12 })] });
    const html = renderStatusPage(m.view());
    expect(html).toContain('<a href="https://github.example/octo/site/actions/runs/555/attempts/2">run</a>');
    expect(html).toContain('<a href="https://github.example/octo/site/pull/12">PR #12</a>');
    expect(html).toContain('a <span class="note">@ runner-1</span>');
  });

  it("stays under 50 KB of HTML, CSS and script", () => {
    const html = renderStatusPage(model(emptyFleetSnapshot(at(5))).view());
    expect(Buffer.byteLength(html)).toBeLessThan(50 * 1024);
  });
});
