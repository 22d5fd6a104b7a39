import { describe, expect, it } from "vitest";
import type { LeaseRecord } from "../../src/core/lease.js";
import { planQueue, refKey, type BlockerState, type IssueRef, type Priority, type QueueIssue, type RecordedBlocker } from "../../src/core/queue.js";
import { seeded } from "../support/seeded-random.js";

/**
 * The queue's dispatch decisions simulated over many ticks of a fake clock
 * (issue #18): a dispatcher that fills free capacity from `planQueue`'s ready
 * list in order, as the reconciler and the queue worker do, checked against an
 * oracle that knows every issue's true state and class independently of the
 * queue's code.
 */

const PRIORITIES = { high: "priority:high", medium: "priority:medium", low: "priority:low" };
const QUEUED = "harness:queued";
const HOUR = 3_600_000;
const TICK = 5 * 60_000; // the reconciler's default tick
const AGING_HOURS = 48;
const RANK: Record<Priority, number> = { high: 0, medium: 1, low: 2 };

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

function labelsFor(priority: Priority | null): string[] {
  return priority === null ? [QUEUED] : [QUEUED, PRIORITIES[priority]];
}

function backoffLease(issue: number, until: number): LeaseRecord {
  return {
    issue,
    state: "released",
    owner: { agent: "a", host: "h", runId: "r" },
    epoch: 1,
    attempt: 1,
    leaseUntil: new Date(until - 60_000).toISOString(),
    notBefore: new Date(until).toISOString(),
    sessionId: null,
    outcome: "api_error",
  };
}

describe("dispatch simulation: priority and aging", () => {
  it("makes 0 priority inversions over 1,000 dispatches (a lower class dispatched while a higher one is ready and capacity free)", () => {
    const random = seeded(1818);
    const here = { owner: "o", repo: "r" };
    const capacity = 3;
    let now = Date.parse("2026-12-01T00:00:00Z");
    let next = 1;
    interface Sim {
      issue: QueueIssue;
      labelled: Priority;
      /** Ends a backoff at this time (a retry), if any. */
      backoffUntil: number | null;
      /** Blocked by an open issue outside the queue until this time. */
      blockedUntil: number | null;
      running: boolean;
      finishesAt: number;
      done: boolean;
    }
    const issues: Sim[] = [];
    let dispatches = 0;
    let inversions = 0;
    let aged = 0;
    const running = (): number => issues.filter((s) => s.running).length;
    while (dispatches < 1_000) {
      // Arrivals: a few issues a tick, of every class, some old (opened long ago, labeled now is not known: created_at counts).
      for (let k = Math.floor(random() * 4); k > 0; k -= 1) {
        const priority = pick(random, ["high", "medium", "low", null] as const);
        const createdAt = now - (random() < 0.2 ? random() * 100 * HOUR : 0);
        const sim: Sim = {
          issue: { number: next, createdAt: new Date(createdAt).toISOString(), labels: labelsFor(priority), body: "", state: "open", isPullRequest: false },
          labelled: priority ?? "medium",
          backoffUntil: random() < 0.1 ? now + random() * 6 * TICK : null,
          blockedUntil: random() < 0.1 ? now + random() * 10 * TICK : null,
          running: false,
          finishesAt: 0,
          done: false,
        };
        if (sim.blockedUntil !== null) sim.issue.body = `Depends on o/other#${next}`;
        issues.push(sim);
        next += 1;
      }
      // Sessions end.
      for (const s of issues) {
        if (s.running && s.finishesAt <= now) {
          s.running = false;
          s.done = true;
        }
      }
      const queued = issues.filter((s) => !s.done && !s.running);
      const blockerStates = new Map<string, BlockerState>();
      const leases = new Map<number, LeaseRecord | null>();
      for (const s of queued) {
        if (s.blockedUntil !== null) blockerStates.set(`o/other#${s.issue.number}`, s.blockedUntil > now ? "open" : "closed");
        leases.set(s.issue.number, s.backoffUntil !== null ? backoffLease(s.issue.number, s.backoffUntil) : null);
      }
      const plan = planQueue(
        queued.map((s) => s.issue),
        { blockerStates, leases },
        { repository: here, queuedLabel: QUEUED, priorityLabels: PRIORITIES, now: new Date(now), agingHours: AGING_HOURS },
      );
      // The oracle: which issues are really claimable now, and their class (aged once past agingHours).
      const oracleClass = (s: Sim): number => {
        const waited = now - Date.parse(s.issue.createdAt);
        return Math.max(0, RANK[s.labelled] - (waited > AGING_HOURS * HOUR ? 1 : 0));
      };
      const claimable = (s: Sim): boolean =>
        !s.done && !s.running && (s.backoffUntil === null || s.backoffUntil <= now) && (s.blockedUntil === null || s.blockedUntil <= now);
      const byNumber = new Map(issues.map((s) => [s.issue.number, s]));
      for (const entry of plan.ready) {
        if (running() >= capacity || dispatches >= 1_000) break;
        const s = byNumber.get(entry.issue);
        if (!s) throw new Error("unknown issue");
        expect(claimable(s)).toBe(true);
        // An inversion: something of a higher class is claimable, not yet dispatched, while this one goes.
        if (issues.some((o) => o !== s && claimable(o) && oracleClass(o) < oracleClass(s))) inversions += 1;
        if (entry.agedFrom !== undefined) aged += 1;
        s.running = true;
        s.finishesAt = now + (1 + Math.floor(random() * 4)) * TICK;
        dispatches += 1;
      }
      now += TICK;
    }
    expect(dispatches).toBe(1_000);
    expect(inversions).toBe(0);
    // The run exercised aging (old issues arrived), so the order checked was not only the labels'.
    expect(aged).toBeGreaterThan(0);
  });

  it("dispatches a low issue within agingHours + one tick under steady load", () => {
    const here = { owner: "o", repo: "r" };
    const capacity = 2;
    const start = Date.parse("2026-12-01T00:00:00Z");
    let now = start;
    const low: QueueIssue = { number: 1, createdAt: new Date(start).toISOString(), labels: labelsFor("low"), body: "", state: "open", isPullRequest: false };
    const queue: QueueIssue[] = [low];
    let next = 2;
    let dispatchedAt: number | null = null;
    let mediumDispatches = 0;
    // Each tick brings as many medium issues as there are agents, and every session takes one tick:
    // the agents are never idle, so without aging the low issue would wait forever.
    while (dispatchedAt === null && now - start <= (AGING_HOURS + 2) * HOUR) {
      for (let k = 0; k < capacity; k += 1) {
        queue.push({ number: next, createdAt: new Date(now).toISOString(), labels: labelsFor("medium"), body: "", state: "open", isPullRequest: false });
        next += 1;
      }
      const plan = planQueue(queue, {}, { repository: here, queuedLabel: QUEUED, priorityLabels: PRIORITIES, now: new Date(now), agingHours: AGING_HOURS });
      for (const entry of plan.ready.slice(0, capacity)) {
        if (entry.issue === low.number) dispatchedAt = now;
        else mediumDispatches += 1;
        queue.splice(
          queue.findIndex((i) => i.number === entry.issue),
          1,
        );
      }
      now += TICK;
    }
    expect(dispatchedAt).not.toBeNull();
    expect((dispatchedAt ?? Infinity) - start).toBeLessThanOrEqual(AGING_HOURS * HOUR + TICK);
    // It was steady load: the low issue was not dispatched early for want of other work.
    expect((dispatchedAt ?? 0) - start).toBeGreaterThan(AGING_HOURS * HOUR - TICK);
    expect(mediumDispatches).toBeGreaterThanOrEqual(((AGING_HOURS * HOUR) / TICK) * capacity - capacity);
  });
});

describe("dispatch simulation: dependencies", () => {
  it("makes 0 dispatches of an issue with an open or unreadable blocker over 200 random DAGs (cross-repository included), and dispatches every other issue", () => {
    const random = seeded(4242);
    const repos = [
      { owner: "octo", repo: "api" },
      { owner: "octo", repo: "web" },
      { owner: "other-org", repo: "lib" },
    ];
    let violations = 0;
    let dispatched = 0;
    let heldUnreadable = 0;
    let crossRepository = 0;
    for (let dag = 0; dag < 200; dag += 1) {
      const size = 4 + Math.floor(random() * 12);
      // Nodes in topological order: a node may be blocked only by earlier ones (a DAG).
      const nodes = Array.from({ length: size }, (_, i) => ({ ref: { ...pick(random, repos), number: i + 1 } as IssueRef, blockers: [] as IssueRef[] }));
      // Numbers are per repository in GitHub; keep them unique across repositories to read the simulation easily.
      const unreadable: IssueRef[] = [];
      for (const [i, node] of nodes.entries()) {
        for (let j = 0; j < i; j += 1) if (random() < 0.25) node.blockers.push(nodes[j]!.ref);
        // Now and then a blocker nobody can read: deleted, or in a repository without the App.
        if (random() < 0.08) {
          const ghost = { owner: "gone", repo: "private", number: 1000 + dag * 100 + i };
          node.blockers.push(ghost);
          unreadable.push(ghost);
        }
        if (node.blockers.some((b) => b.owner !== node.ref.owner || b.repo !== node.ref.repo)) crossRepository += 1;
      }
      const closed = new Set<string>();
      const running = new Map<string, number>();
      const everDispatched = new Set<string>();
      const unreadableKeys = new Set(unreadable.map(refKey));
      const state = (ref: IssueRef): BlockerState => (unreadableKeys.has(refKey(ref)) ? "unknown" : closed.has(refKey(ref)) ? "closed" : "open");
      for (let tick = 0; tick < 4 * size + 10; tick += 1) {
        for (const [key, left] of running) {
          if (left <= 1) {
            running.delete(key);
            closed.add(key);
          } else running.set(key, left - 1);
        }
        for (const repository of repos) {
          const own = nodes.filter((n) => n.ref.owner === repository.owner && n.ref.repo === repository.repo);
          const issues: QueueIssue[] = [];
          const recordedBlockers = new Map<number, RecordedBlocker[]>();
          const blockerStates = new Map<string, BlockerState>();
          for (const node of own) {
            const key = refKey(node.ref);
            if (closed.has(key) || running.has(key)) continue;
            // Each blocker is recorded through GitHub's dependencies or written in the body, at random.
            const written: string[] = [];
            const recorded: RecordedBlocker[] = [];
            for (const b of node.blockers) {
              if (!unreadableKeys.has(refKey(b)) && random() < 0.5) recorded.push({ ref: b, state: closed.has(refKey(b)) ? "closed" : "open" });
              else {
                written.push(b.owner === node.ref.owner && b.repo === node.ref.repo ? `#${b.number}` : `${b.owner}/${b.repo}#${b.number}`);
                blockerStates.set(refKey(b), state(b));
              }
            }
            recordedBlockers.set(node.ref.number, recorded);
            const body = written.length > 0 ? `Implements it.\n\nDepends on ${written.join(", ")}` : "Implements it.";
            issues.push({
              number: node.ref.number,
              createdAt: new Date(Date.UTC(2026, 0, 1, 0, node.ref.number)).toISOString(),
              labels: [QUEUED],
              body,
              state: "open",
              isPullRequest: false,
            });
          }
          const plan = planQueue(
            issues,
            { recordedBlockers, blockerStates },
            { repository, queuedLabel: QUEUED, priorityLabels: PRIORITIES, now: new Date(Date.UTC(2026, 0, 2)) },
          );
          for (const entry of plan.ready) {
            const node = own.find((n) => n.ref.number === entry.issue)!;
            if (node.blockers.some((b) => state(b) !== "closed")) violations += 1;
            dispatched += 1;
            everDispatched.add(refKey(node.ref));
            running.set(refKey(node.ref), 1 + Math.floor(random() * 3));
          }
          for (const entry of plan.waiting) {
            if (entry.reason.kind === "blocked" && (entry.reason.unreadable?.length ?? 0) > 0) heldUnreadable += 1;
          }
        }
      }
      // Liveness: every issue whose blockers can all be closed got dispatched; the ones behind an unreadable blocker never did.
      const stuck = new Set<string>();
      for (const node of nodes) {
        if (node.blockers.some((b) => unreadableKeys.has(refKey(b)) || stuck.has(refKey(b)))) stuck.add(refKey(node.ref));
      }
      for (const node of nodes) expect(everDispatched.has(refKey(node.ref))).toBe(!stuck.has(refKey(node.ref)));
    }
    expect(violations).toBe(0);
    expect(dispatched).toBeGreaterThan(1_000);
    expect(heldUnreadable).toBeGreaterThan(0);
    expect(crossRepository).toBeGreaterThan(200);
  });
});
