import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireLock, bootId } from "../../src/adapters/lockfile.js";

const tsx = path.resolve("node_modules/.bin/tsx");
const racer = path.resolve("test/support/lock-racer.ts");

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "harness-lock-"));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe("acquireLock", () => {
  it("gives the lock to one caller and tells the others who holds it", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => acquireLock(dir, "issue-7", `agent-${i}`)));
    const winners = results.filter((r) => r.acquired);
    expect(winners).toHaveLength(1);
    for (const loser of results.filter((r) => !r.acquired)) {
      if (!loser.acquired) expect(loser.holder?.pid).toBe(process.pid);
    }
    const held = JSON.parse(await fs.readFile(path.join(dir, "issue-7.lock"), "utf8")) as { bootId: string; host: string };
    expect(held.host).toBe(os.hostname());
    expect(held.bootId).toBe(await bootId());
    // No temp files are left behind.
    expect((await fs.readdir(dir)).sort()).toEqual(["issue-7.lock"]);
  });

  it("lets exactly one of 10 processes win", async () => {
    // Every contender stays alive until all have answered: a winner that exited
    // would leave a stale lock that the next one rightly breaks.
    const children = Array.from({ length: 10 }, () => spawn(tsx, [racer, dir, "issue-9"], { stdio: ["pipe", "pipe", "inherit"] }));
    const outputs = await Promise.all(
      children.map(
        (child) =>
          new Promise<string>((resolve, reject) => {
            let out = "";
            child.stdout.on("data", (chunk: Buffer) => {
              out += chunk.toString();
              if (out.includes("\n")) resolve(out.trim());
            });
            child.once("exit", (code) => reject(new Error(`racer exited early with ${code}`)));
          }),
      ),
    );
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) => {
            child.once("exit", resolve);
            child.stdin.end();
          }),
      ),
    );
    expect(outputs.filter((o) => o === "won")).toHaveLength(1);
    expect(outputs.filter((o) => o === "lost")).toHaveLength(9);
  });

  it("breaks the lock of a dead process on this boot, and keeps a live one", async () => {
    const dead = { pid: 2 ** 22 + 12345, host: os.hostname(), bootId: await bootId(), startedAt: new Date().toISOString(), agent: "ghost" };
    await fs.writeFile(path.join(dir, "issue-3.lock"), JSON.stringify(dead));
    const taken = await acquireLock(dir, "issue-3", "agent-1");
    expect(taken.acquired).toBe(true);

    const again = await acquireLock(dir, "issue-3", "agent-2");
    expect(again.acquired).toBe(false);
    if (taken.acquired) await taken.release();
    const afterRelease = await acquireLock(dir, "issue-3", "agent-2");
    expect(afterRelease.acquired).toBe(true);
  });

  it("lets exactly one of many breakers take over a dead process's lock", async () => {
    const dead = { pid: 2 ** 22 + 12346, host: os.hostname(), bootId: await bootId(), startedAt: new Date().toISOString(), agent: "ghost" };
    for (let round = 0; round < 20; round += 1) {
      await fs.writeFile(path.join(dir, `issue-${round}.lock`), JSON.stringify(dead));
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => acquireLock(dir, `issue-${round}`, `agent-${i}`)));
      expect(results.filter((r) => r.acquired)).toHaveLength(1);
      for (const r of results) if (!r.acquired) expect(r.holder?.agent).toMatch(/^agent-/);
    }
    // No guards, temp files or moved-aside locks are left behind.
    expect((await fs.readdir(dir)).filter((f) => !/^issue-\d+\.lock$/.test(f))).toEqual([]);
  });

  it("never breaks a lock from another host", async () => {
    const foreign = { pid: 2 ** 22 + 12345, host: "other-host", bootId: "x", startedAt: new Date().toISOString(), agent: "far" };
    await fs.writeFile(path.join(dir, "issue-4.lock"), JSON.stringify(foreign));
    const result = await acquireLock(dir, "issue-4", "agent-1");
    expect(result.acquired).toBe(false);
    if (!result.acquired) expect(result.holder?.host).toBe("other-host");
  });

  it("release removes only its own lock", async () => {
    const first = await acquireLock(dir, "issue-5", "agent-1");
    if (!first.acquired) throw new Error("expected the lock");
    // Someone replaced the file (e.g. broke it as stale): our release must not remove theirs.
    await fs.rename(path.join(dir, "issue-5.lock"), path.join(dir, "moved"));
    await fs.writeFile(path.join(dir, "issue-5.lock"), "{}");
    await first.release();
    expect(await fs.readFile(path.join(dir, "issue-5.lock"), "utf8")).toBe("{}");
  });
});
