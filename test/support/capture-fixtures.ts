/**
 * Captures the real CLI's stream-json output for each case into
 * test/fixtures/cli/<case>.jsonl (+ <case>.meta.json).
 *
 *   npx tsx test/support/capture-fixtures.ts [case ...]
 *
 * Runs the CLI offline against the scripted model server; re-run after a CLI upgrade.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadScenario, startModelServer, type Scenario } from "../../src/offline/model-server.js";
import { cliVersion, makeCliDirs, pidsWithEnv, runCli } from "./run-cli.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const scenariosDir = join(here, "../fixtures/scenarios");
const outDir = join(here, "../fixtures/cli");

const BASE_ARGS = ["--permission-mode", "dontAsk", "--allowedTools", "Write,Edit,Bash"];

interface CaptureCase {
  name: string;
  /** Prompt; `[scenario:x]` in it selects the scenario (write-file is the default). */
  prompt: string;
  args?: string[];
  /** Send this signal to the CLI once its Bash tool runs `sleep 1000`. */
  signalDuringSleep?: NodeJS.Signals;
}

export const CASES: CaptureCase[] = [
  { name: "success", prompt: "Write hello.txt and show it." },
  { name: "tool-error", prompt: "List the directory. [scenario:tool-error]" },
  { name: "max-turns", prompt: "Do five steps. [scenario:many-turns]", args: ["--max-turns", "2"] },
  { name: "budget", prompt: "Do something expensive. [scenario:budget]", args: ["--max-budget-usd", "0.01"] },
  { name: "api-error-first-turn", prompt: "Anything. [scenario:api-error]" },
  { name: "api-error-mid-session", prompt: "Two steps. [scenario:api-error-mid-session]" },
  { name: "permission-denial", prompt: "Fetch a page. [scenario:permission-denial]" },
  { name: "partial-messages", prompt: "Write hello.txt and show it.", args: ["--include-partial-messages"] },
  { name: "sigint", prompt: "Wait. [scenario:sleep]", signalDuringSleep: "SIGINT" },
  { name: "sigterm", prompt: "Wait. [scenario:sleep]", signalDuringSleep: "SIGTERM" },
];

const SCENARIO_FILES = [
  "tool-error",
  "many-turns",
  "budget",
  "api-error",
  "api-error-mid-session",
  "permission-denial",
  "sleep",
  // The default (no `match`): last.
  "write-file",
];

async function loadScenarios(): Promise<Scenario[]> {
  return Promise.all(SCENARIO_FILES.map((name) => loadScenario(join(scenariosDir, `${name}.yaml`))));
}

async function main(only: string[]): Promise<void> {
  const scenarios = await loadScenarios();
  const server = await startModelServer({ scenarios });
  const version = await cliVersion();
  await mkdir(outDir, { recursive: true });
  try {
    for (const c of CASES) {
      if (only.length > 0 && !only.includes(c.name)) continue;
      const dirs = await makeCliDirs(`capture-${c.name}-`);
      const marker = `HARNESS_CAPTURE_ID=${c.name}-${process.pid}`;
      try {
        const signal = c.signalDuringSleep;
        const result = await runCli({
          baseUrl: server.url,
          prompt: c.prompt,
          cwd: dirs.cwd,
          home: dirs.home,
          args: [...BASE_ARGS, ...(c.args ?? [])],
          env: { HARNESS_CAPTURE_ID: marker.split("=")[1] ?? "" },
          timeoutMs: 60_000,
          signalWhen: signal === undefined ? undefined : { signal, when: async () => (await pidsWithEnv(marker, "sleep 1000")).length > 0 },
        });
        await writeFile(join(outDir, `${c.name}.jsonl`), result.stdout.endsWith("\n") || result.stdout === "" ? result.stdout : `${result.stdout}\n`);
        const meta = {
          case: c.name,
          cliVersion: version,
          // The first element is the CLI binary; the temp cwd and HOME are not recorded.
          argv: ["claude", ...result.argv.slice(1)],
          exitCode: result.exitCode,
          signal: result.signal,
          sentSignal: result.signalled ? (signal ?? null) : null,
          stderr: result.stderr.slice(0, 2000),
        };
        await writeFile(join(outDir, `${c.name}.meta.json`), `${JSON.stringify(meta, null, 2)}\n`);
        const leftovers = await pidsWithEnv(marker);
        for (const pid of leftovers) process.kill(pid, "SIGKILL");
        console.log(
          `${c.name}: exit ${result.exitCode} signal ${result.signal}${leftovers.length > 0 ? ` (killed ${leftovers.length} leftover processes)` : ""}`,
        );
      } finally {
        await dirs.cleanup();
      }
    }
  } finally {
    await server.close();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
