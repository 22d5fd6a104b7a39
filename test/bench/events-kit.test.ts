import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { eventErrors, median, modelWaitMs, parseEvents, phaseMeans, stepMeans, timelines } from "../../bench/_kit.js";
import type { LifecycleEvent } from "../../src/core/lifecycle-events.js";
import type { RecordedRequest } from "../../src/offline/model-server.js";

const T0 = Date.parse("2026-12-01T10:00:00.000Z");
const at = (ms: number): string => new Date(T0 + ms).toISOString();
const ISSUE = "o/r#1";
const AGENT = "a1";

/** One issue's events, built with the LifecycleEvent type, so they cannot drift from what the harness emits. */
function issueEvents(issue: string, agent: string, from: number): LifecycleEvent[] {
  const base = { issue, agent };
  return [
    { ...base, type: "claimed", at: at(from + 300), epoch: 1, attempt: 1, sessionId: "s1", mode: "new" },
    { ...base, type: "worktree_ready", at: at(from + 1_000), path: `/wt/${issue}`, startPoint: "main" },
    { ...base, type: "session_started", at: at(from + 1_000), sessionId: "s1", resume: false },
    { ...base, type: "progress", at: at(from + 2_000), turns: 1, costUsd: 0.01, lastToolCall: "Write: work.txt" },
    { ...base, type: "session_ended", at: at(from + 4_000), outcome: "success", turns: 2, costUsd: 0.02, durationMs: 3_000 },
    { ...base, type: "published", at: at(from + 5_000), outcome: "success", label: "harness:done", pullRequest: 2, pushed: true },
    { ...base, type: "released", at: at(from + 5_000), outcome: "success", ok: true },
    {
      ...base,
      type: "issue_done",
      at: at(from + 5_500),
      outcome: "success",
      label: "harness:done",
      pullRequest: 2,
      steps: { "claim.lease": 200, session: 3_000, "publish.push": 400 },
    },
  ];
}

function jsonl(events: LifecycleEvent[]): string {
  return events.map((e) => `${JSON.stringify(e)}\n`).join("");
}

const started: LifecycleEvent = { type: "host_started", at: at(0), host: "h", agents: [AGENT], repositories: ["o/r"] };

describe("bench events kit", () => {
  it("reads an events file as typed events and a per-issue timeline", () => {
    const events = parseEvents(jsonl([started, ...issueEvents(ISSUE, AGENT, 0), ...issueEvents("o/r#3", AGENT, 5_500)]));
    expect(events).toHaveLength(17);
    const { startedAt, issues } = timelines(events);
    expect(startedAt).toBe(T0);
    expect(issues.map((t) => t.issue)).toEqual([ISSUE, "o/r#3"]);
    const [first, second] = issues;
    expect(first).toMatchObject({ agent: AGENT, readyAt: T0, claimedAt: T0 + 300, worktreeAt: T0 + 1_000, sessionEndedAt: T0 + 4_000, doneAt: T0 + 5_500 });
    expect(first?.worktreePath).toBe(`/wt/${ISSUE}`);
    // The agent's second issue is ready when its first is done.
    expect(second?.readyAt).toBe(T0 + 5_500);
    expect(phaseMeans(issues)).toEqual({ preClaim: 300, worktree: 700, session: 3_000, publish: 1_500 });
    expect(stepMeans(issues)).toEqual({ "claim.lease": 200, session: 3_000, "publish.push": 400 });
    expect(eventErrors(events)).toEqual([]);
  });

  it("reads the events file of a real `harness worker` run", () => {
    const file = new URL("fixtures/worker-events.jsonl", import.meta.url);
    const events = parseEvents(readFileSync(file, "utf8"), file.pathname);
    const { issues } = timelines(events);
    expect(issues).toHaveLength(1);
    const [issue] = issues;
    expect(issue?.outcome).toBe("success");
    expect(issue?.claimedAt).toBeLessThan(issue?.worktreeAt ?? 0);
    expect(issue?.sessionEndedAt).toBeLessThan(issue?.doneAt ?? 0);
    expect(Object.keys(issue?.steps ?? {})).toEqual(
      expect.arrayContaining(["claim.lease", "git.worktree", "session", "publish.push", "publish.pullRequest", "cleanup"]),
    );
  });

  it.each([
    ["not JSON", "{not json", /events file:2: not JSON/],
    ["an unknown type", JSON.stringify({ type: "issue steps", issue: ISSUE, agent: AGENT, at: at(0) }), /events file:2: unknown event type "issue steps"/],
    ["a log line", JSON.stringify({ level: 30, time: T0, msg: "claimed" }), /events file:2: unknown event type undefined/],
    [
      "a missing field",
      JSON.stringify({ type: "claimed", issue: ISSUE, agent: AGENT, at: at(0), epoch: 1 }),
      /events file:2: claimed without attempt, sessionId, mode/,
    ],
    ["a bad time", JSON.stringify({ type: "fenced", issue: ISSUE, agent: AGENT, at: "yesterday" }), /events file:2: `at` is not an ISO time/],
    [
      "steps that are not ms",
      JSON.stringify({
        type: "issue_done",
        issue: ISSUE,
        agent: AGENT,
        at: at(0),
        outcome: "success",
        label: "l",
        pullRequest: null,
        steps: { session: "1s" },
      }),
      /events file:2: `steps` is not a map of ms/,
    ],
    ["an array", "[]", /events file:2: not a JSON object/],
  ])("refuses a line with %s, naming the line", (_what, line, error) => {
    expect(() => parseEvents(`${JSON.stringify(started)}\n${line}\n`)).toThrow(error);
  });

  it("says which step an issue's timeline lacks", () => {
    const events = [started, ...issueEvents(ISSUE, AGENT, 0).filter((e) => e.type !== "session_ended")];
    expect(() => timelines(events)).toThrow(/o\/r#1: incomplete timeline, no sessionEndedAt/);
    expect(() => timelines(issueEvents(ISSUE, AGENT, 0))).toThrow(/no host_started/);
  });

  it("reports failed, fenced and unsuccessful issues from the events", () => {
    const events: LifecycleEvent[] = [
      started,
      { type: "failed", issue: ISSUE, agent: AGENT, at: at(1), code: "EHARNESS_GIT", message: "push refused" },
      { type: "issue_done", issue: ISSUE, agent: AGENT, at: at(2), outcome: "error", label: "harness:failed", pullRequest: null, steps: {} },
      { type: "fenced", issue: "o/r#2", agent: AGENT, at: at(3) },
    ];
    expect(eventErrors(events)).toEqual([
      "o/r#1 failed EHARNESS_GIT: push refused",
      "o/r#1 done: error (harness:failed)",
      "o/r#2 fenced (its lease is somebody else's)",
    ]);
  });

  it("counts the model's waiting from the session's own turn requests", () => {
    const { issues } = timelines([started, ...issueEvents(ISSUE, AGENT, 0)]);
    const request = (kind: RecordedRequest["kind"], cwd: string | null): RecordedRequest => ({
      method: "POST",
      path: "/v1/messages",
      headers: {},
      body: {},
      kind,
      scenario: null,
      turn: null,
      cwd,
    });
    const requests = [request("turn", `/wt/${ISSUE}`), request("turn", `/wt/${ISSUE}`), request("side", `/wt/${ISSUE}`), request("turn", "/wt/other")];
    expect(issues[0] && modelWaitMs(issues[0], requests, 500)).toBe(1_000);
  });

  it("takes the median of odd and even counts", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});
