/**
 * What the bwrap sandbox adds to starting a process.
 *
 *   npm run bench -- sandbox-start [--reps 50] [--quick] [--sandbox uid]
 *
 * Alternates, `--reps` times: plain `/usr/bin/true`, then `/usr/bin/true`
 * wrapped by the bwrap backend (src/adapters/sandbox/bwrap.ts) with a session's
 * shape of mounts (a worktree and a HOME rw, a read-only directory), once with
 * network "isolated" (its own network namespace) and once "open". Each is one
 * spawnSync from start to exit. A fourth side is the whole start of a session's
 * sandbox as the harness does it (src/runtime/agent-sandbox.ts): the model and
 * egress proxies started on their unix sockets, the forwarder (node) listening
 * inside bwrap, `/usr/bin/true` in place of the CLI, then the proxies closed. The
 * issue's budget is ≤ 100 ms per session start. Not included: the agent git dir
 * (the worktree bench measures it) and the CLI's own start. Last line:
 * {"bench":"sandbox-start","reps":…,"plainMs":…,"isolatedMs":…,"openMs":…,"overheadMs":…,"sessionMs":…,"sessionOverheadMs":…}
 * where overheadMs = median(isolated) − median(plain), sessionOverheadMs = median(session) − median(plain).
 * With `--sandbox uid` (as root) the uid backend (src/adapters/sandbox/uid.ts) is measured beside
 * bwrap, interleaved: its process start (`uidIsolatedMs`) and a whole session's start (`uidSessionMs`,
 * which includes the claim: the slot's lock, the chowns and chmods), and the JSON line gains
 * uidIsolatedMs, uidOverheadMs, uidSessionMs, uidSessionOverheadMs.
 */
import { spawnSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { silentLogger } from "../src/adapters/logger.js";
import { createSandbox, type Sandbox, type SandboxCommand, type SandboxSpec } from "../src/adapters/sandbox/sandbox.js";
import { forwarderPath } from "../src/cli/paths.js";
import { openAgentSandbox } from "../src/runtime/agent-sandbox.js";
import { median, positive, printTable, round } from "./_kit.js";

export interface SandboxStartBenchResult {
  bench: "sandbox-start";
  reps: number;
  plainMs: number;
  isolatedMs: number;
  openMs: number;
  overheadMs: number;
  sessionMs: number;
  sessionOverheadMs: number;
  uidIsolatedMs?: number;
  uidOverheadMs?: number;
  uidSessionMs?: number;
  uidSessionOverheadMs?: number;
}

function timed(command: SandboxCommand): number {
  const t0 = performance.now();
  const r = spawnSync(command.file, command.args, { env: command.env, stdio: ["ignore", "ignore", "pipe"] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${command.file} ${command.args.join(" ")} failed: ${r.stderr.toString("utf8").slice(-500)}`);
  return ms;
}

export async function runSandboxStartBench(args: string[]): Promise<SandboxStartBenchResult> {
  const { values } = parseArgs({
    args,
    options: { reps: { type: "string" }, quick: { type: "boolean" }, sandbox: { type: "string" } },
    allowPositionals: true,
  });
  const reps = Math.max(1, Math.floor(positive(values.reps, "reps", values.quick === true ? 10 : 50)));
  if (values.sandbox !== undefined && values.sandbox !== "uid") throw new Error(`--sandbox takes uid (bwrap is always measured), not "${values.sandbox}"`);
  const withUid = values.sandbox === "uid";
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-bench-sandbox-"));
  // The uid backend's slots pass through the bench's directory (as through a state directory).
  if (withUid) await fs.chmod(root, 0o711);
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
    const agentGit = path.join(root, "agent.git");
    const objects = path.join(root, "objects");
    await Promise.all([agentGit, objects].map((d) => fs.mkdir(d)));
    const uid = withUid ? createSandbox("uid", { uids: "29500-29503" }) : undefined;
    await uid?.preflight();
    // The uid runs get directories of their own: a claimed one is the slot's (0700), closed to bwrap's runs.
    const uidBase = path.join(root, "uid");
    if (uid)
      for (const d of ["worktree", "home", "ro", "agent.git", "objects", "session/worktree", "session/home"])
        await fs.mkdir(path.join(uidBase, d), { recursive: true });
    /** One session's sandbox from its start to its end, with `true` as the CLI. */
    const session = async (backend: Sandbox = sandbox): Promise<number> => {
      const t0 = performance.now();
      const own = backend === sandbox ? { worktree, home } : { worktree: path.join(uidBase, "session/worktree"), home: path.join(uidBase, "session/home") };
      const opened = await openAgentSandbox({
        sandbox: backend,
        nodePath: process.execPath,
        forwarderPath: forwarderPath(),
        network: { network: "isolated", allowHosts: [] },
        modelEnv: { ANTHROPIC_BASE_URL: "http://127.0.0.1:9", ANTHROPIC_API_KEY: "bench-key" },
        worktree: own.worktree,
        agentGitDir: backend === sandbox ? agentGit : path.join(uidBase, "agent.git"),
        objectsDir: backend === sandbox ? objects : path.join(uidBase, "objects"),
        home: own.home,
        readOnlyFiles: [],
        cliPath: "/usr/bin/true",
        log: silentLogger(),
      });
      try {
        const command = opened.wrap?.("/usr/bin/true", [], { PATH: "/usr/bin:/bin", HOME: own.home, ...opened.modelEnv });
        if (command === undefined) throw new Error("the bwrap backend gave no wrapped command");
        const r = await execa(command.file, command.args, { env: command.env, extendEnv: false, reject: false, stdin: "ignore" });
        if (r.exitCode !== 0) throw new Error(`the session's sandbox failed: ${String(r.stderr).slice(-500)}`);
      } finally {
        await opened.close();
      }
      return performance.now() - t0;
    };
    await session(); // warm-up: node and bwrap in the page cache
    if (uid) await session(uid);
    // The uid backend's bare start: a slot claimed once for the worktree and HOME.
    const uidSpec: SandboxSpec = {
      cwd: path.join(uidBase, "worktree"),
      env: { PATH: "/usr/bin:/bin", HOME: path.join(uidBase, "home") },
      mounts: [
        { source: path.join(uidBase, "worktree"), mode: "rw" },
        { source: path.join(uidBase, "home"), mode: "rw" },
        { source: path.join(uidBase, "ro"), mode: "ro" },
      ],
      network: "isolated",
    };
    const uidClaim = uid ? await uid.claim?.(uidSpec.mounts) : undefined;
    const uidIsolated = uid && uidClaim ? uid.wrap("/usr/bin/true", [], { ...uidSpec, user: uidClaim.user }) : undefined;
    const uidIsolatedMs: number[] = [];
    const uidSessionMs: number[] = [];
    const sessionMs: number[] = [];
    const plainMs: number[] = [];
    const isolatedMs: number[] = [];
    const openMs: number[] = [];
    for (let i = 0; i < reps; i += 1) {
      plainMs.push(timed(plain));
      isolatedMs.push(timed(isolated));
      openMs.push(timed(open));
      sessionMs.push(await session());
      if (uid && uidIsolated) {
        uidIsolatedMs.push(timed(uidIsolated));
        // A session claims a slot of its own (the bare start still holds the first).
        uidSessionMs.push(await session(uid));
      }
    }
    await uidClaim?.release();
    const result: SandboxStartBenchResult = {
      bench: "sandbox-start",
      reps,
      plainMs: round(median(plainMs), 2),
      isolatedMs: round(median(isolatedMs), 2),
      openMs: round(median(openMs), 2),
      overheadMs: round(median(isolatedMs) - median(plainMs), 2),
      sessionMs: round(median(sessionMs), 2),
      sessionOverheadMs: round(median(sessionMs) - median(plainMs), 2),
      ...(uid
        ? {
            uidIsolatedMs: round(median(uidIsolatedMs), 2),
            uidOverheadMs: round(median(uidIsolatedMs) - median(plainMs), 2),
            uidSessionMs: round(median(uidSessionMs), 2),
            uidSessionOverheadMs: round(median(uidSessionMs) - median(plainMs), 2),
          }
        : {}),
    };
    const ms = (n: number): string => `${n.toFixed(1)} ms`;
    printTable(
      `process start, ${reps} repetitions each, interleaved`,
      ["", "median", "min", "max"],
      [
        ["true", ms(result.plainMs), ms(Math.min(...plainMs)), ms(Math.max(...plainMs))],
        ["bwrap … true (network isolated)", ms(result.isolatedMs), ms(Math.min(...isolatedMs)), ms(Math.max(...isolatedMs))],
        ["bwrap … true (network open)", ms(result.openMs), ms(Math.min(...openMs)), ms(Math.max(...openMs))],
        ["session sandbox: proxies + bwrap + forwarder + true", ms(result.sessionMs), ms(Math.min(...sessionMs)), ms(Math.max(...sessionMs))],
        ...(uid
          ? [
              ["uid: unshare + setpriv … true (network isolated)", ms(median(uidIsolatedMs)), ms(Math.min(...uidIsolatedMs)), ms(Math.max(...uidIsolatedMs))],
              [
                "session sandbox: claim + proxies + uid + forwarder + true",
                ms(median(uidSessionMs)),
                ms(Math.min(...uidSessionMs)),
                ms(Math.max(...uidSessionMs)),
              ],
            ]
          : []),
      ],
    );
    console.log(`  bwrap overhead per start ${ms(result.overheadMs)}; a session's whole sandbox start ${ms(result.sessionOverheadMs)} (budget 100 ms)`);
    if (result.uidSessionOverheadMs !== undefined)
      console.log(
        `  uid overhead per start ${ms(result.uidOverheadMs ?? 0)}; a session's whole uid sandbox start ${ms(result.uidSessionOverheadMs)} (bwrap: ${ms(result.sessionOverheadMs)})`,
      );
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
