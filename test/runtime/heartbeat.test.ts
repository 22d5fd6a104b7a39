import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../src/adapters/logger.js";
import { Heartbeat, type LeaseStatus } from "../../src/runtime/heartbeat.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function setup(renewResults: (boolean | Error)[], checks: LeaseStatus[] = []) {
  const calls = { beats: 0, renewals: 0, fenced: 0, checks: 0, interrupted: 0 };
  const heartbeat = new Heartbeat({
    livenessMs: 30_000,
    renewMs: 300_000,
    now: () => Date.now(),
    beat: async () => {
      calls.beats += 1;
    },
    check: async () => {
      calls.checks += 1;
      return checks.shift() ?? "ours";
    },
    renew: async () => {
      calls.renewals += 1;
      const next = renewResults.shift() ?? true;
      if (next instanceof Error) throw next;
      return next ? "ours" : "fenced";
    },
    onLost: (status) => {
      if (status === "fenced") calls.fenced += 1;
      else calls.interrupted += 1;
    },
    log: silentLogger(),
  });
  return { heartbeat, calls };
}

describe("Heartbeat", () => {
  it("beats every 30 s and renews the lease only every 5 minutes", async () => {
    const { heartbeat, calls } = setup([]);
    heartbeat.start();
    await vi.advanceTimersByTimeAsync(15 * 60_000);
    await heartbeat.stop();
    expect(calls.beats).toBe(30);
    expect(calls.renewals).toBe(3);
    expect(calls.checks).toBe(27); // every other beat reads the head (conditional, free when unchanged)
    expect(calls.fenced).toBe(0);
  });

  it("retries a failed renewal on the next beat instead of waiting a whole period", async () => {
    const { heartbeat, calls } = setup([new Error("502"), true]);
    heartbeat.start();
    await vi.advanceTimersByTimeAsync(330_000);
    expect(calls.renewals).toBe(2);
    await heartbeat.stop();
  });

  it("reports fencing once and stops renewing", async () => {
    const { heartbeat, calls } = setup([false]);
    heartbeat.start();
    await vi.advanceTimersByTimeAsync(20 * 60_000);
    await heartbeat.stop();
    expect(calls.fenced).toBe(1);
    expect(calls.renewals).toBe(1);
  });

  it("does nothing after stop", async () => {
    const { heartbeat, calls } = setup([]);
    heartbeat.start();
    await heartbeat.stop();
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(calls.beats).toBe(0);
  });

  it("notices an interrupt request on the next beat, long before a renewal is due", async () => {
    const { heartbeat, calls } = setup([], ["ours", "interrupted"]);
    heartbeat.start();
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    await heartbeat.stop();
    expect(calls.interrupted).toBe(1);
    expect(calls.checks).toBe(2);
    expect(calls.renewals).toBe(0);
  });
});
