/**
 * Runs the benchmarks in this directory.
 *
 *   npm run bench                      every bench/*.ts except this file (and _*.ts helpers)
 *   npm run bench -- parser            one of them
 *   npm run bench -- parser claims     several
 *   npm run bench -- parser --size-mb 200   the rest of the arguments go to each bench
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
