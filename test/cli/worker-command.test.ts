import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario } from "../../src/offline/model-server.js";
import { createRepo, leaseHistory, spawnWorker, startBench, type Bench } from "../chaos/worker-kit.js";

/**
 * `harness worker --agents 3 --once` as a child process (tsx) against the fake
 * GitHub and the scripted model, with the real CLI: six queued issues are
 * drained with exactly-once claims.
 */

const OWNER = "octo-org";
const REPO = "drain";
const ISSUES = 6;
let bench: Bench;

beforeAll(async () => {
  bench = await startBench([await loadScenario(path.resolve("test/fixtures/scenarios/worker-drain.yaml"))]);
  await createRepo(bench, OWNER, REPO, "lease:\n  termMinutes: 1\n");
  for (let i = 1; i <= ISSUES; i += 1) {
    await bench.github.createIssue(OWNER, REPO, { title: `Task ${i}`, body: `[scenario:drain] Write work.txt for task ${i}.`, labels: ["harness:queued"] });
  }
});

afterAll(async () => {
  await bench?.close();
});

describe("harness worker --agents 3 --once", () => {
  it("drains the queue: one claim, one PR and one summary per issue, and exits clean", async () => {
    const stateDir = path.join(bench.root, "state");
    // A session directory a previous worker left three days ago: past a retention of one day.
    const stale = path.join(stateDir, "sessions", "0ld-5e55i0n-attempt-1");
    await fs.mkdir(path.join(stale, "home"), { recursive: true });
    const threeDaysAgo = new Date(Date.now() - 3 * 24 * 60 * 60_000);
    await fs.utimes(path.join(stale, "home"), threeDaysAgo, threeDaysAgo);
    await fs.utimes(stale, threeDaysAgo, threeDaysAgo);
    const worker = spawnWorker(bench, {
      stateDir,
      args: ["--agents", "3", "--once", "--repo", `${OWNER}/${REPO}`],
      env: { HARNESS_SESSION_RETENTION_DAYS: "1" },
    });
    const exit = await worker.exited;
    const log = await fs.readFile(worker.stderrFile, "utf8");
    expect(exit, log.slice(-4000)).toEqual({ code: 0, signal: null });

    const pulls = await bench.github.listPulls(OWNER, REPO);
    const owners = new Set<string>();
    for (let n = 1; n <= ISSUES; n += 1) {
      const issue = bench.github.getIssue(OWNER, REPO, n);
      expect(
        issue.labelNames.filter((l) => l.startsWith("harness:")),
        `#${n}: ${bench.github
          .listComments(OWNER, REPO, n)
          .map((c) => c.body)
          .join("\n---\n")
          .slice(-3000)}`,
      ).toEqual(["harness:done"]);
      expect(
        pulls.filter((p) => p.head.ref === `harness/issue-${n}` && p.state === "open"),
        `#${n}`,
      ).toHaveLength(1);
      const history = leaseHistory(bench, OWNER, REPO, n);
      // A single chain: one claim (one epoch, attempt 1), renewals, then the release.
      expect(
        history.filter((h) => h.state === "claimed" && history.indexOf(h) === 0),
        `#${n}`,
      ).toHaveLength(1);
      expect(new Set(history.map((h) => h.epoch)), `#${n}`).toEqual(new Set([1]));
      expect(history.at(-1)?.state, `#${n}`).toBe("released");
      owners.add(history[0]?.owner.agent ?? "");
      const summaries = bench.github.listComments(OWNER, REPO, n).filter((c) => c.body.includes("<!-- harness:summary"));
      expect(summaries, `#${n}`).toHaveLength(1);
      const leaseCreates = bench.github.requestLog.filter(
        (r) => r.operationId === "git/create-ref" && r.issueNumber === n && r.path.includes(`/repos/${OWNER}/${REPO}/`),
      );
      expect(leaseCreates.length, `#${n}`).toBeLessThanOrEqual(1);
    }
    // Several agents of the one process took part, each with its own id.
    expect(owners.size).toBeGreaterThan(1);
    // One line per issue worked, then the summary; nothing worked twice.
    const worked = worker.stdout.filter((l) => l.startsWith(`${OWNER}/${REPO}#`)).map((l) => l.split("\t")[0]);
    expect(new Set(worked).size).toBe(ISSUES);
    expect(worked).toHaveLength(ISSUES);
    const summary = JSON.parse(worker.stdout.at(-1) ?? "{}") as { claimed: number; failed: number };
    expect(summary).toMatchObject({ claimed: ISSUES, failed: 0 });
    // Nothing left behind: worktrees removed, locks released, the worker's record gone.
    expect(await fs.readdir(path.join(stateDir, "worktrees")).catch(() => [])).toEqual([]);
    expect((await fs.readdir(path.join(stateDir, "claims")).catch(() => [])).filter((f) => f.endsWith(".lock"))).toEqual([]);
    expect(await fs.readdir(path.join(stateDir, "workers")).catch(() => [])).toEqual([]);
    // Old sessions pruned, this run's kept (one directory per issue, within the retention).
    const sessions = await fs.readdir(path.join(stateDir, "sessions"));
    expect(sessions).not.toContain(path.basename(stale));
    expect(sessions).toHaveLength(ISSUES);
    // Each queue pass reads the config once and lists the lease refs once: the reclaimer and the queue share the listing.
    const ofRepo = (operationId: string): number =>
      bench.github.requestLog.filter((r) => r.operationId === operationId && r.path.includes(`/repos/${OWNER}/${REPO}/`)).length;
    expect(ofRepo("repos/get-content")).toBeGreaterThan(0);
    expect(ofRepo("git/list-matching-refs")).toBe(ofRepo("repos/get-content"));
  }, 180_000);
});
