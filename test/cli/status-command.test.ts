import { spawnSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statusCommand } from "../../src/cli/status-command.js";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { LeaseStore } from "../../src/adapters/github-lease.js";
import { bootId } from "../../src/adapters/lockfile.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { workerFile, writeJsonAtomic, type WorkerRecord } from "../../src/runtime/worker-registry.js";
import type { HostStatus } from "../../src/runtime/host-status.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { testOctokit } from "../support/octokit.js";

/**
 * `harness status`: the agents of this host from the state directory (a live
 * worker, a dead one, an agent of another process), the queue of a repository
 * in order with why issues wait, and the leases other hosts hold.
 */

const OWNER = "octo-org";
const REPO = "status";
const NOW = new Date("2030-01-01T12:00:00Z");
let github: FakeGitHub;
let root: string;
let state: StateDir;

function deadPid(): number {
  // A process that has exited: its pid is free (reuse within the test is very unlikely).
  return Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);
}

function record(workerId: string, pid: number, boot: string, agents: WorkerRecord["agents"]): WorkerRecord {
  return {
    workerId,
    pid,
    host: os.hostname(),
    bootId: boot,
    startedAt: "2030-01-01T11:00:00Z",
    updatedAt: "2030-01-01T11:59:00Z",
    repositories: [`${OWNER}/${REPO}`],
    agents,
  };
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-status-"));
  state = new StateDir(path.join(root, "state"));
  github = await startFakeGitHub({ dir: path.join(root, "github") });
  await github.createRepo({ owner: OWNER, name: REPO });
  await github.createIssue(OWNER, REPO, { title: "first", body: "ready", labels: ["harness:queued"] });
  await github.createIssue(OWNER, REPO, { title: "second", body: "Depends on #1", labels: ["harness:queued"] });
  await github.createIssue(OWNER, REPO, { title: "third", body: "held by another host", labels: ["harness:claimed"] });
  await github.createIssue(OWNER, REPO, { title: "fourth", body: "held by this host", labels: ["harness:running"] });
  await github.createIssue(OWNER, REPO, { title: "fifth", body: "Depends on gone-org/missing#2", labels: ["harness:queued"] });
  const leases = new LeaseStore(
    new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO }),
    "harness/leases/issue-",
  );
  const now = new Date();
  expect((await leases.claim({ issue: 3, owner: { agent: "agent-1", host: "runner-elsewhere", runId: "r1" }, now, termMs: 600_000, sessionId: "s3" })).ok).toBe(
    true,
  );
  expect((await leases.claim({ issue: 4, owner: { agent: "w1-a1", host: os.hostname(), runId: "r2" }, now, termMs: 600_000, sessionId: "s4" })).ok).toBe(true);

  const boot = await bootId();
  await writeJsonAtomic(
    workerFile(state, "w-live"),
    record("w-live", process.pid, boot, [
      { agent: "w-live-a1", state: "working", repository: `${OWNER}/${REPO}`, issue: 4, since: "2030-01-01T11:58:00Z", claimed: 1 },
      { agent: "w-live-a2", state: "idle", repository: null, issue: null, since: "2030-01-01T11:59:30Z", claimed: 0 },
    ]),
  );
  await writeJsonAtomic(
    workerFile(state, "w-dead"),
    record("w-dead", deadPid(), boot, [
      { agent: "w-dead-a1", state: "working", repository: `${OWNER}/${REPO}`, issue: 9, since: "2030-01-01T10:00:00Z", claimed: 1 },
    ]),
  );
  await writeJsonAtomic(state.agentFile("w-live-a1"), {
    agent: "w-live-a1",
    host: os.hostname(),
    pid: process.pid,
    repository: `${OWNER}/${REPO}`,
    issue: 4,
    sessionId: "s4",
    startedAt: "2030-01-01T11:57:00Z",
    costUsd: 0.125,
    turns: 3,
    lastToolCall: "Bash: npm test",
  });
  await writeJsonAtomic(state.agentFile("agent-2"), {
    agent: "agent-2",
    host: os.hostname(),
    pid: deadPid(),
    repository: `${OWNER}/${REPO}`,
    issue: 7,
    startedAt: "2030-01-01T11:00:00Z",
    costUsd: 1,
  });
});

afterAll(async () => {
  await github?.close();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

async function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await statusCommand(
    args,
    { HARNESS_STATE_DIR: state.root, ...env },
    (l) => lines.push(l),
    () => NOW,
  );
  return { code, lines };
}

describe("harness status", () => {
  it("--json: agents with their state, issue, elapsed time and cost; the queue; leases held elsewhere", async () => {
    const { code, lines } = await run(["--json"], { GITHUB_TOKEN: github.token, GITHUB_API_URL: github.apiUrl });
    expect(code).toBe(0);
    const status = JSON.parse(lines.join("\n")) as HostStatus;
    const byAgent = new Map(status.agents.map((a) => [a.agent, a]));
    expect(byAgent.get("w-live-a1")).toMatchObject({
      alive: "alive",
      state: "running",
      issue: 4,
      sessionId: "s4",
      costUsd: 0.125,
      turns: 3,
      elapsedMs: 3 * 60_000,
    });
    expect(byAgent.get("w-live-a2")).toMatchObject({ alive: "alive", state: "idle", issue: null, elapsedMs: 30_000 });
    expect(byAgent.get("w-dead-a1")).toMatchObject({ alive: "dead", state: "dead", issue: 9 });
    expect(byAgent.get("agent-2")).toMatchObject({ alive: "dead", worker: null, issue: 7, costUsd: 1 });
    expect(status.queues).toHaveLength(1);
    const queue = status.queues[0];
    expect(queue?.repository).toBe(`${OWNER}/${REPO}`);
    expect(queue?.ready).toEqual([1]);
    expect(queue?.waiting.map((w) => w.issue)).toEqual([2, 5]);
    expect(queue?.waiting[0]?.reason).toMatch(/#1/);
    // A blocker nobody can read holds its issue too, and the reason says so.
    expect(queue?.waiting[1]?.reason).toBe("blocked by gone-org/missing#2 (state unreadable: deleted, or not visible to the harness)");
    // Issue 4's lease is this host's: not "elsewhere".
    expect(queue?.heldElsewhere).toEqual([expect.objectContaining({ issue: 3, agent: "agent-1", host: "runner-elsewhere", attempt: 1 })]);
  });

  it("text: one line per agent, dead ones marked; without a token only the agents", async () => {
    const { code, lines } = await run([], {});
    expect(code).toBe(0);
    expect(lines.find((l) => l.startsWith("w-live-a1 "))).toMatch(/^w-live-a1 +running +octo-org\/status#4 +3m00s +3 +\$0\.1250 +\d+ +Bash: npm test$/);
    expect(lines.find((l) => l.startsWith("w-dead-a1 "))).toMatch(/^w-dead-a1 +dead +/);
    // Aligned: every column starts at the same place on every line of the table.
    const table = lines.slice(
      lines.findIndex((l) => l.startsWith("AGENT ")),
      lines.findIndex((l) => l.startsWith("AGENT ")) + 5,
    );
    for (const column of ["STATE", "ISSUE", "ELAPSED", "TURNS", "COST", "PID", "LAST STEP"]) {
      const at = table[0]?.indexOf(column) ?? -1;
      for (const line of table.slice(1)) expect(line.charAt(at - 1), `${column} in "${line}"`).toBe(" ");
      for (const line of table.slice(1)) expect(line.charAt(at), `${column} in "${line}"`).not.toBe(" ");
    }
    expect(lines.join("\n")).toMatch(/queues not shown: set GITHUB_TOKEN/);
  });

  it("shows the open convoys with how many items landed (text and --json), from sub_issues_summary", async () => {
    const api = testOctokit({ baseUrl: github.apiUrl, token: github.token });
    const convoy = await github.createIssue(OWNER, REPO, { title: "Batch", labels: ["harness:convoy"] });
    for (const [title, state] of [
      ["one", "closed"],
      ["two", "open"],
    ] as const) {
      const { data } = await api.rest.issues.create({ owner: OWNER, repo: REPO, title });
      await api.rest.issues.addSubIssue({ owner: OWNER, repo: REPO, issue_number: convoy.number, sub_issue_id: data.id });
      if (state === "closed") await api.rest.issues.update({ owner: OWNER, repo: REPO, issue_number: data.number, state: "closed" });
    }
    const text = await run([], { GITHUB_TOKEN: github.token, GITHUB_API_URL: github.apiUrl });
    expect(text.lines.slice(text.lines.indexOf("convoys:"))).toEqual(["convoys:", `  ${OWNER}/${REPO}#${convoy.number}\t1/2 landed\tBatch`]);
    const json = await run(["--json"], { GITHUB_TOKEN: github.token, GITHUB_API_URL: github.apiUrl });
    expect((JSON.parse(json.lines.join("\n")) as { convoys: unknown[] }).convoys).toEqual([
      { repository: `${OWNER}/${REPO}`, number: convoy.number, title: "Batch", url: expect.stringContaining(`/issues/${convoy.number}`), landed: 1, total: 2 },
    ]);
  });

  it("refuses unknown arguments with a fix", async () => {
    await expect(run(["--bogus"], {})).rejects.toThrow(/status does not take "--bogus"/);
  });
});
