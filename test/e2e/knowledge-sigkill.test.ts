/**
 * Retry memory after a SIGKILL: a `harness worker` process is killed mid-session, so
 * its attempt posts no summary and appends no record. The next attempt, claimed on
 * the same host (same state directory) once the lease is reclaimed, rebuilds the
 * record from the transcript the host kept, appends it to refs/harness/knowledge,
 * and its prompt (as the model server received it) carries it.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario, type RecordedRequest } from "../../src/offline/model-server.js";
import { parseRecordBlock, type SessionRecord } from "../../src/core/session-record.js";
import { createRepo, leaseHistory, spawnWorker, startBench, waitFor, type Bench, type SpawnedWorker } from "../chaos/worker-kit.js";
import { stopWorker } from "../chaos/chaos-kit.js";
import { systemText } from "../support/system-text.js";

const OWNER = "octo";
const REPO = "killed";
/** 15 s leases, a beat every second, reclaimed 3 s after they run out (as the chaos test's). */
const CONFIG = "lease:\n  termMinutes: 0.25\nheartbeatSeconds: 1\nreclaim:\n  graceMinutes: 0.05\n  backoffMinutes: 0.01\n  backoffMaxMinutes: 0.05\n";

describe("retry memory after a SIGKILL (no summary posted)", () => {
  let bench: Bench;
  const workers: SpawnedWorker[] = [];
  beforeAll(async () => {
    bench = await startBench([await loadScenario(path.resolve("test/fixtures/scenarios/knowledge-kill.yaml"))]);
    await createRepo(bench, OWNER, REPO, CONFIG);
  });
  afterAll(async () => {
    const problems: string[] = [];
    for (const [i, w] of workers.entries()) await stopWorker(w, problems, `worker ${i}`);
    await bench?.close();
    expect(problems).toEqual([]);
  });

  it("rebuilds the killed attempt's record from this host's transcript and carries it into the next prompt", { timeout: 300_000 }, async () => {
    const { github, model } = bench;
    const stateDir = path.join(bench.root, "state");
    const args = ["--agents", "1", "--repo", `${OWNER}/${REPO}`];
    const issue = await github.createIssue(OWNER, REPO, {
      title: "Survive a kill",
      body: "[scenario:knowledge-kill] write kill.txt",
      labels: ["harness:queued"],
    });
    const turn = (n: number): RecordedRequest | undefined =>
      model.requests.find((r) => r.kind === "turn" && r.turn === n && (r.cwd ?? "").includes(`--${REPO}--issue-${issue.number}`));

    const victim = spawnWorker(bench, { stateDir, args });
    // Mid-session: the model was asked for the turn after the first tool call.
    await waitFor("a turn mid-session", () => turn(1) !== undefined, 120_000, 20);
    const killedAt = model.requests.length;
    victim.child.kill("SIGKILL");
    await victim.exited;
    const killed = leaseHistory(bench, OWNER, REPO, issue.number).at(-1) as { state: string; attempt: number; sessionId?: string };
    expect(killed).toMatchObject({ state: "claimed", attempt: 1 });
    const killedSession = killed.sessionId!;
    const comments = (): string[] => github.listComments(OWNER, REPO, issue.number).map((c) => c.body ?? "");
    expect(comments().some((b) => b.startsWith("<!-- harness:summary"))).toBe(false);

    // A worker on the same host: the lease runs out, is reclaimed, and the issue worked again.
    workers.push(spawnWorker(bench, { stateDir, args }));
    await waitFor("the second attempt released", () => leaseHistory(bench, OWNER, REPO, issue.number).at(-1)?.state === "released", 240_000, 250);
    const history = leaseHistory(bench, OWNER, REPO, issue.number);
    expect(history.at(-1)).toMatchObject({ state: "released", attempt: 2 });

    // The killed attempt posted nothing; its record was rebuilt from the transcript and appended.
    expect(comments().some((b) => b.startsWith(`<!-- harness:summary session=${killedSession}`))).toBe(false);
    const show = (spec: string): string => execFileSync("git", ["--git-dir", github.repoPath(OWNER, REPO), "show", spec], { encoding: "utf8" });
    const rebuilt = JSON.parse(show(`refs/harness/knowledge:sessions/${issue.number}/${killedSession}-1.json`)) as SessionRecord;
    expect(rebuilt).toMatchObject({ source: "transcript", attempt: 1, sessionId: killedSession, mode: "new", outcome: "crashed" });
    expect(rebuilt.commands).toContain("echo before the kill > kill.txt");

    // The second attempt's prompt, as the model received it, carried the killed attempt.
    const retryPrompt = systemText(model.requests.slice(killedAt).find((r) => r.kind === "turn" && r.turn === 0));
    expect(retryPrompt).toContain(`#${issue.number} attempt 1 summary (session ${killedSession})`);
    expect(retryPrompt).toContain("(Rebuilt from the transcript: the attempt was killed before it posted a summary.)");
    expect(retryPrompt).toContain("`echo before the kill > kill.txt`");

    // Its summary says so, and its own record lists it as used.
    const summary = comments().find((b) => b.startsWith("<!-- harness:summary")) ?? "";
    expect(summary).toContain(`**Knowledge used**\n\n- #${issue.number} attempt 1 summary (session ${killedSession})`);
    const parsed = parseRecordBlock(summary);
    expect(parsed.ok && parsed.record.knowledgeUsed).toEqual([`session:${OWNER}/${REPO}#${issue.number}/${killedSession}/1`]);
    github.assertNoViolations();
  });
});
