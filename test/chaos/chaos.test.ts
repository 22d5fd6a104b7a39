import { describe, expect, it } from "vitest";
import { runChaos } from "./chaos-kit.js";

/**
 * The small chaos run of `npm test` (`npm run chaos -- --trials N` is the big
 * one): a worker SIGKILLed mid-session (its CLI and Bash tool orphaned) and one
 * killed between its push and its pull request; the reclaimer and a fresh
 * worker finish both, and nothing is lost, duplicated or left behind.
 */
describe("chaos", () => {
  it("recovers from SIGKILLed workers with nothing lost, duplicated or left running", async () => {
    const lines: string[] = [];
    const { summary, results } = await runChaos({ trials: 2, seed: 1, points: ["mid-session", "push-before-pr"], out: (l) => lines.push(l) });
    expect(
      results.map((r) => r.problems),
      lines.join("\n"),
    ).toEqual([[], []]);
    expect(results.every((r) => r.killed && r.pushes > 0)).toBe(true);
    expect(summary).toMatchObject({ trials: 2, recovered: 2, lostCommits: 0, duplicatePRs: 0, duplicateComments: 0, orphans: 0 });
  }, 600_000);
});
