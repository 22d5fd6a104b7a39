import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isGitPush, type FaultKind } from "../../src/offline/fake-github/faults.js";
import type { FakeGitHub } from "../../src/offline/fake-github/index.js";
import { FAST_RETRIES, makeClaimer, runTrials, startRaceFake, type Claimer } from "./race-kit.js";

/** (c) 50 claimers, 10% of requests failing in every way GitHub fails. */
const CLAIMERS = 50;
const TRIALS = Number(process.env.RACE_TRIALS_FAULTS ?? process.env.RACE_TRIALS ?? 200);
/** (d) 4 claimers, all by git push (REST claimers win the race before a push is made), with faults on the REST requests and on the pushes. */
const GIT_CLAIMERS = 4;
const GIT_TRIALS = Number(process.env.RACE_TRIALS_GIT_FAULTS ?? 24);
const KINDS: readonly FaultKind[] = ["5xx", "429", "403-secondary", "lost-response", "latency", "reset"];

let fake: FakeGitHub;
let claimers: Claimer[];
let setup: Claimer;
let root: string;

beforeAll(async () => {
  fake = await startRaceFake();
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-race-faults-"));
  claimers = Array.from({ length: CLAIMERS }, (_, i) => makeClaimer(fake, `agent-${i}`, `host-${i % 10}`));
  setup = makeClaimer(fake, "previous", "host-setup");
});

afterAll(async () => {
  await fake?.close();
  if (root) await fs.rm(root, { recursive: true, force: true });
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

describe(`${GIT_CLAIMERS} claimers by git push, with 10% injected faults on REST and on the pushes`, () => {
  it(
    `exactly one winner in each of ${GIT_TRIALS} trials; pushes answered 5xx, reset mid-pack and lost after applying`,
    async () => {
      const pushers = Array.from({ length: GIT_CLAIMERS }, (_, i) =>
        makeClaimer(fake, `pusher-${i}`, `pusher-host-${i}`, FAST_RETRIES, path.join(root, `pusher-host-${i}`)),
      );
      const injector = fake.setFaults({
        rate: 0.1,
        kinds: KINDS,
        seed: 20261202,
        latencyMs: 5,
        git: true,
        match: (r) => r.kind === "rest" || isGitPush(r),
      });
      const { verdicts, problems } = await runTrials(fake, pushers, setup, { trials: GIT_TRIALS, firstIssue: 100_000 });
      expect(problems).toEqual([]);
      expect(verdicts.filter((v) => v.doubleClaim)).toEqual([]);
      expect(verdicts.filter((v) => v.lostIssue)).toEqual([]);
      // The git faults really happened: a push refused by a 5xx, cut mid-pack, applied with its answer lost.
      const onPushes = (injector?.injected ?? []).filter((f) => f.path.endsWith("/git-receive-pack"));
      // None of them gave up pushing for REST writes: a fault is not a refusal.
      expect(pushers.map((m) => m.counts.write)).toEqual(pushers.map(() => 0));
      for (const kind of ["5xx", "reset", "lost-response"] as const) expect(onPushes.filter((f) => f.fault === kind).length).toBeGreaterThan(0);
    },
    60_000 + GIT_TRIALS * 3000,
  );
});
