/**
 * Claim races with injected faults against the local fake GitHub.
 *
 *   npm run bench -- claims [--trials N] [--claimers N] [--fault-rate R] [--seed S] [--quick]
 *   npx tsx bench/claims.ts [--trials N] …
 *
 * Each trial is a fresh issue (half with no lease ref yet, half with a released one)
 * that every claimer tries to claim at once, while a share of all REST requests fail
 * (5xx, 429 / 403 secondary rate limits, lost responses, resets, latency). Prints a
 * table, then as its last line one JSON object:
 * {"bench":"claims","trials":N,"doubleClaims":0,"lostIssues":0,"claimsPerSecond":…}
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { faultKinds } from "../src/offline/fake-github/index.js";
import { makeClaimer, runTrials, startRaceFake } from "../test/race/race-kit.js";

export interface ClaimsBenchResult {
  bench: "claims";
  trials: number;
  doubleClaims: number;
  lostIssues: number;
  claimsPerSecond: number;
}

function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${value}`);
  return n;
}

export async function runClaimsBench(args: string[]): Promise<ClaimsBenchResult> {
  const { values } = parseArgs({
    args,
    options: {
      trials: { type: "string" },
      claimers: { type: "string" },
      "fault-rate": { type: "string" },
      seed: { type: "string" },
      quick: { type: "boolean" },
    },
    allowPositionals: true,
  });
  const trials = Math.floor(positive(values.trials, "trials", values.quick === true ? 10 : 50));
  const claimerCount = Math.max(1, Math.floor(positive(values.claimers, "claimers", 10)));
  const rate = positive(values["fault-rate"], "fault-rate", 0.1);
  const seed = Math.floor(positive(values.seed, "seed", 1));

  const fake = await startRaceFake();
  try {
    const claimers = Array.from({ length: claimerCount }, (_, i) => makeClaimer(fake, `agent-${i}`, `host-${i % 10}`));
    const setup = makeClaimer(fake, "previous", "host-setup");
    const injector = fake.setFaults({ rate, kinds: faultKinds, seed, latencyMs: 5 });
    let errors = 0;
    let contenders = 0;
    const started = Date.now();
    const { verdicts, problems } = await runTrials(fake, claimers, setup, {
      trials,
      firstIssue: 1,
      onTrial: (trial) => {
        contenders += trial.contenders.length;
        errors += trial.contenders.filter((c) => "error" in c.result).length;
      },
    });
    const seconds = (Date.now() - started) / 1000;
    const doubleClaims = verdicts.filter((v) => v.doubleClaim).length;
    const lostIssues = verdicts.filter((v) => v.lostIssue).length;
    const requests = fake.requestLog.filter((e) => e.kind === "rest");
    const counts = injector?.counts();

    const rows: Array<[string, string]> = [
      ["trials", String(trials)],
      ["claimers per trial", String(claimerCount)],
      ["fault rate", `${rate} (seed ${seed})`],
      ["faults injected", faultKinds.map((k) => `${k} ${counts?.[k] ?? 0}`).join(", ")],
      ["REST requests", `${requests.length} (${requests.filter((r) => r.write).length} writes)`],
      ["claims", `${contenders} in ${seconds.toFixed(1)} s`],
      ["claims per second", (contenders / seconds).toFixed(1)],
      ["trials with one winner", String(verdicts.filter((v) => v.winners === 1).length)],
      ["double claims", String(doubleClaims)],
      ["lost issues", String(lostIssues)],
      ["claims that threw", String(errors)],
      ["other problems", String(problems.length)],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log(`claim races against the local fake GitHub`);
    for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
    for (const p of problems.slice(0, 10)) console.log(`  ! ${p}`);
    const result: ClaimsBenchResult = { bench: "claims", trials, doubleClaims, lostIssues, claimsPerSecond: Math.round((contenders / seconds) * 10) / 10 };
    console.log(JSON.stringify(result));
    if (doubleClaims > 0 || lostIssues > 0) process.exitCode = 1;
    // Strict: requests that broke GitHub's OpenAPI description fail the run, printed.
    fake.assertNoViolations();
    return result;
  } finally {
    await fake.close();
  }
}

export default async function main(args: string[]): Promise<void> {
  await runClaimsBench(args);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
