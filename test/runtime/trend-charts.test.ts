import { describe, expect, it } from "vitest";
import type { DayRollup } from "../../src/core/trend-rollup.js";
import { trendCharts } from "../../src/runtime/trend-charts.js";

const day = (date: string, done: number): DayRollup => ({
  date,
  claims: done,
  sessions: done,
  outcomes: { success: done },
  done,
  failed: 0,
  costUsd: done * 0.5,
  sessionSeconds: [60, 120],
});

describe("trendCharts: the status page's charts, read in the background", () => {
  it("serves the last rendering without waiting, reads at most once per refresh, and renders the store's days", async () => {
    let t = Date.parse("2026-12-02T12:00:00Z");
    const reads: string[] = [];
    let days: DayRollup[] = [];
    let settle: () => void = () => undefined;
    const store = {
      days: (since: Date): Promise<DayRollup[]> => {
        reads.push(since.toISOString());
        return new Promise((resolve) => {
          settle = () => resolve(days);
        });
      },
    };
    const charts = trendCharts(store, { days: 7, refreshMs: 60_000, now: () => new Date(t) });

    // Nothing read yet: null, and one read starts (the last 7 days).
    expect(charts()).toBeNull();
    expect(reads).toEqual(["2026-11-25T12:00:00.000Z"]);
    expect(charts()).toBeNull(); // still reading: no second read
    expect(reads).toHaveLength(1);
    days = [day("2026-12-01", 3), day("2026-12-02", 1)];
    settle();
    await new Promise((resolve) => setImmediate(resolve));
    const html = charts();
    expect(html).toContain("<svg");
    expect(html).toContain("Issues done by day");
    expect(reads).toHaveLength(1); // within the refresh: served from the last read

    // After the refresh interval: the old rendering is served while the next read runs.
    t += 60_000;
    expect(charts()).toBe(html);
    expect(reads).toHaveLength(2);
    days = [];
    settle();
    await new Promise((resolve) => setImmediate(resolve));
    expect(charts()).toBeNull(); // no day has data any more
  });

  it("reports a failed read and keeps serving what it had", async () => {
    const errors: unknown[] = [];
    const charts = trendCharts({ days: () => Promise.reject(new Error("disk gone")) }, { onError: (e) => errors.push(e), refreshMs: 0 });
    expect(charts()).toBeNull();
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toEqual([new Error("disk gone")]);
  });
});
