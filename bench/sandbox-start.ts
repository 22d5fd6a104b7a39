/**
 * What the bwrap sandbox adds to starting a process.
 *
 *   npm run bench -- sandbox-start [--reps 50] [--quick]
 *
 * Alternates, `--reps` times: plain `/usr/bin/true`, then `/usr/bin/true`
 * wrapped by the bwrap backend (src/adapters/sandbox/bwrap.ts) with a session's
 * shape of mounts (a worktree and a HOME rw, a read-only directory), once with
 * network "isolated" (its own network namespace) and once "open". Each is one
 * spawnSync from start to exit. The budget is ≤ 100 ms per session
 * start. Last line:
 * {"bench":"sandbox-start","reps":…,"plainMs":…,"isolatedMs":…,"openMs":…,"overheadMs":…}
 * where overheadMs = median(isolated) − median(plain).
 */
import { spawnSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createSandbox, type SandboxCommand, type SandboxSpec } from "../src/adapters/sandbox/sandbox.js";
import { median, positive, printTable, round } from "./_kit.js";

export interface SandboxStartBenchResult {
  bench: "sandbox-start";
  reps: number;
  plainMs: number;
  isolatedMs: number;
  openMs: number;
  overheadMs: number;
}

function timed(command: SandboxCommand): number {
  const t0 = performance.now();
  const r = spawnSync(command.file, command.args, { env: command.env, stdio: ["ignore", "ignore", "pipe"] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${command.file} ${command.args.join(" ")} failed: ${r.stderr.toString("utf8").slice(-500)}`);
  return ms;
}

export async function runSandboxStartBench(args: string[]): Promise<SandboxStartBenchResult> {
  const { values } = parseArgs({ args, options: { reps: { type: "string" }, quick: { type: "boolean" } }, allowPositionals: true });
  const reps = Math.max(1, Math.floor(positive(values.reps, "reps", values.quick === true ? 10 : 50)));
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-bench-sandbox-"));
  try {
    const worktree = path.join(root, "worktree");
    const home = path.join(root, "home");
    const readOnly = path.join(root, "ro");
    await Promise.all([worktree, home, readOnly].map((d) => fs.mkdir(d)));
    const sandbox = createSandbox("bwrap");
    await sandbox.preflight();
    const spec = (network: SandboxSpec["network"]): SandboxSpec => ({
      cwd: worktree,
      env: { PATH: "/usr/bin:/bin", HOME: home },
      mounts: [
        { source: worktree, mode: "rw" },
        { source: home, mode: "rw" },
        { source: readOnly, mode: "ro" },
      ],
      network,
    });
    const plain: SandboxCommand = { file: "/usr/bin/true", args: [], env: {} };
    const isolated = sandbox.wrap("/usr/bin/true", [], spec("isolated"));
    const open = sandbox.wrap("/usr/bin/true", [], spec("open"));
    const plainMs: number[] = [];
    const isolatedMs: number[] = [];
    const openMs: number[] = [];
    for (let i = 0; i < reps; i += 1) {
      plainMs.push(timed(plain));
      isolatedMs.push(timed(isolated));
      openMs.push(timed(open));
    }
    const result: SandboxStartBenchResult = {
      bench: "sandbox-start",
      reps,
      plainMs: round(median(plainMs), 2),
      isolatedMs: round(median(isolatedMs), 2),
      openMs: round(median(openMs), 2),
      overheadMs: round(median(isolatedMs) - median(plainMs), 2),
    };
    const ms = (n: number): string => `${n.toFixed(1)} ms`;
    printTable(
      `process start, ${reps} repetitions each, interleaved`,
      ["", "median", "min", "max"],
      [
        ["true", ms(result.plainMs), ms(Math.min(...plainMs)), ms(Math.max(...plainMs))],
        ["bwrap … true (network isolated)", ms(result.isolatedMs), ms(Math.min(...isolatedMs)), ms(Math.max(...isolatedMs))],
        ["bwrap … true (network open)", ms(result.openMs), ms(Math.min(...openMs)), ms(Math.max(...openMs))],
      ],
    );
    console.log(`  sandbox overhead per start ${ms(result.overheadMs)} (budget 100 ms)`);
    console.log(JSON.stringify(result));
    return result;
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

export default async function main(args: string[]): Promise<void> {
  await runSandboxStartBench(args);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
