import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { promises as fs, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * SLOW (about two minutes: npm pack builds, the install copies the Claude CLI's binary, the demo
 * runs a real session). The install paths of the README, as a user would take them:
 *
 * - `npm pack` (its prepack cleans and builds dist/), the tarball installed into an empty directory
 *   with `npm install --omit=dev`, and `harness --version`, `harness offline --help` and
 *   `harness demo` run from there: the shipped code needs no devDependency and nothing of test/;
 * - from the clone, `npm link` into a temporary prefix (npm_config_prefix), and `harness --version`
 *   through the linked bin.
 *
 * npm's cache is warm on our machines (`--prefer-offline`).
 *
 * The build is the cost of `npm pack` (a full `tsc` of src/, about 40 s of CPU), and what it
 * builds is the same as long as its inputs are: after a pack that built dist/ (prepack: clean +
 * build), the hash of those inputs (every file under src/, package.json, tsconfig*.json, the
 * TypeScript version) is kept in dist/.build-inputs (outside `files`, so not shipped). A later run
 * whose inputs hash the same packs with `--ignore-scripts` (the dist/ of that clean build); any
 * change to an input, or no stamp, and npm pack cleans and builds as before. HARNESS_PACK_REBUILD=1
 * always builds.
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;

const STAMP = path.join(ROOT, "dist", ".build-inputs");

/** The hash of everything `npm run build` reads: src/ (every file, by path and content), package.json, tsconfig*.json, TypeScript's version. */
async function buildInputsHash(): Promise<string> {
  const hash = createHash("sha256");
  const files: string[] = [];
  for (const entry of await fs.readdir(path.join(ROOT, "src"), { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files.push(path.relative(ROOT, path.join(entry.parentPath, entry.name)));
  }
  files.push("package.json", "tsconfig.json", "tsconfig.build.json", "node_modules/typescript/package.json");
  for (const file of files.sort()) {
    hash.update(`${file}\0`);
    hash.update(await fs.readFile(path.join(ROOT, file)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

/** True when dist/ is the clean build of exactly the inputs of now (the stamp matches, the entry point is there). */
async function distIsFresh(inputs: string): Promise<boolean> {
  if (process.env.HARNESS_PACK_REBUILD === "1") return false;
  const stamp = await fs.readFile(STAMP, "utf8").catch(() => "");
  if (stamp.trim() !== inputs) return false;
  return fs.access(path.join(ROOT, "dist", "src", "cli", "main.js")).then(
    () => true,
    () => false,
  );
}

let root: string;
let installDir: string;
let harnessBin: string;

/** The environment of a user's shell: no npm_* variables of the test runner, HOME and TMPDIR of our own. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith("npm_") && k !== "NODE_OPTIONS") env[k] = v;
  return { ...env, TMPDIR: path.join(root, "tmp"), HARNESS_STATE_DIR: path.join(root, "state"), ...extra };
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-pack-"));
  await fs.mkdir(path.join(root, "tmp"));
}, 60_000);

afterAll(async () => {
  if (root) await fs.rm(root, { recursive: true, force: true });
});

describe("install from the packed tarball, without devDependencies (slow)", () => {
  it("npm pack ships dist/, prompts/, examples/, the forwarder, the knowledge server and app.yml, and nothing of src/*.ts or test/", async () => {
    const packDir = path.join(root, "pack");
    await fs.mkdir(packDir);
    const inputs = await buildInputsHash();
    const fresh = await distIsFresh(inputs);
    // Fresh: the dist/ of a clean build of these very inputs, packed as it is; else prepack cleans and builds.
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", packDir, ...(fresh ? ["--ignore-scripts"] : [])], {
      cwd: ROOT,
      env: userEnv(),
      maxBuffer: 64 * 1024 * 1024,
    });
    // Only a pack whose prepack just built dist/ from these inputs writes the stamp (and only when they did not change meanwhile).
    if (!fresh && (await buildInputsHash()) === inputs) await fs.writeFile(STAMP, `${inputs}\n`);
    const [pack] = JSON.parse(stdout.slice(stdout.indexOf("["))) as { filename: string; files: { path: string }[] }[];
    const files = (pack?.files ?? []).map((f) => f.path);
    for (const needed of [
      "package.json",
      "README.md",
      "app.yml",
      "dist/src/cli/main.js",
      "prompts/task.md",
      "examples/demo/scenario.yaml",
      "examples/demo/repo/.github/harness.yml",
      "sandbox/forwarder.mjs",
      "sandbox/knowledge-mcp.mjs",
    ]) {
      expect(files, needed).toContain(needed);
    }
    expect(files.filter((f) => /^(test|bench|src|scripts|action|node_modules)\//.test(f) || f.endsWith(".ts") || f.endsWith(".map"))).toEqual([]);

    installDir = path.join(root, "install");
    await fs.mkdir(installDir);
    await fs.writeFile(path.join(installDir, "package.json"), '{ "name": "harness-install-test", "private": true }\n');
    await run("npm", ["install", "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund", path.join(packDir, pack?.filename ?? "")], {
      cwd: installDir,
      env: userEnv(),
      maxBuffer: 64 * 1024 * 1024,
    });
    harnessBin = path.join(installDir, "node_modules", ".bin", "harness");
    const installed = path.join(installDir, "node_modules");
    // The devDependencies are not there: the bin runs without them.
    for (const dev of ["tsx", "vitest", "typescript", "nock", "esbuild"]) await expect(fs.access(path.join(installed, dev)), dev).rejects.toThrow();
    await fs.access(path.join(installed, "@anthropic-ai", "claude-code", "package.json"));
  }, 300_000);

  it("harness --version and harness offline --help run from the install", async () => {
    const version = await run(harnessBin, ["--version"], { cwd: installDir, env: userEnv() });
    expect(version.stdout).toBe(`${VERSION}\n`);
    const help = await run(harnessBin, ["offline", "--help"], { cwd: installDir, env: userEnv() });
    expect(help.stdout).toMatch(/^Usage: harness offline /);
    expect(help.stderr).toBe("");
  }, 60_000);

  it("harness demo runs from the install, with the Claude CLI of the package's own dependency", async () => {
    // PATH without the repository's node_modules/.bin: the CLI found is the installed package's dependency.
    const PATH = (process.env.PATH ?? "")
      .split(path.delimiter)
      .filter((d) => !d.includes("node_modules"))
      .join(path.delimiter);
    const { stdout } = await run(harnessBin, ["demo"], { cwd: installDir, env: userEnv({ PATH, HOME: path.join(root, "home") }), maxBuffer: 64 * 1024 * 1024 });
    expect(stdout).toContain("== labels now: harness:done");
    expect(stdout).toMatch(/Pull request \| #\d+/);
  }, 300_000);
});

describe("install from a clone with npm link (slow)", () => {
  it("npm link into a prefix puts a harness bin there that runs the clone's build", async () => {
    const prefix = path.join(root, "prefix");
    await run("npm", ["link", "--no-audit", "--no-fund"], { cwd: ROOT, env: userEnv({ npm_config_prefix: prefix }) });
    const { stdout } = await run(path.join(prefix, "bin", "harness"), ["--version"], { env: userEnv() });
    expect(stdout).toBe(`${VERSION}\n`);
  }, 120_000);
});
