import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";
import { reportCommand, type ReportJson } from "../../src/cli/report-command.js";
import { recordTrends, type TrendRecorder } from "../../src/runtime/record-trends.js";
import { TrendStore } from "../../src/runtime/trend-store.js";
import { renderTrendCharts } from "../../src/core/render-trend-charts.js";

const OWNER = "octo";
const REPO = "trends";

/**
 * Trends from a real run: the app's host runtime (fake GitHub, signed webhooks, Probot, the real CLI
 * against the scripted model) with the trend recorder subscribed as `harness app` does; one issue
 * succeeds, one fails; `harness report` then reads the state directory.
 */
let stack: Stack;
let recorder: TrendRecorder;

beforeAll(async () => {
  const scenarios = await Promise.all(["e2e-probe.yaml", "api-error.yaml"].map((f) => loadScenario(path.resolve("test/fixtures/scenarios", f))));
  stack = await startStack({ scenarios, progressIntervalMs: 3_600_000 });
  recorder = recordTrends(stack.runtime.events, new TrendStore(stack.state));
  await stack.github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, defaultBranch: "main", files: { "README.md": "# t\n" } });
});

afterAll(async () => {
  await stack?.close();
});

describe("trends of a real run", () => {
  it("harness report shows the run's sessions, done and failed issues, and cost", async () => {
    const { github } = stack;
    const ok = await github.createIssue(OWNER, REPO, { title: "Say hello", body: "[scenario:e2e-probe] Add hello.txt.", user: "ada" });
    await github.addLabel(OWNER, REPO, ok.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    const bad = await github.createIssue(OWNER, REPO, { title: "Will fail", body: "[scenario:api-error] please", user: "ada" });
    await github.addLabel(OWNER, REPO, bad.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    await recorder.stop();

    const ended = stack.events.filter((e) => e.type === "session_ended");
    expect(ended.map((e) => e.outcome).sort()).toEqual(["api_error", "success"]);
    const lines: string[] = [];
    expect(await reportCommand(["--json", "--since", "1d", "--state-dir", stack.state.root], {}, (l) => lines.push(l))).toBe(0);
    const json = JSON.parse(lines.join("\n")) as ReportJson;
    expect(json.days).toHaveLength(1);
    const [day] = json.days;
    expect(day).toMatchObject({ date: ended[0]?.at.slice(0, 10), sessions: 2, done: 1, failed: 1, successRate: 0.5, claims: 2 });
    expect(day?.outcomes).toEqual({ success: 1, api_error: 1 });
    const cost = ended.reduce((sum, e) => sum + e.costUsd, 0);
    expect(day?.costUsd).toBeCloseTo(cost, 9);
    expect(day?.costPerSuccessUsd).toBeCloseTo(cost, 9);
    const durations = ended.map((e) => e.durationMs / 1000).sort((a, b) => a - b);
    expect([day?.p50Seconds, day?.p95Seconds]).toEqual([durations[0], durations[1]]);

    const table: string[] = [];
    await reportCommand(["--since", "1d", "--state-dir", stack.state.root], {}, (l) => table.push(l));
    expect(table[0]).toMatch(/^date\s+sessions\s+done\s+failed\s+success\s+cost\s+cost\/success\s+p50\s+p95$/);
    expect(table[1]).toMatch(new RegExp(`^${day?.date}\\s+2\\s+1\\s+1\\s+50%`));
    expect(renderTrendCharts(json)).toContain(`${day?.date}: 1`);
    stack.github.assertNoViolations();
  }, 120_000);
});
