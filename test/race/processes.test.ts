import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseLease } from "../../src/core/lease.js";
import type { FakeGitHub } from "../../src/offline/fake-github/index.js";
import { judge, OWNER, PREFIX, REPO, startRaceFake, TERM_MS, trialTime, type Contender, type Trial } from "./race-kit.js";

/** (a) 10 processes on one host: each takes the lockfile, then the lease. */
const PROCESSES = 10;
const TRIALS = Number(process.env.RACE_TRIALS_PROCESSES ?? process.env.RACE_TRIALS ?? 200);
const tsx = path.resolve("node_modules/.bin/tsx");
const racerScript = path.resolve("test/support/lock-racer.ts");

interface Racer {
  agent: string;
  child: ChildProcessWithoutNullStreams;
  next(): Promise<string>;
}

function startRacer(fake: FakeGitHub, stateDir: string, agent: string): Racer {
  const child = spawn(tsx, [racerScript, "--serve", stateDir, fake.apiUrl, fake.token, OWNER, REPO, PREFIX, agent], { stdio: ["pipe", "pipe", "pipe"] });
  const queue: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  createInterface({ input: child.stdout }).on("line", (line) => {
    const w = waiting.shift();
    if (w) w(line);
    else queue.push(line);
  });
  child.once("exit", (code) => {
    for (const w of waiting.splice(0)) w(JSON.stringify({ error: `racer ${agent} exited with ${code}: ${stderr}` }));
  });
  return { agent, child, next: () => new Promise((resolve) => (queue.length ? resolve(queue.shift() ?? "") : waiting.push(resolve))) };
}

let fake: FakeGitHub;
let stateDir: string;
let racers: Racer[] = [];

beforeAll(async () => {
  fake = await startRaceFake();
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "harness-race-procs-"));
  racers = Array.from({ length: PROCESSES }, (_, i) => startRacer(fake, stateDir, `proc-${i}`));
  const ready = await Promise.all(racers.map((r) => r.next()));
  expect(ready).toEqual(racers.map(() => "ready"));
});

afterAll(async () => {
  await Promise.all(
    racers.map((r) => new Promise((resolve) => (r.child.exitCode !== null ? resolve(null) : (r.child.once("exit", resolve), r.child.stdin.end())))),
  );
  await fake?.close();
  if (stateDir) await fs.rm(stateDir, { recursive: true, force: true });
});

describe(`${PROCESSES} processes on one host (lockfile, then lease)`, () => {
  it(
    `exactly one winner in each of ${TRIALS} trials, a single-chain ref history, clear answers`,
    async () => {
      const problems: string[] = [];
      for (let t = 0; t < TRIALS; t += 1) {
        const issue = 1 + t;
        const line = JSON.stringify({ issue, now: trialTime(issue).toISOString(), termMs: TERM_MS });
        for (const r of racers) r.child.stdin.write(`${line}\n`);
        const answers = await Promise.all(
          racers.map(async (r) => ({
            agent: r.agent,
            answer: JSON.parse(await r.next()) as { issue: number; won: boolean; lock?: string; reason?: string; sha?: string; error?: string },
          })),
        );
        const contenders: Contender[] = [];
        for (const { agent, answer } of answers) {
          if (answer.issue !== issue) problems.push(`#${issue}: ${agent} answered for #${answer.issue}`);
          let result: Contender["result"];
          if (answer.error !== undefined) result = { error: answer.error };
          else if (answer.lock !== undefined) result = { lock: answer.lock };
          else if (answer.won && answer.sha)
            result = { ok: true, head: { sha: answer.sha, record: parseLease((await fake.readCommit(OWNER, REPO, answer.sha)).message) } };
          else result = { ok: false, reason: answer.reason ?? "", holder: null };
          contenders.push({ name: agent, owner: "ok" in result && result.ok ? result.head.record.owner : null, result });
        }
        const trial: Trial = { issue, start: "absent", base: null, contenders };
        problems.push(...(await judge(fake, trial)).problems);
      }
      expect(problems).toEqual([]);
      // Every trial left exactly one lock file behind (the winner's), and no temp files.
      const files = await fs.readdir(stateDir);
      expect(files.filter((f) => f.endsWith(".lock"))).toHaveLength(TRIALS);
      expect(files.filter((f) => !f.endsWith(".lock"))).toEqual([]);
    },
    60_000 + TRIALS * 500,
  );
});
