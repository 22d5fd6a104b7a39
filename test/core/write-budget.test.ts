import { describe, expect, it } from "vitest";
import { WriteBudget, WriteBudgets } from "../../src/core/write-budget.js";

function clock() {
  let t = 1_000_000;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
    advance: (ms: number) => {
      t += ms;
    },
    slept,
  };
}

describe("WriteBudget", () => {
  it("lets essential writes through at once under the limits, then waits for the minute window", async () => {
    const c = clock();
    // Every write in the same instant: the second's pacing lifted, the minute window alone.
    const budget = new WriteBudget({ perSecond: Number.POSITIVE_INFINITY, perMinute: 80, perHour: 500, now: c.now, sleep: c.sleep });
    for (let i = 0; i < 80; i += 1) await budget.essential();
    expect(c.slept).toEqual([]);
    await budget.essential();
    expect(c.slept).toHaveLength(1);
    expect(c.slept[0]).toBeGreaterThan(59_000);
    expect(budget.stats.essential).toBe(81);
  });

  it("lets a burst of 10 writes go at once, then paces to 10 in any second", async () => {
    const c = clock();
    const budget = new WriteBudget({ now: c.now, sleep: c.sleep });
    const start = c.now();
    for (let i = 0; i < 10; i += 1) await budget.essential();
    expect(c.slept).toEqual([]); // a claim's or a publication's writes: no wait at all
    await budget.essential();
    expect(c.slept).toEqual([1_001]); // the 11th waits for the first to leave the second
    for (let i = 0; i < 9; i += 1) await budget.essential();
    expect(c.now() - start).toBe(1_001); // writes 11–20 fit in the next second
    await budget.essential();
    expect(c.now() - start).toBe(2_002);
    // A cosmetic write is dropped while the second is full, not delayed.
    for (let i = 0; i < 9; i += 1) await budget.essential();
    expect(budget.tryCosmetic()).toBe(false);
    c.advance(1_001);
    expect(budget.tryCosmetic()).toBe(true);
    expect(budget.stats.essential).toBe(30);
  });

  it("keeps the hourly limit of 500", async () => {
    const c = clock();
    const budget = new WriteBudget({ now: c.now, sleep: c.sleep });
    for (let i = 0; i < 500; i += 1) {
      await budget.essential();
      c.advance(1_000); // slow enough for the minute window, 500 in about 8 minutes
    }
    const before = c.now();
    await budget.essential();
    // The 501st waits until the first write of the hour leaves the window.
    expect(c.now() - before).toBeGreaterThan(50 * 60_000);
  });

  it("drops cosmetic writes when only the reserve is left, and still admits essential ones", async () => {
    const c = clock();
    const budget = new WriteBudget({ perSecond: Number.POSITIVE_INFINITY, perMinute: 80, perHour: 500, reserve: 0.25, now: c.now, sleep: c.sleep });
    let admitted = 0;
    for (let i = 0; i < 100; i += 1) if (budget.tryCosmetic()) admitted += 1;
    expect(admitted).toBe(60); // 75% of 80
    expect(budget.stats.dropped).toBe(40);
    for (let i = 0; i < 20; i += 1) await budget.essential();
    expect(c.slept).toEqual([]); // the reserve was there for them
    c.advance(60_001);
    expect(budget.tryCosmetic()).toBe(true);
  });

  it("hands out one budget per installation", () => {
    const budgets = new WriteBudgets();
    expect(budgets.for("installation:1")).toBe(budgets.for("installation:1"));
    expect(budgets.for("installation:1")).not.toBe(budgets.for("installation:2"));
  });

  it("overrides the limits of the budgets it hands out until restored", async () => {
    const c = clock();
    const budgets = new WriteBudgets({ perMinute: 2, perHour: 10, now: c.now, sleep: c.sleep });
    const usual = budgets.for("default");
    const restore = budgets.override({
      perSecond: Number.POSITIVE_INFINITY,
      perMinute: Number.POSITIVE_INFINITY,
      perHour: Number.POSITIVE_INFINITY,
      now: c.now,
      sleep: c.sleep,
    });
    const lifted = budgets.for("default");
    expect(lifted).not.toBe(usual);
    for (let i = 0; i < 100; i += 1) await lifted.essential();
    expect(c.slept).toEqual([]); // 100 writes within the same millisecond, none paced
    restore();
    expect(budgets.for("default")).toBe(usual);
    await usual.essential();
    await usual.essential();
    await usual.essential(); // the third of the minute waits, as before the override
    expect(c.slept).toHaveLength(1);
    expect(budgets.totals().waits).toBe(1); // the metrics count both budgets' waits
  });
});
