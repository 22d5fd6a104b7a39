/**
 * Captures the real CLI's stream-json output for each case into
 * test/fixtures/cli/<version>/<case>.jsonl (+ <case>.meta.json), <version> being
 * what `claude --version` prints.
 *
 *   npx tsx test/support/capture-fixtures.ts [--claude PATH] [case ...]
 *
 * PATH defaults to the pinned CLI (node_modules/.bin/claude, or $CLAUDE_PATH).
 * Another version, installed outside the repository:
 *
 *   npm install --prefix /tmp/cli-2.0.77 @anthropic-ai/claude-code@2.0.77
 *   npx tsx test/support/capture-fixtures.ts --claude /tmp/cli-2.0.77/node_modules/.bin/claude
 *
 * Runs the CLI offline against the scripted model server; re-run after a CLI upgrade.
 * A case whose flags this version does not have (per its --help) is skipped and said so.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadScenario, startModelServer, type Scenario } from "../../src/offline/model-server.js";
import { CLI_PATH, cliHelp, cliVersion, makeCliDirs, pidsWithEnv, runCli } from "./run-cli.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const scenariosDir = join(here, "../fixtures/scenarios");
const fixturesDir = join(here, "../fixtures/cli");

/**
 * `dontAsk` (denies what is not allowed instead of asking) where the CLI has it;
 * 1.0.x has no such mode (its `default` mode denies in -p instead of asking), and
 * 1.0.0 has no --permission-mode at all.
 */
function baseArgs(help: string): string[] {
  const mode = /--permission-mode\b/.test(help) ? ["--permission-mode", /\bdontAsk\b/.test(help) ? "dontAsk" : "default"] : [];
  return [...mode, "--allowedTools", "Write,Edit,Bash"];
}

/** The flags among `flags` that this CLI's --help does not list. */
function missingFlags(help: string, flags: string[]): string[] {
  return flags.filter((a) => !new RegExp(`(^|[\\s,])${a}\\b`, "m").test(help));
}

interface CaptureCase {
  name: string;
  /** Prompt; `[scenario:x]` in it selects the scenario (write-file is the default). */
  prompt: string;
  args?: string[];
  /** Flags the case needs that --help lists where they exist (`--max-turns` is hidden in every version, so not checked). */
  requires?: string[];
  /** Send this signal to the CLI once its Bash tool runs `sleep 1000`. */
  signalDuringSleep?: NodeJS.Signals;
}

export const CASES: CaptureCase[] = [
  { name: "success", prompt: "Write hello.txt and show it." },
  { name: "tool-error", prompt: "List the directory. [scenario:tool-error]" },
  { name: "max-turns", prompt: "Do five steps. [scenario:many-turns]", args: ["--max-turns", "2"] },
  { name: "budget", prompt: "Do something expensive. [scenario:budget]", args: ["--max-budget-usd", "0.01"], requires: ["--max-budget-usd"] },
  { name: "api-error-first-turn", prompt: "Anything. [scenario:api-error]" },
  { name: "api-error-mid-session", prompt: "Two steps. [scenario:api-error-mid-session]" },
  { name: "permission-denial", prompt: "Fetch a page. [scenario:permission-denial]" },
  { name: "partial-messages", prompt: "Write hello.txt and show it.", args: ["--include-partial-messages"], requires: ["--include-partial-messages"] },
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

export function parseCaptureArgs(argv: string[]): { claude: string; only: string[] } {
  const only: string[] = [];
  let claude = CLI_PATH;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "--claude") {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith("--")) throw new Error("--claude needs the path of a claude binary");
      claude = value;
      i++;
    } else if (a.startsWith("--claude=")) claude = a.slice("--claude=".length);
    else if (a.startsWith("--")) throw new Error(`unknown option ${a} (usage: capture-fixtures.ts [--claude PATH] [case ...])`);
    else if (!CASES.some((c) => c.name === a)) throw new Error(`unknown case ${a} (cases: ${CASES.map((c) => c.name).join(", ")})`);
    else only.push(a);
  }
  return { claude, only };
}

async function main(argv: string[]): Promise<void> {
  const { claude, only } = parseCaptureArgs(argv);
  const version = await cliVersion(claude);
  if (!/^\d+\.\d+\.\d+/.test(version)) throw new Error(`${claude} --version printed ${JSON.stringify(version)}, not a version`);
  const help = await cliHelp(claude);
  const outDir = join(fixturesDir, version);
  const scenarios = await loadScenarios();
  const server = await startModelServer({ scenarios });
  await mkdir(outDir, { recursive: true });
  console.log(`capturing Claude Code ${version} (${claude}) into ${outDir}`);
  try {
    for (const c of CASES) {
      if (only.length > 0 && !only.includes(c.name)) continue;
      const missing = missingFlags(help, c.requires ?? []);
      if (missing.length > 0) {
        console.log(`${c.name}: skipped, this CLI has no ${missing.join(", ")}`);
        continue;
      }
      const dirs = await makeCliDirs(`capture-${c.name}-`);
      const marker = `HARNESS_CAPTURE_ID=${c.name}-${process.pid}`;
      try {
        const signal = c.signalDuringSleep;
        const result = await runCli({
          cliPath: claude,
          baseUrl: server.url,
          prompt: c.prompt,
          cwd: dirs.cwd,
          home: dirs.home,
          args: [...baseArgs(help), ...(c.args ?? [])],
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
