/**
 * `npm run soak -- --minutes M [--seed S] [--workers W] [--agents N] [--app-agents N]
 * [--rate R] [--fault-rate F] [--model-error-rate F] [--kill-every S] [--keep]`:
 * issues keep arriving, workers and the app keep working, faults keep coming;
 * then the drain and the checks (see soak-kit.ts). Prints a table and, as the
 * last line, one JSON object; exits 1 when an invariant fails.
 */
import { faultKinds, type FaultKind } from "../../src/offline/fake-github/index.js";
import { defaultHeapRule, defaultMemoryRule, formatReport, runSoak, SOAK_DEFAULTS } from "./soak-kit.js";

const USAGE =
  "npm run soak -- [--minutes 5] [--seed S] [--workers 2] [--agents 2] [--app-agents 2] [--rate 6] [--fault-rate 0.03] " +
  "[--fault-kinds 5xx,429,403-secondary] [--model-error-rate 0.1] [--kill-every 60] [--drain-minutes 4] [--sample-seconds 2] " +
  "[--warmup-seconds S] [--threshold MB_PER_MIN] [--rss-file FILE] [--no-git-faults] [--keep]";

function fail(message: string): never {
  process.stderr.write(`EHARNESS_USAGE: ${message}. Fix: ${USAGE}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const known = new Set([
  "--minutes",
  "--seed",
  "--workers",
  "--agents",
  "--app-agents",
  "--rate",
  "--fault-rate",
  "--fault-kinds",
  "--model-error-rate",
  "--kill-every",
  "--drain-minutes",
  "--sample-seconds",
  "--warmup-seconds",
  "--threshold",
  "--rss-file",
]);
for (let i = 0; i < args.length; i += 1) {
  const arg = args[i] ?? "";
  if (arg === "--keep" || arg === "--no-git-faults") continue;
  if (!known.has(arg)) fail(`unknown option "${arg}"`);
  i += 1;
}

function option(name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function number(name: string, fallback: number, check: (n: number) => boolean, what: string): number {
  const value = option(name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value === "" || !Number.isFinite(n) || !check(n)) fail(`${name} takes ${what}, not "${value}"`);
  return n;
}

const minutes = number("--minutes", SOAK_DEFAULTS.minutes, (n) => n > 0, "a positive number of minutes");
const rule = defaultMemoryRule(minutes);
const heapRule = defaultHeapRule(minutes);
const warmupSeconds = option("--warmup-seconds");
const warmup = warmupSeconds !== undefined ? { warmupMs: number("--warmup-seconds", 0, (n) => n >= 0, "seconds") * 1000 } : {};
const kinds = (option("--fault-kinds") ?? SOAK_DEFAULTS.faultKinds.join(",")).split(",").filter((k) => k !== "");
for (const k of kinds) if (!(faultKinds as readonly string[]).includes(k)) fail(`--fault-kinds takes some of ${faultKinds.join(",")}, not "${k}"`);

const options = {
  minutes,
  seed: number("--seed", Date.now() % 1_000_000, Number.isInteger, "an integer"),
  workers: number("--workers", SOAK_DEFAULTS.workers, (n) => Number.isInteger(n) && n >= 0, "a non-negative integer"),
  agents: number("--agents", SOAK_DEFAULTS.agents, (n) => Number.isInteger(n) && n >= 1, "a positive integer"),
  appAgents: number("--app-agents", SOAK_DEFAULTS.appAgents, (n) => Number.isInteger(n) && n >= 0, "a non-negative integer (0: no app)"),
  rate: number("--rate", SOAK_DEFAULTS.rate, (n) => n > 0, "a positive number of issues per minute"),
  faultRate: number("--fault-rate", SOAK_DEFAULTS.faultRate, (n) => n >= 0 && n <= 1, "a fraction in [0, 1]"),
  faultKinds: kinds as FaultKind[],
  gitFaults: !process.argv.includes("--no-git-faults"),
  modelErrorRate: number("--model-error-rate", SOAK_DEFAULTS.modelErrorRate, (n) => n >= 0 && n <= 1, "a fraction in [0, 1]"),
  killEverySeconds: number("--kill-every", SOAK_DEFAULTS.killEverySeconds, (n) => n >= 0, "seconds (0: no kills)"),
  drainMinutes: number("--drain-minutes", SOAK_DEFAULTS.drainMinutes, (n) => n > 0, "a positive number of minutes"),
  sampleSeconds: number("--sample-seconds", SOAK_DEFAULTS.sampleSeconds, (n) => n >= 0.2, "seconds (at least 0.2)"),
  memory: { ...rule, ...warmup },
  heap: {
    ...heapRule,
    ...warmup,
    thresholdMBPerMin: number("--threshold", heapRule.thresholdMBPerMin, (n) => n > 0, "a positive number of MB per minute (the live heap's slope)"),
  },
  ...(option("--rss-file") !== undefined ? { rssFile: option("--rss-file") as string } : {}),
  keep: args.includes("--keep"),
  out: (line: string) => process.stdout.write(`${line}\n`),
};
if (options.workers + options.appAgents === 0) fail("nothing would work the queue: --workers and --app-agents are both 0");

const report = await runSoak(options);
for (const line of formatReport(report, options.memory, options.heap)) process.stdout.write(`${line}\n`);
process.stdout.write(`${JSON.stringify(report.json)}\n`);
process.exitCode = report.pass ? 0 : 1;
