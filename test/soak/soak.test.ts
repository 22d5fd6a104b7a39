import { describe, expect, it } from "vitest";
import { seeded } from "../chaos/chaos-kit.js";
import type { LeaseEntry } from "../chaos/worker-kit.js";
import type { FaultKind } from "../../src/offline/fake-github/index.js";
import {
  defaultHeapRule,
  defaultMemoryRule,
  fitSlope,
  formatReport,
  judgeMemory,
  nothingWrong,
  overlappingClaims,
  runSoak,
  SOAK_DEFAULTS,
  soakVerdict,
  type RssSample,
  type RssSeries,
  type SoakFacts,
} from "./soak-kit.js";

const T0 = 1_700_000_000_000;

/**
 * `minutes` of samples every `everyS` seconds: `mb(tMinutes)` plus the saw of
 * a Node heap (measured on the harness processes: about 40 MB, a major
 * collection every minute and a half) and seeded noise.
 */
function series(name: string, minutes: number, mb: (tMin: number) => number, options: { everyS?: number; seed?: number; startedAt?: number } = {}): RssSeries {
  const every = options.everyS ?? 2;
  const random = seeded(options.seed ?? 1);
  const startedAt = options.startedAt ?? T0;
  const phase = random() * 90;
  const samples: RssSample[] = [];
  for (let s = 0; s <= minutes * 60; s += every) {
    const saw = (((s + phase) % 90) / 90) * 40;
    samples.push({ t: startedAt + s * 1000, mb: mb(s / 60) + saw + (random() - 0.5) * 4 });
  }
  return { name, pid: 1, startedAt, endedAt: null, killed: false, samples, heap: [] };
}

const clean: SoakFacts = { ...nothingWrong(10), memoryFlat: true };

describe("soak: the slope fit", () => {
  it("fits a line exactly, in MB per minute", () => {
    const samples = Array.from({ length: 10 }, (_, i) => ({ t: T0 + i * 30_000, mb: 100 + 3 * (i / 2) }));
    const fit = fitSlope(samples);
    expect(fit?.slopeMBPerMin).toBeCloseTo(3, 9);
    expect(fit?.interceptMB).toBeCloseTo(100, 9);
    expect(fitSlope([{ t: T0, mb: 1 }])).toBeNull();
    expect(
      fitSlope([
        { t: T0, mb: 1 },
        { t: T0, mb: 2 },
      ]),
    ).toBeNull();
    expect(fitSlope(samples.map((s) => ({ ...s, mb: 42 })))?.slopeMBPerMin).toBe(0);
  });

  it("judges a flat series with the heap's saw and noise as flat, and a leaking one as growing", () => {
    const rule = defaultMemoryRule(5);
    for (const seed of [2, 3, 4, 5, 6]) {
      const flat = series("app", 5, () => 110, { seed });
      const leak = series("worker-1", 5, (t) => 100 + 5 * t, { seed: seed + 10 });
      const verdict = judgeMemory([flat, leak], rule, T0 + 5 * 60_000);
      const [app, worker] = verdict.series;
      expect(app?.flat).toBe(true);
      expect(app?.windowS).toBeGreaterThanOrEqual(180);
      expect(Math.abs(app?.slopeMBPerMin ?? 99)).toBeLessThan(rule.thresholdMBPerMin);
      expect(worker?.flat).toBe(false);
      expect(worker?.slopeMBPerMin).toBeGreaterThan(3);
      expect(verdict.flat).toBe(false);
      expect(soakVerdict({ ...clean, memoryFlat: verdict.flat })).toEqual({ pass: false, failures: ["memory not flat after warm-up"] });
    }
  });

  it("leaves the warm-up out: fast growth in the first minute, then flat, is flat", () => {
    const warming = series("worker-1", 5, (t) => (t < 1 ? 40 + 80 * t : 120), { seed: 4 });
    const verdict = judgeMemory([warming], defaultMemoryRule(5), T0 + 5 * 60_000);
    expect(verdict.series[0]?.flat).toBe(true);
    expect(verdict.flat).toBe(true);
    // The same series fitted from its start grows.
    expect(judgeMemory([warming], { ...defaultMemoryRule(5), warmupMs: 0 }, T0 + 5 * 60_000).flat).toBe(false);
  });

  it("reports the slope of a short window without judging it, and fits nothing after the arrivals", () => {
    const rule = defaultMemoryRule(2);
    const short = judgeMemory([series("worker-1", 2, (t) => 100 + 30 * t)], rule, T0 + 120_000);
    expect(short.series[0]?.slopeMBPerMin).toBeGreaterThan(0);
    expect(short.series[0]?.flat).toBeNull();
    expect(short.flat).toBeNull();
    expect(soakVerdict({ ...clean, memoryFlat: short.flat }).pass).toBe(true);
    // A restarted worker with too few samples after its own warm-up: no slope at all.
    const restarted = series("worker-2.2", 1.2, (t) => 100 + 30 * t, { startedAt: T0 + 60_000 });
    expect(judgeMemory([restarted], rule, T0 + 120_000).series[0]).toMatchObject({ name: "worker-2.2", flat: null, slopeMBPerMin: null });
    // Growth only after `until` (the drain) is not fitted.
    const drain = series("app", 8, (t) => (t < 5 ? 110 : 110 + 40 * (t - 5)), { seed: 5 });
    expect(judgeMemory([drain], defaultMemoryRule(5), T0 + 5 * 60_000).flat).toBe(true);
  });
});

describe("soak: leases and the verdict", () => {
  const owner = (agent: string): LeaseEntry["owner"] => ({ agent, host: "h", runId: `${agent}-run-0000` });
  const entry = (state: string, epoch: number, agent: string): LeaseEntry => ({ state, epoch, attempt: epoch, owner: owner(agent) });

  it("accepts claims from free states and renewals by the holder", () => {
    const history = [
      entry("claimed", 1, "a"),
      entry("claimed", 1, "a"),
      entry("reclaimed", 1, "a"),
      entry("claimed", 2, "b"),
      entry("interrupted", 2, "b"),
      entry("released", 2, "b"),
      entry("claimed", 3, "c"),
      entry("released", 3, "c"),
    ];
    expect(overlappingClaims(history)).toEqual([]);
  });

  it("finds a claim on top of somebody else's claim, and a skipped epoch", () => {
    expect(overlappingClaims([entry("claimed", 1, "a"), entry("claimed", 2, "b")])).toHaveLength(1);
    expect(overlappingClaims([entry("claimed", 1, "a"), entry("released", 1, "a"), entry("claimed", 3, "b")])).toEqual(["claim with epoch 3 after epoch 1"]);
  });

  it("fails on anything lost or duplicated, and passes when memory was not judged", () => {
    expect(soakVerdict(clean)).toEqual({ pass: true, failures: [] });
    expect(soakVerdict({ ...clean, memoryFlat: null }).pass).toBe(true);
    expect(soakVerdict({ ...clean, lost: 1, duplicatePRs: 2 })).toEqual({
      pass: false,
      failures: ["1 issues lost (not finished)", "2 duplicate pull requests"],
    });
    expect(soakVerdict({ ...clean, issues: 0 }).failures).toEqual(["no issue arrived"]);
    expect(soakVerdict({ ...clean, unmet: ["no worker was killed", "no git push fault was injected"] }).failures).toEqual([
      "configured but did not happen: no worker was killed",
      "configured but did not happen: no git push fault was injected",
    ]);
  });
});

describe("soak: a short real run", () => {
  it("loses and duplicates nothing while issues arrive, faults are injected and a worker is SIGKILLed", async () => {
    const lines: string[] = [];
    const options = {
      ...SOAK_DEFAULTS,
      minutes: 0.7,
      seed: 11,
      workers: 2,
      agents: 1,
      appAgents: 1,
      rate: 7,
      faultRate: 0.05,
      // Secondary rate limits included: the app's Octokit retries them (it did not: the soak found that).
      faultKinds: ["5xx", "429", "403-secondary"] as FaultKind[],
      // Faults on the git pushes too (claims, renewals, releases, branches, session saves).
      gitFaults: true,
      modelErrorRate: 0.2,
      killEverySeconds: 22,
      drainMinutes: 1.5,
      // 42 s of arrivals is shorter than the warm-up: memory is reported, not judged.
      memory: defaultMemoryRule(0.7),
      heap: defaultHeapRule(0.7),
      out: (line: string) => lines.push(line),
    };
    const report = await runSoak(options);
    lines.push(...formatReport(report, options.memory, options.heap), JSON.stringify(report.json));
    const log = lines.join("\n");
    expect(report.problems, log).toEqual([]);
    expect(report.pass, log).toBe(true);
    expect(report.json, log).toMatchObject({ soak: "pass", lost: 0, duplicated: 0, lostCommits: 0, orphans: 0, leftoverWorktrees: 0 });
    expect(report.created, log).toBeGreaterThanOrEqual(3);
    expect(report.kills, log).toBeGreaterThanOrEqual(1);
    expect(report.githubFaults, log).toBeGreaterThan(0);
    expect(
      report.memory.series.map((s) => s.name),
      log,
    ).toContain("app");
    expect(
      report.memory.series.every((s) => s.samples > 0),
      log,
    ).toBe(true);
    // The heap probe ran in every process (an empty probe is a problem, checked above) and its samples were read.
    expect(
      report.heap.series.map((s) => s.name),
      log,
    ).toEqual(report.memory.series.map((s) => s.name));
    expect(report.heap.series.find((s) => s.name === "app")?.endMB, log).toBeGreaterThan(1);
  }, 180_000);
});
