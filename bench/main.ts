/**
 * Runs the benchmarks in this directory.
 *
 *   npm run bench                      every bench/*.ts except this file (and _*.ts helpers)
 *   npm run bench -- parser            one of them
 *   npm run bench -- parser claims     several
 *   npm run bench -- parser --size-mb 200   the rest of the arguments go to each bench
 *   npm run bench -- --smoke           every bench once at its smallest size (SMOKE_ARGS), checking
 *                                      that it ends with its JSON line; `.ci/run` runs this, so a
 *                                      bench that breaks fails CI. The figures mean nothing.
 *
 * A bench is a file `bench/<name>.ts` that runs itself when executed directly
 * (`if (import.meta.url === pathToFileURL(process.argv[1]).href) …`), prints a table
 * and, as its last line, one JSON object with a `bench` key. Each runs in its own
 * process (so its memory figures are its own); adding a file adds a bench.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = dirname(fileURLToPath(import.meta.url));

/**
 * Each bench's smallest run: what `--smoke` passes it. `--quick` where a bench fails on a missed
 * speed target (figures at these sizes mean nothing); correctness checks (claims, dispatch) still fail it. Every bench has an entry
 * (test/bench/smoke-args.test.ts checks), so a new bench is smoke-run from its first day.
 */
export const SMOKE_ARGS: Readonly<Record<string, readonly string[]>> = {
  api: ["--issues", "1"],
  claims: ["--trials", "2", "--claimers", "2"],
  dispatch: ["--issues", "10", "--rounds", "1"],
  knowledge: ["--sizes", "100", "--reps", "1", "--queries", "2"],
  metrics: ["--scrapes", "3"],
  overhead: ["--quick", "--pairs", "1", "--turns", "2", "--delay-ms", "0"],
  parser: ["--quick", "--size-mb", "1"],
  "sandbox-start": ["--reps", "2"],
  scaling: ["--quick", "--issues", "2", "--turns", "1", "--delay-ms", "0", "--agents", "1,2"],
  status: ["--transitions", "2", "--rows", "5"],
  worktree: ["--files", "200", "--history", "2", "--reps", "1"],
};

/** The bench's last output line as JSON with its own name as `bench`; null when it is not. */
export function benchResultLine(stdout: string, name: string): Record<string, unknown> | null {
  const last = stdout.trimEnd().split("\n").at(-1) ?? "";
  try {
    const parsed = JSON.parse(last) as unknown;
    if (typeof parsed === "object" && parsed !== null && (parsed as { bench?: unknown }).bench === name) return parsed as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return null;
}

function smoke(names: string[]): number {
  let failed = 0;
  for (const name of names) {
    const args = SMOKE_ARGS[name];
    if (args === undefined) {
      console.error(`bench ${name} has no entry in SMOKE_ARGS (bench/main.ts): add its smallest run`);
      failed += 1;
      continue;
    }
    const started = Date.now();
    const run = spawnSync(process.execPath, [...process.execArgv, join(dir, `${name}.ts`), ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    const ok = run.status === 0 && benchResultLine(run.stdout, name) !== null;
    console.log(`${ok ? "ok  " : "FAIL"} ${name} ${args.join(" ")} (${Date.now() - started} ms)`);
    if (!ok) {
      failed += 1;
      process.stdout.write(run.stdout.split("\n").slice(-20).join("\n"));
      process.stderr.write(run.stderr.split("\n").slice(-40).join("\n"));
      console.error(`bench ${name} failed its smoke run (${run.signal ?? `exit ${run.status}`}${run.status === 0 ? ", no JSON result line" : ""})`);
    }
  }
  return failed === 0 ? 0 : 1;
}

export function discoverBenches(directory = dir): string[] {
  return readdirSync(directory)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && f !== "main.ts" && !f.startsWith("_"))
    .map((f) => f.slice(0, -".ts".length))
    .sort();
}

function main(argv: string[]): number {
  const available = discoverBenches();
  const selected: string[] = [];
  let rest = argv;
  while (rest.length > 0 && rest[0] !== undefined && !rest[0].startsWith("-")) {
    const name = rest[0];
    if (!available.includes(name)) {
      console.error(`Unknown bench "${name}". Available: ${available.join(", ")}.`);
      return 2;
    }
    selected.push(name);
    rest = rest.slice(1);
  }
  const names = selected.length > 0 ? selected : available;
  if (rest.includes("--smoke")) {
    if (rest.length > 1) {
      console.error("--smoke takes no other arguments: each bench gets its SMOKE_ARGS");
      return 2;
    }
    return smoke(names);
  }
  let failed = 0;
  for (const name of names) {
    if (names.length > 1) console.log(`\n== ${name} ==`);
    // process.execArgv carries tsx's loader, so the child runs TypeScript the same way.
    const run = spawnSync(process.execPath, [...process.execArgv, join(dir, `${name}.ts`), ...rest], { stdio: "inherit" });
    if (run.status !== 0) {
      failed += 1;
      console.error(`bench ${name} failed (${run.signal ?? `exit ${run.status}`})`);
    }
  }
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2));
}
