import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeGitHub } from "../../src/offline/fake-github/index.js";
import { makeClaimer, runTrials, startRaceFake, type Claimer } from "./race-kit.js";

/** (c) 50 claimers, 10% of requests failing in every way GitHub fails. */
const CLAIMERS = 50;
const TRIALS = Number(process.env.RACE_TRIALS_FAULTS ?? process.env.RACE_TRIALS ?? 200);

let fake: FakeGitHub;
let claimers: Claimer[];
let setup: Claimer;

beforeAll(async () => {
  fake = await startRaceFake();
  claimers = Array.from({ length: CLAIMERS }, (_, i) => makeClaimer(fake, `agent-${i}`, `host-${i % 10}`));
  setup = makeClaimer(fake, "previous", "host-setup");
});

afterAll(async () => {
  await fake?.close();
});

describe(`${CLAIMERS} claimers with 10% injected faults`, () => {
  it(
    `exactly one winner in each of ${TRIALS} trials; no double claim, no lost issue`,
    async () => {
      const injector = fake.setFaults({ rate: 0.1, kinds: ["5xx", "429", "403-secondary", "lost-response", "latency", "reset"], seed: 20261126, latencyMs: 5 });
      const { verdicts, problems } = await runTrials(fake, claimers, setup, { trials: TRIALS, firstIssue: 1 });
      expect(problems).toEqual([]);
      expect(verdicts.filter((v) => v.doubleClaim)).toEqual([]);
      expect(verdicts.filter((v) => v.lostIssue)).toEqual([]);
      // The faults really happened, of every kind.
      const counts = injector?.counts();
      for (const kind of ["5xx", "429", "403-secondary", "lost-response", "latency", "reset"] as const) expect(counts?.[kind]).toBeGreaterThan(0);
    },
    60_000 + TRIALS * 2000,
  );
});
