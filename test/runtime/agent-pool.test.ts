import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/adapters/logger.js";
import { AgentPool } from "../../src/runtime/agent-pool.js";

describe("the agent pool's queue", () => {
  it("starts waiting jobs by the queue's rule across repositories: class, then the longer wait, then arrival", async () => {
    const pool = new AgentPool({ agents: 1, log: silentLogger(), now: () => new Date("2026-12-03T12:00:00Z") });
    const started: string[] = [];
    let finishFirst!: () => void;
    const first = new Promise<void>((resolve) => (finishFirst = resolve));
    const job = (name: string) => async (): Promise<void> => {
      started.push(name);
      if (name === "busy") await first;
    };
    pool.submit("busy", job("busy"));
    // The one agent is busy: these wait, submitted low first, the way a repository-by-repository walk hands them over.
    pool.submit("a#1", job("a#1 low"), { priority: "low", waitingSince: "2026-12-01T00:00:00Z", number: 1 });
    pool.submit("a#2", job("a#2 medium, newer"), { priority: "medium", waitingSince: "2026-12-03T00:00:00Z", number: 2 });
    pool.submit("hook", job("webhook (medium, now)"));
    pool.submit("b#5", job("b#5 high"), { priority: "high", waitingSince: "2026-12-03T11:00:00Z", number: 5 });
    pool.submit("b#6", job("b#6 medium, older"), { priority: "medium", waitingSince: "2026-12-02T00:00:00Z", number: 6 });
    pool.submit("c#7", job("c#7 high, same wait"), { priority: "high", waitingSince: "2026-12-03T11:00:00Z", number: 7 });
    expect(pool.waiting).toBe(6);
    finishFirst();
    await pool.idle();
    expect(started).toEqual(["busy", "b#5 high", "c#7 high, same wait", "b#6 medium, older", "a#2 medium, newer", "webhook (medium, now)", "a#1 low"]);
  });
});
