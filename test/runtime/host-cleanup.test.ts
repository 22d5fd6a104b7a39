import { spawn, spawnSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bootId } from "../../src/adapters/lockfile.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { assertFreeDisk } from "../../src/runtime/free-disk.js";
import { killOrphanedAgents } from "../../src/runtime/orphans.js";
import { pruneWorktrees } from "../../src/runtime/prune-worktrees.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { workerFile, writeJsonAtomic } from "../../src/runtime/worker-registry.js";
import { markedProcesses, waitFor } from "../chaos/worker-kit.js";

/** What a worker does to its host before its agents start: disk check, orphans, stale worktrees. */

let root: string;
let state: StateDir;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-cleanup-"));
  state = new StateDir(root);
});

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const deadPid = (): number => Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);

async function workerRecord(workerId: string, pid: number, agents: string[]): Promise<void> {
  await writeJsonAtomic(workerFile(state, workerId), {
    workerId,
    pid,
    host: os.hostname(),
    bootId: await bootId(),
    startedAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    repositories: [],
    agents: agents.map((agent) => ({ agent, state: "working", repository: null, issue: null, since: new Date().toISOString(), claimed: 1 })),
  });
}

describe("assertFreeDisk", () => {
  it("refuses below the threshold with EHARNESS_DISK and a fix", async () => {
    const statfs = async (): Promise<{ bavail: number; bsize: number }> => ({ bavail: 100, bsize: 1024 * 1024 });
    await expect(assertFreeDisk(root, 2048, statfs)).rejects.toMatchObject({
      code: "EHARNESS_DISK",
      message: expect.stringMatching(/Only 100 MiB/),
      fix: expect.stringMatching(/HARNESS_MIN_FREE_DISK_MB/),
    });
    await expect(assertFreeDisk(root, 50, statfs)).resolves.toBe(100);
  });
});

describe("killOrphanedAgents", () => {
  it("kills the processes of a dead worker's agents and keeps a live worker's", async () => {
    const sleeper = (marker: string): number => {
      const child = spawn("sleep", ["120"], { env: { PATH: process.env.PATH, HARNESS_AGENT_ID: marker }, stdio: "ignore", detached: true });
      child.unref();
      return child.pid ?? -1;
    };
    const tag = `t${process.pid}`;
    sleeper(`${tag}dead-a1-session-1`);
    sleeper(`${tag}dead-a10-session-2`);
    const live = sleeper(`${tag}live-a1-session-3`);
    await workerRecord(`${tag}dead`, deadPid(), [`${tag}dead-a1`]);
    await workerRecord(`${tag}live`, process.pid, [`${tag}live-a1`]);
    await writeJsonAtomic(state.agentFile(`${tag}dead-a1`), { agent: `${tag}dead-a1`, host: os.hostname(), pid: 1 });
    try {
      await waitFor("the sleepers", async () => (await markedProcesses(tag)).length === 3, 5_000);
      const sweep = await killOrphanedAgents(state, silentLogger());
      expect(sweep).toEqual({ deadWorkers: [`${tag}dead`], killed: 1 });
      await waitFor("the orphan to go", async () => (await markedProcesses(`${tag}dead-a1-`)).length === 0, 5_000);
      // a10 is another agent (never listed), the live worker's agent is untouched.
      expect(await markedProcesses(`${tag}dead-a10-`)).toHaveLength(1);
      expect(await markedProcesses(`${tag}live-`)).toEqual([live]);
      expect(await fs.readdir(path.join(root, "workers"))).toEqual([`${tag}live.json`]);
      expect(await fs.readdir(state.agentsDir())).toEqual([]);
    } finally {
      for (const pid of await markedProcesses(tag)) process.kill(pid, "SIGKILL");
    }
  });
});

describe("pruneWorktrees", () => {
  it("removes worktrees no live lock owns and keeps the others", async () => {
    const stale = path.join(root, "worktrees", "o--r--issue-1");
    const held = path.join(root, "worktrees", "o--r--issue-2");
    const deadLock = path.join(root, "worktrees", "o--r--issue-3");
    for (const dir of [stale, held, deadLock]) await fs.mkdir(path.join(dir, "src"), { recursive: true });
    const lock = async (issue: number, pid: number): Promise<void> =>
      writeJsonAtomic(path.join(state.claims(), `o--r--issue-${issue}.lock`), { pid, host: os.hostname(), bootId: await bootId(), startedAt: "", agent: "a" });
    await lock(2, process.pid);
    await lock(3, deadPid());
    expect((await pruneWorktrees(state, silentLogger())).sort()).toEqual(["o--r--issue-1", "o--r--issue-3"]);
    expect(await fs.readdir(path.join(root, "worktrees"))).toEqual(["o--r--issue-2"]);
  });
});
