import { describe, expect, it } from "vitest";
import {
  decideClaim,
  describeLease,
  interruptLease,
  isExpired,
  isFree,
  parseLease,
  reclaimLease,
  releaseLease,
  renewLease,
  serializeLease,
  type LeaseRecord,
} from "../../src/core/lease.js";

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

  it("defers a claim without using its attempt, keeping a /retry request, until notBefore", () => {
    const retried: LeaseRecord = { ...claimed(), state: "released", retry: { mode: "fresh", by: "ada" } };
    const decision = decideClaim(retried, { issue: 7, owner: me, now: t0, termMs: term, sessionId: "s-2" });
    if (decision.kind !== "claim") throw new Error("expected a claim");
    expect(decision.record).toMatchObject({ epoch: 2, attempt: 2, retry: { mode: "fresh", by: "ada" } });
    const until = "2026-11-27T00:00:00.000Z";
    const deferred = releaseLease(decision.record, me, t0, { outcome: "budget_wait", sessionId: "s-1", notBefore: until, defer: true });
    expect(deferred).toMatchObject({ state: "released", epoch: 2, attempt: 1, notBefore: until, sessionId: "s-1", retry: { mode: "fresh", by: "ada" } });
    // Not before midnight; then the claim is attempt 2 again, the retry request still there.
    expect(decideClaim(deferred, { issue: 7, owner: me, now: t0, termMs: term, sessionId: null }).kind).toBe("held");
    const next = decideClaim(deferred, { issue: 7, owner: me, now: new Date(until), termMs: term, sessionId: "s-3" });
    expect(next.kind === "claim" && next.record).toMatchObject({ epoch: 3, attempt: 2, retry: { mode: "fresh" } });
    // A plain release uses the attempt and clears the request.
    expect(releaseLease(decision.record, me, t0, { outcome: "success", sessionId: null })).toMatchObject({ attempt: 2, retry: null });
  });

  it("round-trips through the commit message and refuses garbage", () => {
    const record = claimed();
    expect(parseLease(serializeLease(record))).toEqual({ ...record, outcome: null, retry: null });
    expect(() => parseLease("not json")).toThrow(/EHARNESS_LEASE_CORRUPT|not a lease record/);
    expect(() => parseLease(JSON.stringify({ issue: 7 }))).toThrow(/malformed/);
  });
});

describe("reclaim and interrupt", () => {
  const expiry = new Date(t0.getTime() + term);

  it("reclaims only an expired claim, fencing its holder and backing off", () => {
    const mine = claimed();
    expect(isExpired(mine, new Date(expiry.getTime() - 1))).toBe(false);
    expect(reclaimLease(mine, new Date(expiry.getTime() - 1), { backoffMs: 60_000 })).toBeNull();
    const reclaimed = reclaimLease(mine, expiry, { backoffMs: 60_000 });
    expect(reclaimed).toMatchObject({ state: "reclaimed", owner: me, epoch: 1, attempt: 1, notBefore: "2026-11-26T10:16:00.000Z", outcome: "stalled" });
    if (!reclaimed) throw new Error("expected a record");
    // The fenced holder can neither renew nor release; nobody claims during the backoff; then the next claim gets epoch 2.
    expect(renewLease(reclaimed, me, expiry, term)).toBeNull();
    expect(releaseLease(reclaimed, me, expiry, { outcome: "success", sessionId: null })).toBeNull();
    expect(reclaimLease(reclaimed, expiry, { backoffMs: 0 })).toBeNull();
    expect(decideClaim(reclaimed, { issue: 7, owner: other, now: expiry, termMs: term, sessionId: null })).toMatchObject({ kind: "held" });
    const later = new Date(expiry.getTime() + 60_000);
    expect(decideClaim(reclaimed, { issue: 7, owner: other, now: later, termMs: term, sessionId: null })).toMatchObject({
      kind: "claim",
      record: { epoch: 2, attempt: 2, owner: other },
    });
    expect(serializeLease(parseLease(serializeLease(reclaimed)))).toBe(serializeLease(reclaimed));
  });

  it("interrupts only a claim; the holder is fenced from then on", () => {
    const interrupted = interruptLease(claimed(), t0);
    expect(interrupted).toMatchObject({ state: "interrupted", owner: me, outcome: "interrupted" });
    if (!interrupted) throw new Error("expected a record");
    expect(interruptLease(interrupted, t0)).toBeNull();
    expect(renewLease(interrupted, me, t0, term)).toBeNull();
    expect(isExpired(interrupted, new Date(t0.getTime() + 10 * term))).toBe(false);
  });

  it("describes a lease for a person", () => {
    expect(describeLease(claimed(other), t0)).toBe("held by agent-2@host-b (run run-2) until 2026-11-26T10:15:00.000Z");
    const backingOff: LeaseRecord = { ...claimed(), state: "reclaimed", notBefore: "2026-11-26T10:05:00.000Z" };
    expect(describeLease(backingOff, t0)).toBe("reclaimed, backing off until 2026-11-26T10:05:00.000Z");
    expect(describeLease({ ...claimed(), state: "released" }, t0)).toBe("released by agent-1@host-a (run run-1), free to claim");
  });
});

describe("retry requests", () => {
  it("marks a free lease for resume or fresh, lifts the backoff, and the next claim carries it until release", async () => {
    const { requestRetry } = await import("../../src/core/lease.js");
    const released = releaseLease(claimed(), me, t0, { outcome: "max_turns", sessionId: "s-1" });
    if (!released) throw new Error("expected a release");
    const backingOff = { ...released, notBefore: "2026-11-26T11:00:00.000Z" };
    const asked = requestRetry(backingOff, "resume", "ada", t0);
    expect(asked).toMatchObject({ state: "released", notBefore: t0.toISOString(), retry: { mode: "resume", by: "ada" }, sessionId: "s-1" });
    const next = decideClaim(asked, { issue: 7, owner: other, now: t0, termMs: term, sessionId: "s-1" });
    expect(next.kind).toBe("claim");
    if (next.kind !== "claim") return;
    expect(next.record.retry).toEqual({ mode: "resume", by: "ada" });
    expect(parseLease(serializeLease(next.record)).retry).toEqual({ mode: "resume", by: "ada" });
    expect(releaseLease(next.record, other, t0, { outcome: "success", sessionId: null })?.retry).toBeNull();
  });

  it("refuses a retry while the lease is held, and a resume without a session", async () => {
    const { requestRetry } = await import("../../src/core/lease.js");
    expect(requestRetry(claimed(), "fresh", "ada", t0)).toBeNull();
    const released = releaseLease({ ...claimed(), sessionId: null }, me, t0, { outcome: "error", sessionId: null });
    expect(released && requestRetry(released, "resume", "ada", t0)).toBeNull();
    expect(released && requestRetry(released, "fresh", "ada", t0)?.retry).toEqual({ mode: "fresh", by: "ada" });
  });
});
