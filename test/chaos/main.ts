/**
 * `npm run chaos -- --trials N [--seed S] [--keep]`: SIGKILLs a `harness worker`
 * at a random point of its work, lets the reclaimer and a fresh worker finish,
 * and checks what must survive. Last line: one JSON object.
 */
import { runChaos } from "./chaos-kit.js";

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

const args = process.argv.slice(2);
const trials = Number(option(args, "--trials") ?? "5");
const seed = Number(option(args, "--seed") ?? String(Date.now() % 1_000_000));
if (!Number.isInteger(trials) || trials < 1 || !Number.isInteger(seed)) {
  process.stderr.write("EHARNESS_USAGE: --trials takes a positive integer, --seed an integer. Fix: npm run chaos -- --trials 5 [--seed 42]\n");
  process.exit(2);
}
const { summary } = await runChaos({ trials, seed, keep: args.includes("--keep"), out: (line) => process.stdout.write(`${line}\n`) });
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exitCode =
  summary.recovered === summary.trials &&
  summary.lostCommits + summary.duplicatePRs + summary.duplicateComments + summary.orphans === 0 &&
  summary.pointsMissed.length === 0
    ? 0
    : 1;
