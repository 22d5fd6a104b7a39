/**
 * The live status page's update latency in a real browser.
 *
 *   npm run bench -- status [--transitions N] [--rows N]
 *
 * The status page (src/app/status-page) is served by the app's real server
 * (startServer, its `routes`) and opened in Debian's chromium (playwright-core,
 * no browser download). Each transition is a lifecycle event emitted on the
 * event bus, as the host runtime does; the latency is from the emit to the
 * moment a MutationObserver in the page sees the row's new state. It includes
 * the read model and the diff, rendering the changed row, the SSE write over
 * loopback, the browser's EventSource and the script applying the delta; it
 * does not include what happens before an event (the lease write on GitHub,
 * the reconcile pass that takes the snapshot). `--rows` issues sit in the
 * snapshot beside the ones that change, so the table is not trivially small.
 * Clocks: both ends read performance.timeOrigin + performance.now() of the
 * same machine.
 *
 * Prints a table, then as its last line one JSON object:
 * {"bench":"status","transitions":20,"rows":50,"p50Ms":…,"p95Ms":…}
 */
import { existsSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import type { FleetIssue, FleetSnapshot } from "../src/core/fleet.js";
import type { LifecycleEvent } from "../src/core/lifecycle-events.js";
import { silentLogger } from "../src/adapters/logger.js";
import { EventBus } from "../src/runtime/event-bus.js";
import { startServer } from "../src/app/start-server.js";
import { createStatusPage } from "../src/app/status-page/status-page.js";

const CHROMIUM = "/usr/bin/chromium";

export interface StatusBenchResult {
  bench: "status";
  transitions: number;
  rows: number;
  p50Ms: number;
  p95Ms: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? 0;
}

export async function runStatusBench(args: string[]): Promise<StatusBenchResult> {
  const { values } = parseArgs({ args, options: { transitions: { type: "string" }, rows: { type: "string" } }, allowPositionals: true });
  const transitions = Math.max(1, Number(values.transitions ?? 20));
  const rowCount = Math.max(0, Number(values.rows ?? 50));
  if (!existsSync(CHROMIUM)) throw new Error(`the status bench needs Debian's chromium at ${CHROMIUM} (apt-get install chromium)`);

  const takenAt = new Date().toISOString();
  const issues: FleetIssue[] = Array.from({ length: rowCount }, (_, i) => ({
    repository: "bench-org/other",
    number: i + 1,
    title: `Queued issue ${i + 1}`,
    url: `https://github.com/bench-org/other/issues/${i + 1}`,
    state: "queued",
    priority: "none",
    createdAt: takenAt,
    queuedAt: takenAt,
    waiting: null,
    lease: null,
    pullRequest: null,
  }));
  const snapshot: FleetSnapshot = { takenAt, repositories: [], issues };
  const bus = new EventBus();
  const status = createStatusPage({ snapshot: () => snapshot, events: bus, host: "bench-host" });
  const server = await startServer(() => {}, { webhookSecret: "b".repeat(20), githubToken: "unused", port: 0, log: silentLogger(), routes: status.routes });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const latencies: number[] = [];
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/status`);
    await page.getByText("Live updates: connected.").waitFor({ timeout: 60_000 });
    // Each issue goes claimed → running → done: three transitions per issue.
    const steps: { state: string; event: (issue: string) => LifecycleEvent }[] = [
      {
        state: "claimed",
        event: (issue) => ({ type: "claimed", issue, agent: "agent-1", at: new Date().toISOString(), epoch: 1, attempt: 1, sessionId: "s", mode: "new" }),
      },
      {
        state: "running",
        event: (issue) => ({ type: "session_started", issue, agent: "agent-1", at: new Date().toISOString(), sessionId: "s", resume: false }),
      },
      {
        state: "done",
        event: (issue) => ({
          type: "issue_done",
          issue,
          agent: "agent-1",
          at: new Date().toISOString(),
          outcome: "success",
          label: "harness:done",
          pullRequest: null,
          steps: {},
        }),
      },
    ];
    for (let i = 0; i < transitions; i += 1) {
      const step = steps[i % steps.length];
      if (!step) continue;
      const issue = `bench-org/live#${Math.floor(i / steps.length) + 1}`;
      // Arm an observer for the row's new state (`void`: evaluate would await the promise), then emit, then wait for the time the observer saw.
      await page.evaluate(
        `void (globalThis.benchSeen = new Promise((resolve) => {
          const done = () => { const row = [...document.querySelectorAll("#rows tr")].find((r) => r.dataset.key === ${JSON.stringify(issue)});
            if (row && row.dataset.state === ${JSON.stringify(step.state)}) { observer.disconnect(); resolve(performance.timeOrigin + performance.now()); } };
          const observer = new MutationObserver(done);
          observer.observe(document.getElementById("rows"), { childList: true, subtree: true, attributes: true });
        }))`,
      );
      const emittedAt = performance.timeOrigin + performance.now();
      bus.emit(step.event(issue));
      const seenAt = (await page.evaluate("globalThis.benchSeen")) as number;
      latencies.push(seenAt - emittedAt);
    }
    await context.close();
  } finally {
    await browser.close();
    status.close();
    await server.close();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (n: number): number => Math.round(n * 100) / 100;
  return { bench: "status", transitions: latencies.length, rows: rowCount, p50Ms: round(quantile(sorted, 0.5)), p95Ms: round(quantile(sorted, 0.95)) };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runStatusBench(process.argv.slice(2)).then(
    (result) => {
      console.log("status page update latency (event emitted → row updated in chromium)");
      console.log(`  transitions  ${result.transitions}`);
      console.log(`  table rows   ${result.rows} queued + the live ones`);
      console.log(`  p50          ${result.p50Ms} ms`);
      console.log(`  p95          ${result.p95Ms} ms`);
      console.log(JSON.stringify(result));
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
