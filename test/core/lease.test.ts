import { describe, expect, it } from "vitest";
import { decideClaim, isFree, parseLease, releaseLease, renewLease, serializeLease, type LeaseRecord } from "../../src/core/lease.js";

const me = { agent: "agent-1", host: "host-a", runId: "run-1" };
const other = { agent: "agent-2", host: "host-b", runId: "run-2" };
const t0 = new Date("2026-11-26T10:00:00.000Z");
const term = 15 * 60_000;

function claimed(owner = me): LeaseRecord {
  const decision = decideClaim(null, { issue: 7, owner, now: t0, termMs: term, sessionId: "s-1" });
  if (decision.kind !== "claim") throw new Error("expected a claim");
  return decision.record;
}

describe("lease transitions", () => {
  it("claims a fresh issue at epoch 1, attempt 1, for one term", () => {
    const record = claimed();
    expect(record).toMatchObject({ issue: 7, state: "claimed", owner: me, epoch: 1, attempt: 1, notBefore: null, sessionId: "s-1" });
    expect(record.leaseUntil).toBe("2026-11-26T10:15:00.000Z");
  });

  it("refuses to claim what somebody holds, saying who", () => {
    const decision = decideClaim(claimed(other), { issue: 7, owner: me, now: t0, termMs: term, sessionId: null });
    expect(decision.kind).toBe("held");
    if (decision.kind === "held") expect(decision.reason).toContain("agent-2@host-b");
  });

  it("claims a released lease with the next epoch and attempt", () => {
    const released = releaseLease(claimed(other), other, t0, { outcome: "success", sessionId: "s-1" });
    expect(released?.state).toBe("released");
    const decision = decideClaim(released, { issue: 7, owner: me, now: t0, termMs: term, sessionId: "s-2" });
    expect(decision.kind).toBe("claim");
    if (decision.kind === "claim") expect(decision.record).toMatchObject({ epoch: 2, attempt: 2, owner: me });
  });

  it("waits for a backoff", () => {
    const backingOff: LeaseRecord = { ...claimed(), state: "reclaimed", notBefore: "2026-11-26T10:05:00.000Z" };
    expect(isFree(backingOff, t0)).toBe(false);
    expect(isFree(backingOff, new Date("2026-11-26T10:05:00.000Z"))).toBe(true);
    expect(decideClaim(backingOff, { issue: 7, owner: me, now: t0, termMs: term, sessionId: null }).kind).toBe("held");
  });

  it("renews and releases only its own lease", () => {
    const mine = claimed();
    const later = new Date(t0.getTime() + 60_000);
    expect(renewLease(mine, me, later, term)?.leaseUntil).toBe("2026-11-26T10:16:00.000Z");
    expect(renewLease(mine, other, later, term)).toBeNull();
    expect(releaseLease(mine, other, later, { outcome: "success", sessionId: null })).toBeNull();
    const released = releaseLease(mine, me, later, { outcome: "api_error", sessionId: null });
    expect(released).toMatchObject({ state: "released", outcome: "api_error", sessionId: "s-1" });
    expect(released && renewLease(released, me, later, term)).toBeNull();
  });

  it("round-trips through the commit message and refuses garbage", () => {
    const record = claimed();
    expect(parseLease(serializeLease(record))).toEqual({ ...record, outcome: null });
    expect(() => parseLease("not json")).toThrow(/EHARNESS_LEASE_CORRUPT|not a lease record/);
    expect(() => parseLease(JSON.stringify({ issue: 7 }))).toThrow(/malformed/);
  });
});
