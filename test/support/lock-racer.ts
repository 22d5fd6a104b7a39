// One contender in a multi-process race.
//
// tsx test/support/lock-racer.ts <dir> <name>
//   Takes the lockfile once, prints "won" or "lost", then holds on (a winner keeps its
//   lock alive) until stdin closes.
//
// tsx test/support/lock-racer.ts --serve <stateDir> <apiUrl> <token> <owner> <repo> <prefix> <agent>
//   A long-lived racer for many trials: prints "ready", then for each JSON line
//   `{"issue": N, "now": ISO, "termMs": T}` on stdin takes the lockfile `issue-N` in the
//   state directory, then (if it got it) claims the lease ref, and prints one JSON line
//   `{"issue", "won", "lock"?, "reason"?, "sha"?, "error"?}`. Locks are kept until exit, as
//   a worker keeps its lock while it works the issue.
import os from "node:os";
import { createInterface } from "node:readline";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { WriteBudget } from "../../src/core/write-budget.js";
import { LeaseStore } from "../../src/adapters/github-lease.js";
import { acquireLock } from "../../src/adapters/lockfile.js";
import { testOctokit } from "./octokit.js";

const args = process.argv.slice(2);

if (args[0] === "--serve") {
  const [, stateDir, apiUrl, token, owner, repo, prefix, agent] = args;
  if (!stateDir || !apiUrl || !token || !owner || !repo || !prefix || !agent)
    throw new Error("usage: lock-racer --serve <stateDir> <apiUrl> <token> <owner> <repo> <prefix> <agent>");
  // A write budget that never waits: one process may win the lockfile of most of
  // 200 trials, which the process's 80-writes-a-minute budget would otherwise pace
  // (the fake enforces no quota; the race is the subject).
  const budget = new WriteBudget({ perSecond: Infinity, perMinute: Infinity, perHour: Infinity });
  const github = new GitHubClient(testOctokit({ baseUrl: apiUrl, token }), { owner, repo }, { budget });
  const store = new LeaseStore(github, prefix, { backoffMs: () => 1, rateLimitFallbackMs: 2, maxWaitMs: 2_000 });
  const me = { agent, host: os.hostname(), runId: `run-${process.pid}` };
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    void (async () => {
      const { issue, now, termMs } = JSON.parse(line) as { issue: number; now: string; termMs: number };
      try {
        const lock = await acquireLock(stateDir, `issue-${issue}`, agent);
        if (!lock.acquired) {
          const holder = lock.holder ? `${lock.holder.agent} (pid ${lock.holder.pid})` : "another process";
          process.stdout.write(`${JSON.stringify({ issue, won: false, lock: `held on this host by ${holder}` })}\n`);
          return;
        }
        const result = await store.claim({ issue, owner: me, now: new Date(now), termMs, sessionId: `s-${issue}-${agent}` });
        if (!result.ok) await lock.release();
        process.stdout.write(`${JSON.stringify(result.ok ? { issue, won: true, sha: result.head.sha } : { issue, won: false, reason: result.reason })}\n`);
      } catch (error) {
        process.stdout.write(`${JSON.stringify({ issue, won: false, error: error instanceof Error ? error.message : String(error) })}\n`);
      }
    })();
  });
  lines.on("close", () => process.exit(0));
  process.stdout.write("ready\n");
} else {
  const [dir, name] = args;
  if (!dir || !name) throw new Error("usage: lock-racer <dir> <name>");
  const result = await acquireLock(dir, name, `agent-${process.pid}`);
  process.stdout.write(result.acquired ? "won\n" : "lost\n");
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
}
