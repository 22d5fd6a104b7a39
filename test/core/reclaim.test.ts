import { describe, expect, it } from "vitest";
import type { LeaseRecord } from "../../src/core/lease.js";
import { backoffMs, decideReclaim, defaultReclaimPolicy as policy } from "../../src/core/reclaim.js";

const head: LeaseRecord = {
  issue: 7,
  state: "claimed",
  owner: { agent: "agent-1", host: "h", runId: "r" },
  epoch: 1,
  attempt: 1,
  leaseUntil: "2026-11-26T10:15:00.000Z",
  notBefore: null,
  sessionId: "s",
  outcome: null,
};
const at = (iso: string) => new Date(iso);

describe("decideReclaim", () => {
  it("keeps a lease within its term plus grace", () => {
    expect(decideReclaim(head, at("2026-11-26T10:16:59.000Z"), policy, () => 0.5).kind).toBe("keep");
    expect(decideReclaim(head, at("2026-11-26T10:17:00.000Z"), policy, () => 0.5).kind).toBe("keep");
  });

  it("reclaims an abandoned lease and requeues it with a backoff", () => {
    // The retry schedule (issue #18): 2 minutes before the first retry, -20 % at random() = 0.
    const decision = decideReclaim(head, at("2026-11-26T10:17:00.001Z"), policy, () => 0);
    expect(decision).toMatchObject({
      kind: "reclaim",
      requeue: true,
      backoffMs: 96_000,
      record: { state: "reclaimed", epoch: 1, attempt: 1, owner: head.owner, notBefore: "2026-11-26T10:18:36.001Z", outcome: "stalled" },
      retry: { kind: "retry", nextAttempt: 2, failure: { kind: "transient" } },
    });
  });

  it("gives up after the last attempt", () => {
    const decision = decideReclaim({ ...head, attempt: 3 }, at("2026-11-26T11:00:00.000Z"), policy, () => 0.5);
    expect(decision).toMatchObject({ kind: "reclaim", requeue: false, backoffMs: 0, record: { state: "reclaimed", notBefore: "2026-11-26T11:00:00.000Z" } });
  });

  it("leaves released and already reclaimed leases alone", () => {
    expect(decideReclaim({ ...head, state: "released" }, at("2027-01-01T00:00:00.000Z"), policy, () => 0.5).kind).toBe("keep");
    expect(decideReclaim({ ...head, state: "reclaimed" }, at("2027-01-01T00:00:00.000Z"), policy, () => 0.5).kind).toBe("keep");
  });
});

describe("backoffMs", () => {
  // Issue #18 replaced the doubling "equal jitter" schedule with the retry schedule: 2, 8, 32 minutes ±20 %.
  it("is the retry schedule: 2, 8, 32 minutes, ±20 %, capped", () => {
    expect(backoffMs(1, policy, () => 0)).toBe(96_000);
    expect(backoffMs(1, policy, () => 1)).toBe(144_000);
    expect(backoffMs(2, policy, () => 0.5)).toBe(8 * 60_000);
    expect(backoffMs(3, policy, () => 0.5)).toBe(32 * 60_000);
    expect(backoffMs(30, policy, () => 0.5)).toBe(policy.backoffMaxMs);
  });
});
