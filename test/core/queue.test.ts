import { describe, expect, it } from "vitest";
import type { LeaseRecord } from "../../src/core/lease.js";
import {
  agedPriority,
  compareQueued,
  DEFAULT_AGING_HOURS,
  describeWait,
  formatRef,
  parseIssueRefs,
  parseTextBlockers,
  planQueue,
  priorityOf,
  queueCandidates,
  refKey,
  stripNonProse,
  textBlockersToResolve,
  type QueueFacts,
  type QueueIssue,
  type QueueOptions,
} from "../../src/core/queue.js";

const HERE = { owner: "octo-org", repo: "widgets" };
const PRIORITIES = { high: "priority:high", medium: "priority:medium", low: "priority:low" };
const NOW = new Date("2025-06-01T12:00:00Z");
// The issues below were created months before NOW: aging is off here (a year) so that these tests see the labels' order; aging has its own tests.
const OPTIONS: QueueOptions = { repository: HERE, queuedLabel: "harness:queued", priorityLabels: PRIORITIES, now: NOW, agingHours: 24 * 365 };

function issue(number: number, over: Partial<QueueIssue> = {}): QueueIssue {
  return {
    number,
    createdAt: new Date(Date.UTC(2025, 0, 1) + number * 60_000).toISOString(),
    labels: ["harness:queued"],
    body: "",
    state: "open",
    isPullRequest: false,
    ...over,
  };
}

function lease(issueNumber: number, over: Partial<LeaseRecord> = {}): LeaseRecord {
  return {
    issue: issueNumber,
    state: "released",
    owner: { agent: "agent-1", host: "h1", runId: "r1" },
    epoch: 1,
    attempt: 1,
    leaseUntil: "2025-06-01T11:00:00.000Z",
    notBefore: null,
    sessionId: null,
    outcome: null,
    ...over,
  };
}

const order = (issues: QueueIssue[], facts: QueueFacts = {}, options: QueueOptions = OPTIONS): number[] =>
  planQueue(issues, facts, options).ready.map((e) => e.issue);

describe("priorityOf", () => {
  it("is medium without a priority label", () => {
    expect(priorityOf([], PRIORITIES)).toBe("medium");
    expect(priorityOf(["bug", "harness:queued"], PRIORITIES)).toBe("medium");
  });
  it("reads each label, case-insensitively", () => {
    expect(priorityOf(["priority:high"], PRIORITIES)).toBe("high");
    expect(priorityOf(["Priority:Low"], PRIORITIES)).toBe("low");
    expect(priorityOf(["priority:medium"], PRIORITIES)).toBe("medium");
  });
  it("takes the highest of several", () => {
    expect(priorityOf(["priority:low", "priority:high"], PRIORITIES)).toBe("high");
    expect(priorityOf(["priority:low", "priority:medium"], PRIORITIES)).toBe("medium");
  });
  it("uses the configured names", () => {
    const names = { high: "P0", medium: "P1", low: "P2" };
    expect(priorityOf(["P0"], names)).toBe("high");
    expect(priorityOf(["P2"], names)).toBe("low");
    expect(priorityOf(["priority:high"], names)).toBe("medium");
  });
});

describe("compareQueued", () => {
  const at = (priority: "high" | "medium" | "low", createdAt: string, number: number) => ({ priority, createdAt, number });
  it("orders by priority, then age, then number", () => {
    expect(compareQueued(at("high", "2025-02-01T00:00:00Z", 9), at("medium", "2025-01-01T00:00:00Z", 1))).toBeLessThan(0);
    expect(compareQueued(at("low", "2025-01-01T00:00:00Z", 1), at("medium", "2025-02-01T00:00:00Z", 9))).toBeGreaterThan(0);
    expect(compareQueued(at("medium", "2025-01-01T00:00:00Z", 9), at("medium", "2025-02-01T00:00:00Z", 1))).toBeLessThan(0);
    expect(compareQueued(at("medium", "2025-01-01T00:00:00Z", 2), at("medium", "2025-01-01T00:00:00Z", 3))).toBeLessThan(0);
  });
  it("puts an unparsable time after the parsable ones, then orders by number", () => {
    expect(compareQueued(at("medium", "", 1), at("medium", "2025-01-01T00:00:00Z", 2))).toBeGreaterThan(0);
    expect(compareQueued(at("medium", "", 1), at("medium", "", 2))).toBeLessThan(0);
  });
});

describe("planQueue: order", () => {
  it("is high, medium (and unlabeled), low; oldest first within each", () => {
    const issues = [
      issue(1, { labels: ["harness:queued", "priority:low"] }),
      issue(2),
      issue(3, { labels: ["harness:queued", "priority:high"] }),
      issue(4, { labels: ["harness:queued", "priority:medium"] }),
      issue(5, { labels: ["harness:queued", "priority:high"] }),
      issue(6, { labels: ["harness:queued", "priority:low"] }),
    ];
    expect(order(issues)).toEqual([3, 5, 2, 4, 1, 6]);
    expect(planQueue(issues, {}, OPTIONS).ready.map((e) => e.priority)).toEqual(["high", "high", "medium", "medium", "low", "low"]);
  });
  it("orders by created_at, not by number, and by number when created at the same time", () => {
    const issues = [
      issue(1, { createdAt: "2025-03-01T00:00:00Z" }),
      issue(2, { createdAt: "2025-01-01T00:00:00Z" }),
      issue(4, { createdAt: "2025-02-01T00:00:00Z" }),
      issue(3, { createdAt: "2025-02-01T00:00:00Z" }),
    ];
    expect(order(issues)).toEqual([2, 3, 4, 1]);
  });
  it("does not depend on the input order", () => {
    const issues = [issue(1), issue(2, { labels: ["harness:queued", "priority:high"] }), issue(3), issue(4, { labels: ["harness:queued", "priority:low"] })];
    const expected = order(issues);
    expect(order([...issues].reverse())).toEqual(expected);
    expect(order([issues[2]!, issues[0]!, issues[3]!, issues[1]!])).toEqual(expected);
  });
  it("counts an issue listed twice once", () => {
    expect(order([issue(1), issue(1), issue(2)])).toEqual([1, 2]);
  });
});

describe("planQueue: what is skipped", () => {
  it("skips pull requests, closed issues and issues without the queued label (case-insensitive)", () => {
    const plan = planQueue(
      [issue(1, { isPullRequest: true }), issue(2, { state: "closed" }), issue(3, { labels: ["bug"] }), issue(4, { labels: ["Harness:Queued"] })],
      {},
      OPTIONS,
    );
    expect(plan.ready.map((e) => e.issue)).toEqual([4]);
    expect(plan.skipped).toEqual([
      { issue: 1, reason: "pull-request" },
      { issue: 2, reason: "closed" },
      { issue: 3, reason: "not-queued" },
    ]);
  });
  it("uses the configured queued label", () => {
    expect(order([issue(1, { labels: ["todo"] }), issue(2)], {}, { ...OPTIONS, queuedLabel: "todo" })).toEqual([1]);
  });
  it("queueCandidates keeps the open queued issues", () => {
    expect(queueCandidates([issue(1, { isPullRequest: true }), issue(2), issue(3, { state: "closed" })], "harness:queued").map((i) => i.number)).toEqual([2]);
  });
});

describe("planQueue: blockers", () => {
  const blocked = (issues: QueueIssue[], facts: QueueFacts) => planQueue(issues, facts, OPTIONS);

  it("holds an issue GitHub records as blocked by an open issue", () => {
    const plan = blocked([issue(2)], { recordedBlockers: new Map([[2, [{ ref: { ...HERE, number: 1 }, state: "open" }]]]) });
    expect(plan.ready).toEqual([]);
    expect(plan.waiting).toEqual([
      { issue: 2, priority: "medium", waitingSince: issue(2).createdAt, reason: { kind: "blocked", by: [{ ...HERE, number: 1 }] } },
    ]);
  });
  it("releases it when every recorded blocker is closed", () => {
    const plan = blocked([issue(2)], {
      recordedBlockers: new Map([
        [
          2,
          [
            { ref: { ...HERE, number: 1 }, state: "closed" },
            { ref: { owner: "other", repo: "api", number: 7 }, state: "closed" },
          ],
        ],
      ]),
    });
    expect(plan.ready.map((e) => e.issue)).toEqual([2]);
  });
  it("holds on an open recorded blocker in another repository", () => {
    const plan = blocked([issue(2)], { recordedBlockers: new Map([[2, [{ ref: { owner: "other", repo: "api", number: 7 }, state: "open" }]]]) });
    expect(plan.waiting[0]?.reason).toEqual({ kind: "blocked", by: [{ owner: "other", repo: "api", number: 7 }] });
  });
  it("ignores a recorded dependency on itself", () => {
    expect(order([issue(2)], { recordedBlockers: new Map([[2, [{ ref: { ...HERE, number: 2 }, state: "open" }]]]) })).toEqual([2]);
  });
  it("holds an issue whose body names an open blocker, and releases it once closed", () => {
    const body = "Depends on #1";
    expect(order([issue(2, { body })], { blockerStates: new Map([["octo-org/widgets#1", "open"]]) })).toEqual([]);
    expect(order([issue(2, { body })], { blockerStates: new Map([["octo-org/widgets#1", "closed"]]) })).toEqual([2]);
  });
  // Issue #18 changed this rule: an unreadable blocker used to let the issue through; now it holds it.
  it("holds on a blocker whose state is unknown (deleted, no access, not read), naming it as unreadable", () => {
    expect(order([issue(2, { body: "Depends on #1" })], { blockerStates: new Map([["octo-org/widgets#1", "unknown"]]) })).toEqual([]);
    expect(order([issue(2, { body: "Depends on #1" })], {})).toEqual([]);
    const plan = planQueue([issue(2, { body: "Depends on #1 and other/repo#5" })], { blockerStates: new Map([["other/repo#5", "open"]]) }, OPTIONS);
    expect(plan.waiting[0]?.reason).toEqual({
      kind: "blocked",
      by: [
        { ...HERE, number: 1 },
        { owner: "other", repo: "repo", number: 5 },
      ],
      unreadable: [{ ...HERE, number: 1 }],
    });
    expect(describeWait(plan.waiting[0]!.reason, HERE)).toBe("blocked by #1 (state unreadable: deleted, or not visible to the harness), other/repo#5");
  });
  it("orders but does not check an issue the caller left unchecked (already queued or running here)", () => {
    expect(order([issue(2, { body: "Depends on #1" }), issue(3)], { unchecked: new Set([2]) })).toEqual([2, 3]);
  });
  it("lists each open blocker once, recorded and written", () => {
    const plan = blocked([issue(3, { body: "Blocked by #1 and #2" })], {
      recordedBlockers: new Map([[3, [{ ref: { owner: "Octo-Org", repo: "Widgets", number: 1 }, state: "open" }]]]),
      blockerStates: new Map([
        ["octo-org/widgets#1", "open"],
        ["octo-org/widgets#2", "open"],
      ]),
    });
    expect(plan.waiting[0]?.reason).toEqual({
      kind: "blocked",
      by: [
        { owner: "Octo-Org", repo: "Widgets", number: 1 },
        { ...HERE, number: 2 },
      ],
    });
  });
  it("keeps the others in order around a blocked issue", () => {
    const issues = [issue(1), issue(2, { body: "Depends on #9" }), issue(3)];
    expect(order(issues, { blockerStates: new Map([["octo-org/widgets#9", "open"]]) })).toEqual([1, 3]);
  });
  it("textBlockersToResolve names each blocker of the candidates once", () => {
    const refs = textBlockersToResolve(
      [
        issue(1, { body: "Depends on #5" }),
        issue(2, { body: "depends on #5, other/api#3" }),
        issue(3, { body: "Depends on #6", isPullRequest: true }),
        issue(4, { body: "Depends on #7", labels: [] }),
      ],
      OPTIONS,
    );
    expect(refs.map(refKey)).toEqual(["octo-org/widgets#5", "other/api#3"]);
  });
});

describe("planQueue: leases", () => {
  it("lets an issue without a lease or with a free one through", () => {
    expect(
      order([issue(1), issue(2), issue(3)], {
        leases: new Map([
          [1, null],
          [2, lease(2)],
          [3, lease(3, { state: "reclaimed", notBefore: "2025-06-01T11:59:59Z" })],
        ]),
      }),
    ).toEqual([1, 2, 3]);
  });
  it("lets an issue through when notBefore is exactly now", () => {
    expect(order([issue(1)], { leases: new Map([[1, lease(1, { state: "reclaimed", notBefore: NOW.toISOString() })]]) })).toEqual([1]);
  });
  it("holds an issue whose lease says notBefore in the future, and names the earliest end", () => {
    const plan = planQueue(
      [issue(1), issue(2), issue(3)],
      {
        leases: new Map([
          [1, lease(1, { state: "reclaimed", notBefore: "2025-06-01T12:10:00.000Z" })],
          [2, lease(2, { state: "interrupted", notBefore: "2025-06-01T12:05:00.000Z" })],
        ]),
      },
      OPTIONS,
    );
    expect(plan.ready.map((e) => e.issue)).toEqual([3]);
    expect(plan.waiting).toEqual([
      { issue: 1, priority: "medium", waitingSince: issue(1).createdAt, reason: { kind: "backoff", until: "2025-06-01T12:10:00.000Z" } },
      { issue: 2, priority: "medium", waitingSince: issue(2).createdAt, reason: { kind: "backoff", until: "2025-06-01T12:05:00.000Z" } },
    ]);
    expect(plan.nextBackoffEnds).toBe("2025-06-01T12:05:00.000Z");
  });
  it("holds an issue whose lease is claimed, even past leaseUntil (the reclaimer takes it back)", () => {
    const held = lease(1, { state: "claimed", leaseUntil: "2025-06-01T11:00:00.000Z" });
    const plan = planQueue([issue(1)], { leases: new Map([[1, held]]) }, OPTIONS);
    expect(plan.waiting[0]?.reason).toEqual({ kind: "held", owner: held.owner, until: held.leaseUntil });
    expect(plan.nextBackoffEnds).toBeNull();
  });
  it("says blocked before backoff, and held before blocked", () => {
    const facts = (state: LeaseRecord["state"]): QueueFacts => ({
      blockerStates: new Map([["octo-org/widgets#9", "open"]]),
      leases: new Map([[1, lease(1, { state, notBefore: "2025-06-02T00:00:00Z" })]]),
    });
    expect(planQueue([issue(1, { body: "Depends on #9" })], facts("reclaimed"), OPTIONS).waiting[0]?.reason.kind).toBe("blocked");
    expect(planQueue([issue(1, { body: "Depends on #9" })], facts("claimed"), OPTIONS).waiting[0]?.reason.kind).toBe("held");
  });
});

describe("parseTextBlockers", () => {
  const parse = (body: string, number?: number) =>
    parseTextBlockers(body, { ...HERE, ...(number === undefined ? {} : { number }) }).map((r) => formatRef(r, HERE));

  it("reads 'Depends on #M' and 'Blocked by #M', case-insensitively", () => {
    expect(parse("Depends on #12")).toEqual(["#12"]);
    expect(parse("blocked by #3.")).toEqual(["#3"]);
    expect(parse("DEPENDS ON #4")).toEqual(["#4"]);
    expect(parse("This is Blocked By #5 for now")).toEqual(["#5"]);
    expect(parse("Depends  on\n#6")).toEqual(["#6"]);
    expect(parse("Depends on: #7")).toEqual(["#7"]);
    expect(parse("- [ ] depends on #8")).toEqual(["#8"]);
    expect(parse("**Depends on** #9")).toEqual([]);
  });
  it("reads owner/repo#M and issue URLs", () => {
    expect(parse("depends on other-org/api.js#44")).toEqual(["other-org/api.js#44"]);
    expect(parse("Depends on https://github.com/other/api/issues/5")).toEqual(["other/api#5"]);
    expect(parse("Depends on https://ghe.example.com/octo-org/widgets/pull/6")).toEqual(["#6"]);
    expect(parse("depends on Octo-Org/Widgets#3")).toEqual(["#3"]);
  });
  it("reads lists", () => {
    expect(parse("Depends on #1, #2 and #3")).toEqual(["#1", "#2", "#3"]);
    expect(parse("Blocked by #1 & other/api#2, and #4")).toEqual(["#1", "other/api#2", "#4"]);
    expect(parse("Depends on #1 #2")).toEqual(["#1", "#2"]);
    expect(parse("Depends on #1 for the schema, see #2")).toEqual(["#1"]);
  });
  it("reads several phrases and keeps each blocker once", () => {
    expect(parse("Depends on #1.\nBlocked by #2.\nAlso depends on #1.")).toEqual(["#1", "#2"]);
  });
  it("ignores other mentions and near misses", () => {
    expect(parse("See #1, fixes #2, relates to #3")).toEqual([]);
    expect(parse("It independs on #1")).toEqual([]);
    expect(parse("depended on #1; depend on #2; dependson #3")).toEqual([]);
    expect(parse("Depends on issue 4")).toEqual([]);
    expect(parse("Depends on #0")).toEqual([]);
    expect(parse("")).toEqual([]);
  });
  it("ignores the issue itself", () => {
    expect(parse("Depends on #5 and #6", 5)).toEqual(["#6"]);
    expect(parse("Depends on other/api#5", 5)).toEqual(["other/api#5"]);
  });
  it("ignores fenced code blocks (``` and ~~~, any info string, longer fences)", () => {
    expect(parse("```\nDepends on #1\n```\nDepends on #2")).toEqual(["#2"]);
    expect(parse("~~~md\nBlocked by #1\n~~~")).toEqual([]);
    expect(parse("````\n```\nDepends on #1\n```\nstill code: depends on #2\n````\nDepends on #3")).toEqual(["#3"]);
    expect(parse("  ```ts\n  // depends on #1\n  ```")).toEqual([]);
    expect(parse("```\nDepends on #1 (unclosed fence runs to the end)")).toEqual([]);
  });
  it("ignores inline code", () => {
    expect(parse("Write `Depends on #1` to declare one")).toEqual([]);
    expect(parse("Use ``Depends on #1 `x` `` like this; depends on #2")).toEqual(["#2"]);
  });
  it("ignores quotes and HTML comments", () => {
    expect(parse("> Depends on #1\nI disagree.")).toEqual([]);
    expect(parse("   > > blocked by #1")).toEqual([]);
    expect(parse("<!-- Depends on #1 -->\nDepends on #2")).toEqual(["#2"]);
    expect(parse("<!--\nBlocked by #1\n-->")).toEqual([]);
  });
  it("handles Windows line endings", () => {
    expect(parse("```\r\nDepends on #1\r\n```\r\nDepends on #2\r\n")).toEqual(["#2"]);
  });
});

describe("stripNonProse", () => {
  it("keeps prose and line structure", () => {
    expect(stripNonProse("a\n```\nb\n```\nc")).toBe("a\n\n\n\nc");
  });
});

describe("refKey, formatRef, describeWait", () => {
  it("lower-cases owner and repository", () => {
    expect(refKey({ owner: "Octo-Org", repo: "Widgets", number: 3 })).toBe("octo-org/widgets#3");
  });
  it("writes #N inside the repository and owner/repo#N outside", () => {
    expect(formatRef({ owner: "OCTO-ORG", repo: "widgets", number: 1 }, HERE)).toBe("#1");
    expect(formatRef({ owner: "other", repo: "api", number: 1 }, HERE)).toBe("other/api#1");
    expect(formatRef({ owner: "other", repo: "api", number: 1 })).toBe("other/api#1");
  });
  it("says why an issue waits", () => {
    expect(
      describeWait(
        {
          kind: "blocked",
          by: [
            { ...HERE, number: 1 },
            { owner: "o", repo: "r", number: 2 },
          ],
        },
        HERE,
      ),
    ).toBe("blocked by #1, o/r#2");
    expect(describeWait({ kind: "backoff", until: "2025-06-01T12:05:00.000Z" })).toBe("backing off until 2025-06-01T12:05:00.000Z");
    expect(describeWait({ kind: "held", owner: { agent: "agent-2", host: "h", runId: "r" }, until: "T" })).toBe("held by agent-2@h until T");
  });
});

describe("planQueue: aging", () => {
  const HOUR = 3_600_000;
  const at = (hoursAgo: number): string => new Date(NOW.getTime() - hoursAgo * HOUR).toISOString();
  const aging: QueueOptions = { ...OPTIONS, agingHours: 48 };

  it("defaults to 48 hours", () => {
    const defaults: QueueOptions = { repository: HERE, queuedLabel: "harness:queued", priorityLabels: PRIORITIES, now: NOW };
    const low = issue(1, { labels: ["harness:queued", "priority:low"], createdAt: at(48.01) });
    const medium = issue(2, { createdAt: at(1) });
    expect(planQueue([low, medium], {}, defaults).ready).toEqual([
      { issue: 1, priority: "medium", agedFrom: "low", waitingSince: at(48.01) },
      { issue: 2, priority: "medium", waitingSince: at(1) },
    ]);
    expect(agedPriority("low", at(47.99), NOW, DEFAULT_AGING_HOURS)).toBe("low");
  });
  it("moves an issue up one class once it has waited longer than agingHours, and only one", () => {
    expect(agedPriority("low", at(48), NOW, 48)).toBe("low");
    expect(agedPriority("low", at(48.001), NOW, 48)).toBe("medium");
    expect(agedPriority("low", at(1000), NOW, 48)).toBe("medium");
    expect(agedPriority("medium", at(49), NOW, 48)).toBe("high");
    expect(agedPriority("high", at(1000), NOW, 48)).toBe("high");
    expect(agedPriority("low", "not a time", NOW, 48)).toBe("low");
  });
  it("puts an aged low issue before younger medium ones, but after a high one", () => {
    const issues = [
      issue(1, { createdAt: at(10) }),
      issue(2, { labels: ["harness:queued", "priority:low"], createdAt: at(50) }),
      issue(3, { labels: ["harness:queued", "priority:high"], createdAt: at(1) }),
    ];
    expect(order(issues, {}, aging)).toEqual([3, 2, 1]);
  });
  it("breaks ties within a class by the longer wait, then by number", () => {
    const issues = [
      issue(5, { createdAt: at(60) }), // aged medium → high, waited 60 h
      issue(4, { labels: ["harness:queued", "priority:high"], createdAt: at(70) }),
      issue(3, { labels: ["harness:queued", "priority:high"], createdAt: at(60) }),
    ];
    expect(order(issues, {}, aging)).toEqual([4, 3, 5]);
  });
  it("measures the wait from when the queued label was last added, where known", () => {
    const old = issue(1, { labels: ["harness:queued", "priority:low"], createdAt: at(500) });
    const medium = issue(2, { createdAt: at(10) });
    // Created long ago but queued an hour ago: not aged.
    expect(order([old, medium], { queuedSince: new Map([[1, at(1)]]) }, aging)).toEqual([2, 1]);
    // Unknown (null): from created_at.
    expect(order([old, medium], { queuedSince: new Map([[1, null]]) }, aging)).toEqual([1, 2]);
  });
});

describe("parseIssueRefs", () => {
  it("finds every issue a body names, in prose only, once each, in order, without the issue itself", () => {
    const body = "See #4 and octo-org/api#12; also https://github.com/other/repo/pull/7 and #4 again.\n\n`#99`\n```\n#98\n```\n> #97\n<!-- #96 --> and #3.";
    expect(parseIssueRefs(body, { ...HERE, number: 3 })).toEqual([
      { owner: "octo-org", repo: "widgets", number: 4 },
      { owner: "octo-org", repo: "api", number: 12 },
      { owner: "other", repo: "repo", number: 7 },
    ]);
  });
});
