import { spawnSync } from "node:child_process";
import { existsSync, promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario } from "../../src/offline/model-server.js";
import { METRIC_NAMES } from "../../src/app/metrics/metric-names.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

/**
 * `/metrics` of an app that worked two issues through the real CLI (fake
 * GitHub, signed webhooks, Probot, the scripted model): Prometheus's own
 * checker accepts it, the cost adds up to the sessions' total_cost_usd, and no
 * series names an issue or a repository.
 */

const OWNER = "octo-org";
const PROMTOOL = "/usr/bin/promtool";
/** Two repositories, each with its own model (the `model` of .github/harness.yml): cost by model has two series. */
const REPOS = [
  { name: "alpha", model: "claude-sonnet-4-5-20250929" },
  { name: "beta", model: "claude-haiku-4-5-20251001" },
];

let stack: Stack;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}): number =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);

async function get(pathname: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${stack.server.url}${pathname}`);
  return { status: res.status, body: await res.text() };
}

beforeAll(async () => {
  const scenarios = await Promise.all(["interruptible.yaml", "write-file.yaml"].map((f) => loadScenario(path.resolve("test/fixtures/scenarios", f))));
  stack = await startStack({
    scenarios,
    metrics: true,
    progressIntervalMs: 3_600_000,
    reconcile: { repositories: REPOS.map((r) => `${OWNER}/${r.name}`) },
  });
  for (const r of REPOS) {
    await stack.github.createRepo({
      owner: OWNER,
      name: r.name,
      collaborators: { ada: "write" },
      files: { "README.md": `# ${r.name}\n`, ".github/harness.yml": `model: ${r.model}\n` },
    });
  }
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

describe("/metrics, /healthz and /readyz of the app (real CLI, fake GitHub)", () => {
  it("readyz is 503 before the first reconcile pass and 200 after; healthz is 200 throughout", async () => {
    expect((await get("/healthz")).status).toBe(200);
    const before = await get("/readyz");
    expect(before.status).toBe(503);
    expect(JSON.parse(before.body)).toEqual({ ready: false, reason: "no reconcile pass has finished yet" });
    await stack.reconciler?.runOnce();
    const after = await get("/readyz");
    expect(after.status).toBe(200);
    expect(JSON.parse(after.body)).toEqual({ ready: true, reason: null });
  });

  it("counts two sessions: promtool accepts the output, cost equals the sessions' total_cost_usd, labels are bounded", async () => {
    const numbers: number[] = [];
    for (const r of REPOS) {
      const issue = await stack.github.createIssue(OWNER, r.name, { title: `Write a file in ${r.name}`, body: "Write hello.txt.", user: "ada" });
      numbers.push(issue.number);
      expect(await stack.github.addLabel(OWNER, r.name, issue.number, "harness:queued", { sender: "ada" })).toBe(200);
      await stack.idle();
    }
    expect(stack.results.map((r) => r.outcome)).toEqual(["success", "success"]);
    // The snapshot after the work: both issues done.
    await stack.reconciler?.runOnce();

    const res = await fetch(`${stack.server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();

    if (existsSync(PROMTOOL)) {
      const checked = spawnSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8" });
      expect(`${checked.stdout}${checked.stderr}`).toBe("");
      expect(checked.status).toBe(0);
    } else {
      console.warn(`promtool not found at ${PROMTOOL}: install Debian's prometheus package (.ci/run does) to check the exposition format`);
    }

    // Exactly the names the alerting rules and the dashboard may use (src/app/metrics/metric-names.ts).
    const exported = [...text.matchAll(/^# TYPE (harness_\S+) /gm)].map((m) => m[1]);
    expect(exported.sort()).toEqual([...METRIC_NAMES].sort());

    const samples = parseExposition(text);
    // Cost: the sessions' total_cost_usd as the CLI printed it in its result event, summed.
    let printed = 0;
    for (const result of stack.results) {
      const report = result.report;
      expect(report).not.toBeNull();
      const dir = stack.state.session(report!.sessionId!, 1);
      const transcript = await fs.readFile(path.join(dir, "transcript.jsonl"), "utf8");
      const line = transcript
        .split("\n")
        .filter((l) => l.includes('"type":"result"'))
        .pop();
      expect(line, "the CLI's result event in the transcript").toBeDefined();
      printed += (JSON.parse(line as string) as { total_cost_usd: number }).total_cost_usd;
    }
    const sessionsCost = stack.results.reduce((sum, r) => sum + (r.report?.costUsd ?? 0), 0);
    expect(sessionsCost).toBeGreaterThan(0);
    expect(Math.abs(value(samples, "harness_cost_usd_total") - sessionsCost)).toBeLessThan(1e-9);
    expect(Math.abs(value(samples, "harness_cost_usd_total") - printed)).toBeLessThan(1e-9);
    const models = new Set(samples.filter((s) => s.name === "harness_cost_usd_total").map((s) => s.labels.model));
    expect([...models].sort()).toEqual(REPOS.map((r) => r.model).sort());
    for (const r of REPOS) expect(value(samples, "harness_tokens_total", { model: r.model, type: "output" })).toBeGreaterThan(0);

    expect(value(samples, "harness_sessions_started_total")).toBe(2);
    expect(value(samples, "harness_sessions_total", { outcome: "success" })).toBe(2);
    expect(value(samples, "harness_session_duration_seconds_count", { outcome: "success" })).toBe(2);
    expect(value(samples, "harness_session_turns_total")).toBe(stack.results.reduce((sum, r) => sum + (r.report?.turns ?? 0), 0));
    expect(value(samples, "harness_claims_total", { result: "claimed" })).toBe(2);
    expect(value(samples, "harness_claim_wait_seconds_count")).toBe(2);
    expect(value(samples, "harness_issues", { state: "done", priority: "none" })).toBe(2);
    expect(value(samples, "harness_issues", { state: "queued" })).toBe(0);
    expect(value(samples, "harness_queue_oldest_age_seconds")).toBe(0);
    expect(value(samples, "harness_agents_max")).toBe(1);
    expect(value(samples, "harness_agents", { state: "idle" })).toBe(1);
    expect(value(samples, "harness_github_requests_total", { status_class: "2xx" })).toBeGreaterThan(0);
    expect(value(samples, "harness_github_requests_total", { status_class: "3xx" })).toBeGreaterThan(0);
    expect(value(samples, "harness_reconcile_last_success_timestamp_seconds")).toBeGreaterThan(Date.now() / 1000 - 600);
    expect(value(samples, "harness_build_info", { node_version: process.versions.node })).toBe(1);
    expect(value(samples, "process_cpu_user_seconds_total")).toBeGreaterThan(0);

    // Bounded labels: no series names an issue, a session, a branch or a repository.
    const forbidden = new Set(["issue", "session", "session_id", "pr", "pull_request", "branch", "user", "repository", "repo"]);
    const sessionIds = stack.results.map((r) => r.report?.sessionId ?? "");
    for (const s of samples) {
      for (const [name, v] of Object.entries(s.labels)) {
        expect(forbidden.has(name), `${s.name} has label ${name}`).toBe(false);
        expect(v).not.toMatch(/octo-org|alpha|beta|harness\/issue-|#\d/);
        for (const id of sessionIds) expect(v).not.toBe(id);
        // An issue number as a whole label value (le and quantile are bucket bounds, not issues).
        if (name !== "le" && name !== "quantile") for (const n of numbers) expect(v).not.toBe(String(n));
      }
    }
  }, 240_000);

  it("measures the interrupt latency: /interrupt delivered in process → the session's end", async () => {
    const issue = await stack.github.createIssue(OWNER, "alpha", { title: "Two parts", body: "[scenario:interruptible] go", user: "ada" });
    await stack.github.addLabel(OWNER, "alpha", issue.number, "harness:queued", { sender: "ada" });
    await until(() => stack.model.requests.some((r) => r.scenario === "interruptible" && r.turn === 1), "the long step");
    await stack.github.comment(OWNER, "alpha", issue.number, "/interrupt", { sender: "ada" });
    await stack.idle();
    expect(stack.results.at(-1)?.interrupted).toBe(true);
    const samples = parseExposition((await get("/metrics")).body);
    expect(value(samples, "harness_interrupt_latency_seconds_count")).toBe(1);
    const latency = value(samples, "harness_interrupt_latency_seconds_sum");
    expect(latency).toBeGreaterThan(0);
    // The Bash step sleeps 30 s: a latency under that means the interrupt stopped it.
    expect(latency).toBeLessThan(30);
    expect(value(samples, "harness_sessions_total", { outcome: "interrupted" })).toBe(1);
  }, 120_000);
});
