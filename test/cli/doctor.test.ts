import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { doctorCommand, parseDoctorArgs } from "../../src/cli/doctor-command.js";
import { createRepo, leaseHistory, spawnWorker, startBench, type Bench } from "../chaos/worker-kit.js";
import { CLI_PATH } from "../support/run-cli.js";

/**
 * `harness doctor` against the fake GitHub and the scripted model: one line per
 * check and the fixes, or `--json`; exit 1 on a failure. And `harness worker`
 * on a host that fails a check refuses to start with EHARNESS_PREFLIGHT and
 * claims nothing.
 */

const OWNER = "octo-org";
const REPO = "doctor";
let bench: Bench;

beforeAll(async () => {
  bench = await startBench([]);
  await createRepo(bench, OWNER, REPO, "lease:\n  termMinutes: 1\n");
  await bench.github.createIssue(OWNER, REPO, { title: "Task", body: "Write work.txt.", labels: ["harness:queued"] });
});
afterAll(async () => {
  await bench?.close();
});

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: path.join(bench.root, "home"),
    CLAUDE_PATH: CLI_PATH,
    ANTHROPIC_BASE_URL: bench.model.url,
    ANTHROPIC_API_KEY: "scripted-model-key",
    GITHUB_API_URL: bench.github.apiUrl,
    GITHUB_TOKEN: bench.github.token,
    HARNESS_STATE_DIR: path.join(bench.root, "doctor-state"),
    HARNESS_MIN_FREE_DISK_MB: "64",
    ...extra,
  };
}

async function doctor(args: string[], e: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await doctorCommand(args, e, { out: (s) => (out += s), err: (s) => (out += s) });
  return { code, out };
}

describe("harness doctor", () => {
  it("--json: { ok, checks: [{ name, status, detail, fix }] }, exit 0 on a host that passes", async () => {
    const { code, out } = await doctor(["--json", "--for", "worker", "--repo", `${OWNER}/${REPO}`], env());
    const report = JSON.parse(out) as { ok: boolean; checks: { name: string; status: string; detail: string; fix: string }[] };
    expect(Object.keys(report)).toEqual(["ok", "checks"]);
    expect(report.ok).toBe(true);
    expect(code).toBe(0);
    expect(report.checks.map((c) => c.name)).toEqual(["node", "git", "claude-cli", "model", "github", "sandbox", "disk", "state-dir"]);
    for (const check of report.checks) {
      expect(Object.keys(check)).toEqual(["name", "status", "detail", "fix"]);
      expect(["pass", "warn"]).toContain(check.status);
    }
  });

  it("a missing CLI and a wrong token: ✗ lines with the state in words, the fixes, exit 1, no secret printed", async () => {
    const wrong = "ghp_doctorwrongtoken00000000";
    const { code, out } = await doctor(
      ["--for=app", "--repo", `${OWNER}/${REPO}`],
      env({ CLAUDE_PATH: path.join(bench.root, "no-such-claude"), GITHUB_TOKEN: wrong, WEBHOOK_SECRET: "tiny" }),
    );
    expect(code).toBe(1);
    expect(out).toMatch(/^✗ FAIL {2}claude-cli {6}the Claude Code CLI was not found at .*no-such-claude \(CLAUDE_PATH\)/m);
    expect(out).toMatch(/^✗ FAIL {2}github {10}GitHub refused GITHUB_TOKEN \(401/m);
    expect(out).toMatch(/^✗ FAIL {2}webhook-secret {2}WEBHOOK_SECRET is 4 characters long/m);
    expect(out).toMatch(/^✓ pass {2}model /m);
    expect(out).toMatch(/^Fixes:$/m);
    expect(out).toMatch(/^ {2}claude-cli {6}Install the Claude Code CLI/m);
    expect(out).toMatch(/3 failed, \d+ warnings: harness app and worker refuse to start\./);
    expect(out).not.toContain(wrong);
  });

  it("bad flags are usage errors", () => {
    expect(() => parseDoctorArgs(["--for", "server"], {})).toThrow(/EHARNESS_USAGE|--for is app or worker/);
    expect(() => parseDoctorArgs(["--verbose"], {})).toThrow(/doctor does not take/);
    expect(parseDoctorArgs(["--for=worker", "--json"], { HARNESS_REPOSITORIES: "a/b" })).toEqual({
      json: true,
      role: "worker",
      repositories: [{ owner: "a", repo: "b" }],
    });
  });
});

describe("harness worker on a host that fails preflight", () => {
  it("refuses to start with EHARNESS_PREFLIGHT naming the check and its fix, and claims nothing", async () => {
    const stateDir = path.join(bench.root, "refused-state");
    const worker = spawnWorker(bench, {
      stateDir,
      args: ["--agents", "1", "--once", "--repo", `${OWNER}/${REPO}`],
      env: { GITHUB_TOKEN: "ghp_revokedrevokedrevoked0000", CLAUDE_PATH: path.join(bench.root, "no-such-claude") },
    });
    const exit = await worker.exited;
    const stderr = await fs.readFile(worker.stderrFile, "utf8");
    expect(exit, stderr.slice(-3000)).toEqual({ code: 1, signal: null });
    expect(stderr).toMatch(
      /^EHARNESS_PREFLIGHT: harness worker did not start: 2 preflight checks failed: claude-cli: .*; github: GitHub refused GITHUB_TOKEN \(401/m,
    );
    expect(stderr).toContain("Fix: claude-cli: Install the Claude Code CLI");
    expect(stderr).not.toContain("ghp_revokedrevokedrevoked0000");
    // Nothing claimed: the issue is still queued, no lease, no comment, no write at all.
    expect(bench.github.getIssue(OWNER, REPO, 1).labelNames).toEqual(["harness:queued"]);
    expect(leaseHistory(bench, OWNER, REPO, 1)).toEqual([]);
    expect(bench.github.listComments(OWNER, REPO, 1)).toEqual([]);
    expect(bench.github.requestLog.filter((r) => r.write)).toEqual([]);
    expect(worker.stdout).toEqual([]);
  });
});

describe("harness app on a host that fails preflight", () => {
  it("refuses to start with EHARNESS_PREFLIGHT (a short webhook secret) and takes no delivery", async () => {
    const app = spawnWorker(bench, {
      command: "app",
      stateDir: path.join(bench.root, "app-state"),
      args: [],
      env: { WEBHOOK_SECRET: "dev-secret", PORT: "0", HOST: "127.0.0.1", HARNESS_REPOSITORIES: `${OWNER}/${REPO}` },
    });
    const exit = await app.exited;
    const stderr = await fs.readFile(app.stderrFile, "utf8");
    expect(exit, stderr.slice(-3000)).toEqual({ code: 1, signal: null });
    expect(stderr).toMatch(/^EHARNESS_PREFLIGHT: harness app did not start: a preflight check failed: webhook-secret: WEBHOOK_SECRET is 10 characters long/m);
    expect(stderr).toContain("openssl rand -hex 32");
    expect(stderr).not.toContain("harness app listening");
    expect(bench.github.getIssue(OWNER, REPO, 1).labelNames).toEqual(["harness:queued"]);
  });
});
