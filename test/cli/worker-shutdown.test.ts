import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario } from "../../src/offline/model-server.js";
import { createRepo, leaseHistory, markedProcesses, spawnWorker, startBench, waitFor, type Bench } from "../chaos/worker-kit.js";

/**
 * SIGTERM to `harness worker` mid-session: the session is interrupted like
 * /interrupt (work pushed as WIP, session saved), the lease asks for a resume
 * and the issue is queued again; the worker exits 0 and leaves nothing behind.
 */

const OWNER = "octo-org";
const REPO = "shutdown";
let bench: Bench;

beforeAll(async () => {
  bench = await startBench([await loadScenario(path.resolve("test/fixtures/scenarios/slow.yaml"))]);
  await createRepo(bench, OWNER, REPO, "lease:\n  termMinutes: 1\n");
  await bench.github.createIssue(OWNER, REPO, { title: "Slow", body: "[scenario:slow] Take your time.", labels: ["harness:queued"] });
});

afterAll(async () => {
  await bench?.close();
});

describe("harness worker on SIGTERM", () => {
  it("interrupts the running session, pushes its work and queues the issue again to resume", async () => {
    const stateDir = path.join(bench.root, "state");
    const worker = spawnWorker(bench, { stateDir, args: ["--agents", "2", "--repo", `${OWNER}/${REPO}`] });
    // The long turn has been asked for: the session runs.
    await waitFor("the slow turn", () => bench.model.requests.some((r) => r.kind === "turn" && r.turn === 1), 120_000);
    worker.child.kill("SIGTERM");
    const exit = await worker.exited;
    const log = await fs.readFile(worker.stderrFile, "utf8");
    expect(exit, log.slice(-3000)).toEqual({ code: 0, signal: null });

    const history = leaseHistory(bench, OWNER, REPO, 1);
    expect(history.map((h) => h.state)).toContain("interrupted");
    const head = history.at(-1) as { state: string; retry?: { mode: string } | null };
    expect(head).toMatchObject({ state: "interrupted", retry: { mode: "resume" } });
    expect(bench.github.getIssue(OWNER, REPO, 1).labelNames.filter((l) => l.startsWith("harness:"))).toEqual(["harness:queued"]);
    expect(await bench.github.readRef(OWNER, REPO, "refs/heads/harness/issue-1")).not.toBeNull();
    expect(await bench.github.readRef(OWNER, REPO, "refs/harness/sessions/issue-1")).not.toBeNull();
    expect(JSON.parse(worker.stdout.at(-1) ?? "{}")).toMatchObject({ requeued: [`${OWNER}/${REPO}#1`] });
    expect(await markedProcesses(`w${worker.pid}-`)).toEqual([]);
    expect(await fs.readdir(path.join(stateDir, "worktrees")).catch(() => [])).toEqual([]);
  }, 180_000);
});
