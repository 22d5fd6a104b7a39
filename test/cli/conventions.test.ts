import { spawn } from "node:child_process";
import { promises as fs, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMANDS, type CommandName } from "../../src/cli/commands.js";

/**
 * The CLI conventions of every `harness` command, on the real CLI as a child process (node with
 * tsx's loader, src/cli/main.ts): --help and --version print to stdout and exit 0 without side
 * effects, usage errors print `EHARNESS_USAGE: … Fix: …` to stderr and exit 2. "Without side
 * effects" is checked: each run has its own HOME, TMPDIR, HARNESS_STATE_DIR and working
 * directory, which must stay empty, and the GitHub API it is pointed at must get no request
 * (the control at the end shows that the same command without --help does call it).
 */

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = path.join(ROOT, "src", "cli", "main.ts");
const TSX_LOADER = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;

let root: string;
let api: Server;
let apiUrl: string;
const apiRequests: string[] = [];
let runs = 0;
/** A port free when the tests start: `harness app` would listen on it. */
let appPort = 0;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-conventions-"));
  api = createServer((req, res) => {
    apiRequests.push(`${req.method ?? ""} ${req.url ?? ""}`);
    res.writeHead(404, { "content-type": "application/json" }).end('{"message":"Not Found"}');
  });
  await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  appPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  await new Promise<void>((resolve) => api?.close(() => resolve()));
  if (root) await fs.rm(root, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Every file and directory the run left in its sandbox (HOME, TMPDIR, the state directory, its cwd). */
  left: string[];
}

async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const names: string[] = [];
  for (const e of entries) {
    names.push(`${prefix}${e.name}`);
    if (e.isDirectory()) names.push(...(await listTree(path.join(dir, e.name), `${prefix}${e.name}/`)));
  }
  return names;
}

/** `harness ...args` in a sandbox of its own; `{sandbox}` in an argument is replaced by the sandbox's path. */
async function harness(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  const env = { PORT: String(appPort), ...extraEnv };
  const sandbox = path.join(root, `run-${(runs += 1)}`);
  await fs.mkdir(path.join(sandbox, "tmp"), { recursive: true });
  await fs.mkdir(path.join(sandbox, "cwd"));
  const child = spawn(process.execPath, ["--import", TSX_LOADER, MAIN, ...args.map((a) => a.replaceAll("{sandbox}", sandbox))], {
    cwd: path.join(sandbox, "cwd"),
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      LANG: "C.UTF-8",
      TSX_DISABLE_CACHE: "1",
      HOME: path.join(sandbox, "home"),
      TMPDIR: path.join(sandbox, "tmp"),
      HARNESS_STATE_DIR: path.join(sandbox, "state"),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    // A command that started for real instead (a server) is killed and fails on its signal.
    timeout: 30_000,
    killSignal: "SIGKILL",
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (c, s) => resolve({ code: c, signal: s })),
  );
  return { code, signal, stdout, stderr, left: await listTree(sandbox).then((names) => names.filter((n) => n !== "tmp" && n !== "cwd")) };
}

/** Runs `cases` a few at a time (two cores). */
async function all<T, R>(cases: readonly T[], run: (c: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(cases.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < cases.length) {
      const i = next++;
      results[i] = await run(cases[i] as T);
    }
  };
  await Promise.all([lane(), lane(), lane()]);
  return results;
}

/** What would make each command act if --help did not stop it: real-looking flags and environment. */
const ACTING: Record<CommandName, { args: string[]; env: Record<string, string> }> = {
  // Enough for the app to start and listen (tried by hand: "harness app listening", the state directory created).
  app: { args: [], env: { GITHUB_TOKEN: "t0ken", WEBHOOK_SECRET: "s".repeat(40), HOST: "127.0.0.1" } },
  demo: { args: ["--keep", "{sandbox}/keep"], env: {} },
  offline: { args: ["--state-dir", "{sandbox}/offline"], env: {} },
  summarize: { args: ["{sandbox}/cwd/transcript.jsonl"], env: {} },
  reclaim: { args: ["--repo", "octo/cli"], env: { GITHUB_TOKEN: "t0ken" } },
  convoy: { args: ["create", "--title", "batch", "--repo", "octo/cli", "12", "13"], env: { GITHUB_TOKEN: "t0ken" } },
  worker: { args: ["--agents", "1", "--repo", "octo/cli", "--once"], env: { GITHUB_TOKEN: "t0ken" } },
  status: { args: ["--repo", "octo/cli"], env: { GITHUB_TOKEN: "t0ken" } },
  doctor: { args: ["--repo", "octo/cli"], env: { GITHUB_TOKEN: "t0ken" } },
  report: { args: ["--since", "7d", "--state-dir", "{sandbox}/state"], env: {} },
  knowledge: { args: ["search", "lease", "--snapshot", "{sandbox}/cwd/knowledge.json", "--state-dir", "{sandbox}/state"], env: {} },
};

/** A flag of each command that needs a value, given none (app has no flags; summarize has only a switch). */
const MISSING_VALUE: Partial<Record<CommandName, string>> = {
  demo: "--keep",
  offline: "--state-dir",
  reclaim: "--repo",
  convoy: "--title",
  worker: "--agents",
  status: "--repo",
  doctor: "--for",
  report: "--since",
  knowledge: "--snapshot",
};

const names = Object.keys(COMMANDS) as CommandName[];

function expectUsageError(run: Run, command: string | null, says: RegExp): void {
  expect({ code: run.code, signal: run.signal, stdout: run.stdout }, run.stderr).toEqual({ code: 2, signal: null, stdout: "" });
  const lines = run.stderr.trimEnd().split("\n");
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(says);
  expect(lines[0]).toMatch(command === null ? /^EHARNESS_USAGE: .+ Fix: Run harness / : new RegExp(`^EHARNESS_USAGE: .+ Fix: Run harness ${command}\\b`));
  expect(run.left).toEqual([]);
}

describe("harness CLI conventions, on every command", () => {
  it("--help and -h print the command's usage on stdout, exit 0 and start nothing", async () => {
    const cases = names.flatMap((name) => ["--help", "-h"].map((flag) => ({ name, flag })));
    const results = await all(cases, ({ name, flag }) => harness([name, ...ACTING[name].args, flag], { GITHUB_API_URL: apiUrl, ...ACTING[name].env }));
    results.forEach((r, i) => {
      const { name } = cases[i] ?? { name: "app" as const };
      expect({ code: r.code, signal: r.signal, stderr: r.stderr, left: r.left }, `${name} ${cases[i]?.flag}`).toEqual({
        code: 0,
        signal: null,
        stderr: "",
        left: [],
      });
      expect(r.stdout).toBe(COMMANDS[name].help);
      expect(r.stdout).toMatch(new RegExp(`^Usage: harness ${name}\\b`));
    });
    expect(apiRequests).toEqual([]);
  }, 180_000);

  it("--version prints the package's version on stdout, exit 0 and starts nothing", async () => {
    const results = await all(names, (name) => harness([name, ...ACTING[name].args, "--version"], { GITHUB_API_URL: apiUrl, ...ACTING[name].env }));
    results.forEach((r, i) => {
      expect({ code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr, left: r.left }, names[i]).toEqual({
        code: 0,
        signal: null,
        stdout: `${VERSION}\n`,
        stderr: "",
        left: [],
      });
    });
    expect(apiRequests).toEqual([]);
  }, 120_000);

  it("an unknown flag is refused on stderr with EHARNESS_USAGE and exit code 2, before anything starts", async () => {
    const results = await all(names, (name) => harness([name, ...ACTING[name].args, "--no-such-flag"], { GITHUB_API_URL: apiUrl, ...ACTING[name].env }));
    results.forEach((r, i) => expectUsageError(r, names[i] ?? "", new RegExp(`^EHARNESS_USAGE: ${names[i]} does not take "--no-such-flag"\\.`)));
    expect(apiRequests).toEqual([]);
  }, 120_000);

  it("a flag without its value says so, on stderr with exit code 2, as --flag at the end or before another flag", async () => {
    const cases = Object.entries(MISSING_VALUE).flatMap(([name, flag]) => [
      { name, args: [name, flag] },
      { name, args: [name, flag, "--no-such-flag"] },
      { name, args: [name, `${flag}=`] },
    ]);
    const results = await all(cases, ({ args }) => harness(args, { GITHUB_API_URL: apiUrl, GITHUB_TOKEN: "t0ken" }));
    results.forEach((r, i) => {
      const flag = MISSING_VALUE[cases[i]?.name as CommandName] ?? "";
      expectUsageError(r, cases[i]?.name ?? "", new RegExp(`^EHARNESS_USAGE: ${flag} needs a value \\(${flag} [^)]+\\)\\.`));
    });
    expect(apiRequests).toEqual([]);
  }, 120_000);

  it("--flag=value is --flag value", async () => {
    const [inline, separate] = await Promise.all([
      harness(["worker", "--agents=0", "--repo=octo/cli"], { GITHUB_API_URL: apiUrl, GITHUB_TOKEN: "t0ken" }),
      harness(["worker", "--agents", "0", "--repo", "octo/cli"], { GITHUB_API_URL: apiUrl, GITHUB_TOKEN: "t0ken" }),
    ]);
    expectUsageError(inline, "worker", /^EHARNESS_USAGE: --agents must be an integer of at least 1, not "0"\./);
    expect(inline.stderr).toBe(separate.stderr);
  }, 60_000);

  it("harness itself: --version, -V, --help, help COMMAND, no command, an unknown command", async () => {
    const [version, short, help, helpWorker, none, unknown, unknownFlag] = await all(
      [["--version"], ["-V"], ["--help"], ["help", "worker"], [], ["nope"], ["--nope"]],
      (args) => harness(args),
    );
    for (const r of [version, short]) expect(r).toEqual({ code: 0, signal: null, stdout: `${VERSION}\n`, stderr: "", left: [] });
    expect(help).toMatchObject({ code: 0, stderr: "", left: [] });
    for (const name of names) expect(help?.stdout).toContain(`harness ${name}`);
    expect(helpWorker).toMatchObject({ code: 0, stdout: COMMANDS.worker.help, stderr: "" });
    // No command: the overview on stderr, then the coded error as the last line.
    expect(none).toMatchObject({ code: 2, stdout: "", left: [] });
    expect(none?.stderr).toContain("harness worker");
    expect(none?.stderr.trimEnd().split("\n").at(-1)).toMatch(/^EHARNESS_USAGE: harness needs a command\. Fix: /);
    expectUsageError(unknown as Run, null, /^EHARNESS_USAGE: unknown command "nope"\./);
    expectUsageError(unknownFlag as Run, null, /^EHARNESS_USAGE: unknown flag "--nope"\./);
  }, 60_000);

  it("summarize reads a file named --help only after --; its errors go to stderr", async () => {
    const r = await harness(["summarize", "--", "--help"]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: "" });
    expect(r.stderr).toMatch(/^EHARNESS_TRANSCRIPT: Cannot summarize --help: the file does not exist\. Fix: /);
  }, 60_000);

  it("a failure that is not a usage error exits 1 (control: without --help the same command does call the API)", async () => {
    const before = apiRequests.length;
    const r = await harness(["reclaim", ...ACTING.reclaim.args], { GITHUB_API_URL: apiUrl, ...ACTING.reclaim.env });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^octo\/cli: /);
    expect(apiRequests.length).toBeGreaterThan(before);
    apiRequests.length = before; // the other tests assert that they caused none
  }, 60_000);
});
