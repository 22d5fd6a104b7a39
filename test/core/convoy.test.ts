import { describe, expect, it } from "vitest";
import {
  MAX_CONVOY_ITEMS,
  blockerCycles,
  describeStagingProblems,
  parseConvoyItems,
  stageConvoy,
  stagingError,
  type ConvoyItemFacts,
  type StagingInput,
} from "../../src/core/convoy.js";
import { HarnessError } from "../../src/core/errors.js";
import { refKey, type IssueRef } from "../../src/core/queue.js";
import { seeded as random } from "../support/seeded-random.js";

const HOME = { owner: "acme", repo: "widgets" };
const PRIORITY = { high: "priority:high", medium: "priority:medium", low: "priority:low" };

const item = (number: number, over: Partial<ConvoyItemFacts> & { body?: string; labels?: string[]; repo?: string } = {}): ConvoyItemFacts => ({
  ref: { owner: "acme", repo: over.repo ?? "widgets", number },
  issue: over.issue === undefined ? { state: "open", body: over.body ?? "", labels: over.labels ?? [], isPullRequest: false } : over.issue,
  parent: over.parent ?? null,
  recordedBlockers: over.recordedBlockers ?? [],
});

const input = (items: ConvoyItemFacts[], over: Partial<StagingInput> = {}): StagingInput => ({
  convoy: null,
  home: HOME,
  convoyLabels: [],
  items,
  existing: [],
  reachable: () => true,
  mode: "token",
  queuedLabel: "harness:queued",
  priorityLabels: PRIORITY,
  ...over,
});

/** Whether the directed graph has a cycle, by repeatedly removing nodes nobody points at from within (Kahn): a second, independent judge. */
function hasCycle(nodes: number[], edges: [number, number][]): boolean {
  let left = new Set(nodes);
  let live = edges.filter(([a, b]) => a !== b);
  for (;;) {
    const pointedAt = new Set(live.map(([, b]) => b));
    const free = [...left].filter((n) => !pointedAt.has(n));
    if (free.length === 0) return left.size > 0;
    left = new Set([...left].filter((n) => pointedAt.has(n)));
    live = live.filter(([a]) => left.has(a));
    if (left.size === 0) return false;
  }
}

describe("parseConvoyItems", () => {
  it("reads #N, N, owner/repo#N and issue URLs, in order, without duplicates", () => {
    expect(parseConvoyItems(["#12", "13", "acme/api#4", "https://github.com/acme/api/issues/5", "#12"], HOME)).toEqual([
      { owner: "acme", repo: "widgets", number: 12 },
      { owner: "acme", repo: "widgets", number: 13 },
      { owner: "acme", repo: "api", number: 4 },
      { owner: "acme", repo: "api", number: 5 },
    ]);
  });
  it("refuses a word that is not an issue, naming it", () => {
    expect(() => parseConvoyItems(["#12", "banana"], HOME)).toThrow(/"banana" is not an issue/);
  });
});

describe("stageConvoy", () => {
  it("rejects every cycle among the items' blockers over 300 random graphs (bodies and recorded dependencies), naming a real cycle", () => {
    const next = random(18);
    let cyclic = 0;
    for (let round = 0; round < 300; round += 1) {
      const n = 2 + Math.floor(next() * 7);
      const numbers = Array.from({ length: n }, (_, i) => 10 + i);
      const edges: [number, number][] = [];
      const items = numbers.map((num) => {
        const text: number[] = [];
        const recorded: IssueRef[] = [];
        for (const other of numbers) {
          if (other === num || next() > 0.22) continue;
          edges.push([num, other]);
          if (next() < 0.5) text.push(other);
          else recorded.push({ owner: "acme", repo: "widgets", number: other });
        }
        const body = text.length > 0 ? `Some prose.\n\nDepends on ${text.map((t) => `#${t}`).join(", ")}` : "No blockers.";
        return item(num, { body, recordedBlockers: recorded });
      });
      const expected = hasCycle(numbers, edges);
      const decision = stageConvoy(input(items));
      const cycles = decision.ok ? [] : decision.problems.filter((p) => p.kind === "cycle");
      expect(cycles.length > 0, `round ${round}: ${JSON.stringify(edges)}`).toBe(expected);
      expect(decision.ok).toBe(!expected);
      for (const p of cycles) {
        if (p.kind !== "cycle") continue;
        cyclic += 1;
        // The named cycle is a real one: each item is blocked by the next, and it closes.
        expect(refKey(p.cycle[0] as IssueRef)).toBe(refKey(p.cycle.at(-1) as IssueRef));
        for (let i = 0; i + 1 < p.cycle.length; i += 1) {
          const from = (p.cycle[i] as IssueRef).number;
          const to = (p.cycle[i + 1] as IssueRef).number;
          expect(
            edges.some(([a, b]) => a === from && b === to),
            `${from} → ${to} in ${JSON.stringify(edges)}`,
          ).toBe(true);
        }
        const message = describeStagingProblems([p], HOME, "token")[0] as string;
        for (const r of p.cycle) expect(message).toContain(`#${r.number}`);
      }
    }
    // The generator gives both kinds, or this test proves nothing.
    expect(cyclic).toBeGreaterThan(30);
  });

  it("names each cyclic group once: two separate cycles are two problems", () => {
    const items = [
      item(1, { body: "Depends on #2" }),
      item(2, { body: "Depends on #1" }),
      item(3, { body: "Blocked by #4" }),
      item(4, { body: "Blocked by #3" }),
      item(5),
    ];
    expect(blockerCycles(items).map((c) => c.map((r) => r.number))).toEqual([
      [1, 2, 1],
      [3, 4, 3],
    ]);
  });

  it("refuses an item in a repository the harness does not reach, naming it (token and App wording)", () => {
    const items = [item(1), item(7, { repo: "secret" })];
    const decision = stageConvoy(input(items, { reachable: (r) => r.repo === "widgets" }));
    expect(decision.ok).toBe(false);
    if (decision.ok) return;
    expect(decision.problems).toEqual([{ kind: "unreachable", item: { owner: "acme", repo: "secret", number: 7 } }]);
    expect(describeStagingProblems(decision.problems, HOME, "token")).toEqual([
      "acme/secret#7: acme/secret is not one of the configured repositories (HARNESS_REPOSITORIES or --repo).",
    ]);
    expect(describeStagingProblems(decision.problems, HOME, "app")).toEqual(["acme/secret#7: the App is not installed on acme/secret."]);
  });

  it("refuses an item of a repository where the person who asked may not steer, naming them", () => {
    const items = [item(1), item(2, { repo: "api" })];
    const decision = stageConvoy(input(items, { requester: { login: "eve", maySteer: (r) => r.repo === "widgets" } }));
    expect(decision.ok).toBe(false);
    if (decision.ok) return;
    expect(describeStagingProblems(decision.problems, HOME, "app")).toEqual(["acme/api#2: @eve has no write, maintain or admin permission on acme/api."]);
  });

  it("refuses more than 100 items, existing ones counted, saying how many", () => {
    const existing = Array.from({ length: 60 }, (_, i) => item(1000 + i, { parent: { ...HOME, number: 1 } }));
    const items = Array.from({ length: 41 }, (_, i) => item(2000 + i));
    const decision = stageConvoy(input(items, { convoy: { ...HOME, number: 1 }, existing }));
    expect(decision.ok).toBe(false);
    if (decision.ok) return;
    expect(decision.problems).toEqual([{ kind: "too-many", count: 101, limit: MAX_CONVOY_ITEMS }]);
    expect(describeStagingProblems(decision.problems, HOME, "token")).toEqual(["101 items: GitHub allows at most 100 sub-issues per parent issue."]);
    expect(stageConvoy(input(items.slice(0, 40), { convoy: { ...HOME, number: 1 }, existing })).ok).toBe(true);
  });

  it("refuses an item that already has another parent, naming both; its own convoy as parent is fine", () => {
    const decision = stageConvoy(input([item(3, { parent: { owner: "acme", repo: "widgets", number: 99 } })]));
    expect(decision.ok).toBe(false);
    if (decision.ok) return;
    expect(describeStagingProblems(decision.problems, HOME, "token")).toEqual(["#3 already has a parent issue, #99: an issue has at most one."]);
    expect(stageConvoy(input([item(3, { parent: { ...HOME, number: 99 } })], { convoy: { ...HOME, number: 99 } })).ok).toBe(true);
  });

  it("refuses what GitHub would refuse as a sub-issue: another owner, a pull request, an unreadable issue, and reports every problem at once", () => {
    const items = [
      { ...item(1), ref: { owner: "other", repo: "thing", number: 1 } },
      item(2, { issue: { state: "open", body: "", labels: [], isPullRequest: true } }),
      item(3, { issue: null }),
    ];
    const decision = stageConvoy(input(items));
    expect(decision.ok).toBe(false);
    if (decision.ok) return;
    expect(decision.problems.map((p) => p.kind)).toEqual(["other-owner", "pull-request", "not-found"]);
    const error = stagingError(decision.problems, HOME, "token");
    expect(error).toBeInstanceOf(HarnessError);
    expect(error.code).toBe("EHARNESS_CONVOY");
    expect(error.message).toContain("other/thing#1");
    expect(error.message).toContain("#2 is a pull request");
    expect(error.message).toContain("#3: no such issue");
  });

  it("queues the open items that are not queued and gives the convoy's priority to those without one", () => {
    const items = [
      item(1),
      item(2, { labels: ["harness:queued", "priority:low"] }),
      item(3, { labels: ["bug"] }),
      item(4, { issue: { state: "closed", body: "", labels: [], isPullRequest: false } }),
    ];
    const decision = stageConvoy(input(items, { convoyLabels: ["harness:convoy", "priority:high"] }));
    expect(decision.ok && decision.plan).toEqual({
      add: items.map((i) => i.ref),
      labels: [
        { item: items[0]?.ref, add: ["harness:queued", "priority:high"] },
        { item: items[1]?.ref, add: [] },
        { item: items[2]?.ref, add: ["harness:queued", "priority:high"] },
        { item: items[3]?.ref, add: [] },
      ],
    });
    // App mode: the App's own queue label would start no agent, so staging does not add it.
    const app = stageConvoy(input([item(1)], { convoyLabels: ["priority:low"], queueItems: false }));
    expect(app.ok && app.plan.labels).toEqual([{ item: { ...HOME, number: 1 }, add: ["priority:low"] }]);
    const plain = stageConvoy(input([item(1)]));
    expect(plain.ok && plain.plan.labels).toEqual([{ item: { ...HOME, number: 1 }, add: ["harness:queued"] }]);
  });
});
