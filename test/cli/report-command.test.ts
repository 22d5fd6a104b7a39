import { spawnSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reportCommand, sinceOf, type ReportJson } from "../../src/cli/report-command.js";
import type { LifecycleEvent } from "../../src/core/lifecycle-events.js";
import { EventBus } from "../../src/runtime/event-bus.js";
import { recordTrends } from "../../src/runtime/record-trends.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { TrendStore } from "../../src/runtime/trend-store.js";

/** `harness report` on a state directory filled by typed lifecycle events through the hosts' recorder. */

let root: string;
let state: StateDir;
const NOW = new Date("2026-12-02T15:00:00.000Z");

const base = (issue: number, at: string) => ({ issue: `octo/app#${issue}`, agent: "agent-1", at });
const session = (issue: number, at: string, outcome: "success" | "crashed" | "interrupted", costUsd: number, seconds: number): LifecycleEvent => ({
  ...base(issue, at),
  type: "session_ended",
  outcome,
  turns: 4,
  costUsd,
  durationMs: seconds * 1000,
});
const finished = (issue: number, at: string, outcome: "success" | "crashed" | "interrupted" | "error"): LifecycleEvent => ({
  ...base(issue, at),
  type: "issue_done",
  outcome,
  label: "x",
  pullRequest: null,
  steps: {},
});

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-report-"));
  state = new StateDir(path.join(root, "state"));
  await state.ensurePrivate();
  const bus = new EventBus();
  const recorder = recordTrends(bus, new TrendStore(state, { now: () => NOW }));
  const events: LifecycleEvent[] = [
    // 2026-11-20: outside the default 7 days.
    session(1, "2026-11-20T10:00:00.000Z", "success", 9, 100),
    finished(1, "2026-11-20T10:00:05.000Z", "success"),
    // 2026-12-01: two done, one failed, one interrupted (not finished).
    { ...base(2, "2026-12-01T09:00:00.000Z"), type: "claimed", epoch: 1, attempt: 1, sessionId: "s2", mode: "new" },
    session(2, "2026-12-01T09:10:00.000Z", "success", 0.5, 60),
    finished(2, "2026-12-01T09:10:01.000Z", "success"),
    session(3, "2026-12-01T10:00:00.000Z", "success", 1.5, 180),
    finished(3, "2026-12-01T10:00:01.000Z", "success"),
    session(4, "2026-12-01T11:00:00.000Z", "crashed", 1, 120),
    finished(4, "2026-12-01T11:00:01.000Z", "crashed"),
    session(5, "2026-12-01T23:59:59.000Z", "interrupted", 0.25, 30),
    finished(5, "2026-12-01T23:59:59.500Z", "interrupted"),
    // 2026-12-02: one failed by an error before the session ended.
    finished(6, "2026-12-02T14:00:00.000Z", "error"),
  ];
  for (const e of events) bus.emit(e);
  bus.emit(events[3] as LifecycleEvent); // delivered twice: counted once
  await recorder.stop();
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function report(args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await reportCommand(
    args,
    {},
    (l) => lines.push(l),
    () => NOW,
  );
  return { code, lines };
}

describe("harness report", () => {
  it("prints one row a UTC day and a total, the last 7 days by default", async () => {
    const { code, lines } = await report(["--state-dir", state.root]);
    expect(code).toBe(0);
    expect(lines).toEqual([
      "date        sessions  done  failed  success     cost  cost/success    p50    p95",
      "2026-12-01         4     2       1      67%    $3.25         $1.63  1m 0s  3m 0s",
      "2026-12-02         0     0       1       0%  $0.0000             -      -      -",
      "total              4     2       2      50%    $3.25         $1.63  1m 0s  3m 0s",
      "",
      "spend by repository and outcome:",
      "date        repository  outcome      sessions     cost",
      "2026-12-01  octo/app    crashed             1    $1.00",
      "2026-12-01  octo/app    interrupted         1  $0.2500",
      "2026-12-01  octo/app    success             2    $2.00",
      "total       octo/app    crashed             1    $1.00",
      "total       octo/app    interrupted         1  $0.2500",
      "total       octo/app    success             2    $2.00",
    ]);
  });

  it("prints stable JSON: since, until, stateDir, days and total", async () => {
    const { lines } = await report(["--json", "--since", "30d", "--state-dir", state.root]);
    const json = JSON.parse(lines.join("\n")) as ReportJson;
    expect(Object.keys(json)).toEqual(["since", "until", "stateDir", "days", "total"]);
    expect(json.since).toBe("2026-11-03T00:00:00.000Z");
    expect(json.until).toBe(NOW.toISOString());
    expect(json.days.map((d) => d.date)).toEqual(["2026-11-20", "2026-12-01", "2026-12-02"]);
    expect(json.days[1]).toEqual({
      date: "2026-12-01",
      sessions: 4,
      done: 2,
      failed: 1,
      successRate: 2 / 3,
      costUsd: 3.25,
      costPerSuccessUsd: 1.625,
      p50Seconds: 60,
      p95Seconds: 180,
      claims: 1,
      outcomes: { success: 2, crashed: 1, interrupted: 1 },
      spend: [
        { repository: "octo/app", outcome: "crashed", sessions: 1, costUsd: 1 },
        { repository: "octo/app", outcome: "interrupted", sessions: 1, costUsd: 0.25 },
        { repository: "octo/app", outcome: "success", sessions: 2, costUsd: 2 },
      ],
    });
    expect(json.total).toMatchObject({ sessions: 5, done: 3, failed: 2, costUsd: 12.25 });
  });

  it("--since Nh counts the minutes of the last N hours", async () => {
    const { lines } = await report(["--json", "--since", "16h", "--state-dir", state.root]);
    const json = JSON.parse(lines.join("\n")) as ReportJson;
    expect(json.since).toBe("2026-12-01T23:00:00.000Z");
    expect(json.days.map((d) => [d.date, d.sessions, d.failed])).toEqual([
      ["2026-12-01", 1, 0],
      ["2026-12-02", 0, 1],
    ]);
  });

  it("says so when nothing was recorded, and creates nothing", async () => {
    const empty = path.join(root, "empty");
    const { code, lines } = await report(["--state-dir", empty]);
    expect(code).toBe(0);
    expect(lines.join("\n")).toMatch(/^No trends recorded since 2026-11-26T00:00:00\.000Z in .*empty\/trends/);
    await expect(fs.stat(empty)).rejects.toThrow();
    const json = JSON.parse((await report(["--json", "--state-dir", empty])).lines.join("\n")) as ReportJson;
    expect(json.days).toEqual([]);
  });

  it("refuses a bad --since with EHARNESS_USAGE", () => {
    for (const bad of ["7", "0d", "-1d", "7w", "1.5d", "d"]) expect(() => sinceOf(bad, NOW), bad).toThrow(/--since takes a number of days or hours/);
    expect(sinceOf("1d", NOW).toISOString()).toBe("2026-12-02T00:00:00.000Z");
  });

  it("the real CLI: a bad --since exits 2 with the usage error on stderr", () => {
    const loader = pathToFileURL(path.resolve("node_modules/tsx/dist/loader.mjs")).href;
    const run = spawnSync(process.execPath, ["--import", loader, path.resolve("src/cli/main.ts"), "report", "--since", "7w", "--state-dir", state.root], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root, TSX_DISABLE_CACHE: "1" },
    });
    expect({ code: run.status, stdout: run.stdout }).toEqual({ code: 2, stdout: "" });
    expect(run.stderr.trim()).toMatch(/^EHARNESS_USAGE: --since takes a number of days or hours like 7d or 12h, not "7w"\. Fix: Run harness report /);
  }, 30_000);
});
