import { describe, expect, it } from "vitest";
import { phaseOf, runChaos } from "./chaos-kit.js";

/**
 * The small chaos run of `npm test` (`npm run chaos -- --trials N` is the big
 * one): a worker SIGKILLed mid-session (its CLI and Bash tool orphaned) and one
 * killed between its push and its pull request; the reclaimer and a fresh
 * worker finish both, and nothing is lost, duplicated or left behind.
 */
describe("chaos", () => {
  it("reads the phase at the kill from the victim's lifecycle events, for its issue only", () => {
    const i = "o/r#1";
    expect(phaseOf([], i)).toBe("claim");
    expect(phaseOf([{ type: "claimed", issue: i }], i)).toBe("claim");
    expect(
      phaseOf(
        [
          { type: "claimed", issue: i },
          { type: "session_started", issue: i },
          { type: "progress", issue: i },
        ],
        i,
      ),
    ).toBe("session");
    expect(
      phaseOf(
        [
          { type: "session_started", issue: i },
          { type: "session_ended", issue: i },
          { type: "published", issue: "o/r#2" },
        ],
        i,
      ),
    ).toBe("publishing");
    expect(
      phaseOf(
        [
          { type: "session_ended", issue: i },
          { type: "published", issue: i },
        ],
        i,
      ),
    ).toBe("published");
  });

  it("recovers from SIGKILLed workers with nothing lost, duplicated or left running", async () => {
    const lines: string[] = [];
    const { summary, results } = await runChaos({ trials: 2, seed: 1, points: ["mid-session", "push-before-pr"], out: (l) => lines.push(l) });
    expect(
      results.map((r) => r.problems),
      lines.join("\n"),
    ).toEqual([[], []]);
    expect(results.every((r) => r.killed && r.pushes > 0)).toBe(true);
    expect(summary).toMatchObject({ trials: 2, recovered: 2, lostCommits: 0, duplicatePRs: 0, duplicateComments: 0, orphans: 0 });
    // Each configured point was hit where the victim's lifecycle events say it was.
    expect(results.map((r) => r.phaseAtKill)).toEqual(results.map((r) => (r.point === "mid-session" ? "session" : "publishing")));
    // Faults on the pushes (10%) really happened, and were survived.
    expect(summary.gitPushFaults, lines.join("\n")).toBeGreaterThan(0);
    expect({ hit: [...summary.pointsHit].sort(), missed: summary.pointsMissed }).toEqual({ hit: ["mid-session", "push-before-pr"], missed: [] });
  }, 600_000);
});
