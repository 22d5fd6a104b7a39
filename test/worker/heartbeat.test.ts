import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../src/adapters/logger.js";
import { Heartbeat } from "../../src/worker/heartbeat.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function setup(renewResults: (boolean | Error)[]) {
  const calls = { beats: 0, renewals: 0, fenced: 0 };
  const heartbeat = new Heartbeat({
    livenessMs: 30_000,
    renewMs: 300_000,
    now: () => Date.now(),
    beat: async () => {
      calls.beats += 1;
    },
    renew: async () => {
      calls.renewals += 1;
      const next = renewResults.shift() ?? true;
      if (next instanceof Error) throw next;
      return next;
    },
    onFenced: () => {
      calls.fenced += 1;
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
});
