/**
 * `npm run bench -- metrics`: the cost of a scrape. A repository of 1,000 open
 * issues in the fake GitHub (every harness state, every priority), read by the
 * real reconciler into its fleet snapshot, then `/metrics` fetched over
 * loopback HTTP (guard, prom-client's render of every metric including the
 * default process metrics, the response) 300 times one after another: p50 and
 * p99 latency and the body size. The same with 10 issues gives the series
 * count to compare: the labels are bounded, so it must not grow with the issues.
 *
 *   npm run bench -- metrics [--scrapes 300]
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { IssueIntake } from "../src/app/issue-intake.js";
import { MetricsExporter } from "../src/app/metrics/metrics-exporter.js";
import { metricsRoutes } from "../src/app/metrics/metrics-routes.js";
import { startReconciler } from "../src/app/reconciler.js";
import { silentLogger } from "../src/adapters/logger.js";
import { AgentPool } from "../src/runtime/agent-pool.js";
import { EventBus } from "../src/runtime/event-bus.js";
import { startFakeGitHub, type FakeGitHub } from "../src/offline/fake-github/index.js";
import { testOctokit } from "../test/support/octokit.js";

const OWNER = "bench-org";
const STATES = ["harness:queued", "harness:running", "harness:failed", "harness:done", "harness:interrupted", "harness:claimed"];
const PRIORITIES = ["priority:high", "priority:medium", "priority:low", null];

interface Scrape {
  p50Ms: number;
  p99Ms: number;
  bodyBytes: number;
  series: number;
  harnessSeries: number;
  issues: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function measure(github: FakeGitHub, repo: string, issues: number, scrapes: number): Promise<Scrape> {
  const log = silentLogger();
  await github.createRepo({ owner: OWNER, name: repo, collaborators: { ada: "write" }, files: { "README.md": `# ${repo}\n` } });
  for (let i = 0; i < issues; i += 1) {
    const labels = [STATES[i % STATES.length] as string, PRIORITIES[i % PRIORITIES.length]].filter((l): l is string => l !== null);
    await github.createIssue(OWNER, repo, { title: `Task ${i + 1}`, body: `Task ${i + 1}.`, labels, user: "ada" });
  }
  const octokit = testOctokit({ baseUrl: github.apiUrl, token: github.token });
  const pool = new AgentPool({ agents: 4, log });
  // Jobs handed over by the reconciler do nothing: this bench measures the scrape, not the work.
  const intake = new IssueIntake({ pool, log, job: async () => undefined });
  const reconciler = startReconciler({ probot: { auth: async () => octokit }, intake, repositories: [`${OWNER}/${repo}`], minutes: 60, log });
  const exporter = new MetricsExporter({ events: new EventBus(), pool, version: "bench" });
  exporter.attach(reconciler);
  const routes = metricsRoutes({ exporter, readiness: () => ({ ready: true, reason: null }) });
  const server = createServer((req, res) => {
    void (async () => {
      for (const route of routes) if (await route.handle(req, res)) return;
      res.writeHead(404).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await reconciler.runOnce();
    const seen = reconciler.snapshot().issues.length;
    if (seen !== issues) throw new Error(`the snapshot has ${seen} issues, not ${issues}`);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    const times: number[] = [];
    let body = "";
    for (let i = 0; i < 20; i += 1) await (await fetch(url)).text(); // warm-up
    for (let i = 0; i < scrapes; i += 1) {
      const t = performance.now();
      const res = await fetch(url);
      body = await res.text();
      times.push(performance.now() - t);
      if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    }
    times.sort((a, b) => a - b);
    const series = body.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    return {
      p50Ms: percentile(times, 50),
      p99Ms: percentile(times, 99),
      bodyBytes: Buffer.byteLength(body),
      series: series.length,
      harnessSeries: series.filter((l) => l.startsWith("harness_")).length,
      issues,
    };
  } finally {
    exporter.close();
    await reconciler.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export async function runMetricsBench(args: string[]): Promise<Record<string, unknown>> {
  const i = args.indexOf("--scrapes");
  const scrapes = i >= 0 ? Number(args[i + 1]) : 300;
  const github = await startFakeGitHub();
  try {
    const small = await measure(github, "ten", 10, scrapes);
    const large = await measure(github, "thousand", 1000, scrapes);
    const result = {
      bench: "metrics",
      scrapes,
      p50Ms: Number(large.p50Ms.toFixed(2)),
      p99Ms: Number(large.p99Ms.toFixed(2)),
      bodyBytes: large.bodyBytes,
      series1000: large.harnessSeries,
      series10: small.harnessSeries,
      allSeries1000: large.series,
      allSeries10: small.series,
      p99Ms10: Number(small.p99Ms.toFixed(2)),
      bodyBytes10: small.bodyBytes,
    };
    const rows: [string, string, string][] = [
      ["", "10 issues", "1,000 issues"],
      ["/metrics p50 (ms)", small.p50Ms.toFixed(2), large.p50Ms.toFixed(2)],
      ["/metrics p99 (ms)", small.p99Ms.toFixed(2), large.p99Ms.toFixed(2)],
      ["body (bytes)", String(small.bodyBytes), String(large.bodyBytes)],
      ["harness_* series", String(small.harnessSeries), String(large.harnessSeries)],
      ["all series (with process metrics)", String(small.series), String(large.series)],
    ];
    console.log(`/metrics over loopback HTTP, ${scrapes} scrapes each, after one reconcile pass of the fake GitHub`);
    for (const [a, b, c] of rows) console.log(`  ${a.padEnd(36)}${b.padStart(12)}${c.padStart(14)}`);
    if (large.harnessSeries !== small.harnessSeries) console.log("  ! the harness_* series count grows with the issues: a label is unbounded");
    console.log(JSON.stringify(result));
    return result;
  } finally {
    await github.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runMetricsBench(process.argv.slice(2));
}
