import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MetricsExporter } from "../../../src/app/metrics/metrics-exporter.js";
import { RequestStats } from "../../../src/adapters/github-requests/request-stats.js";
import { createSessionReducer } from "../../../src/core/session-report.js";
import { emptyFleetSnapshot, type FleetIssue } from "../../../src/core/fleet.js";
import { EventBus } from "../../../src/runtime/event-bus.js";
import { InterruptRegistry } from "../../../src/runtime/interrupts.js";

const FIXTURE = "test/fixtures/cli/2.1.332/success.jsonl";
const AT = "2026-12-02T12:00:00.000Z";

/** The sum of the samples of `name` (exactly; histogram parts as `_sum`, `_count`) whose labels include `labels`, from the exposition text. */
async function sample(exporter: MetricsExporter, name: string, labels: Record<string, string> = {}): Promise<number> {
  let sum = 0;
  for (const line of (await exporter.metrics()).split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/([a-zA-Z_]\w*)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

function exporterWith(extra: Partial<ConstructorParameters<typeof MetricsExporter>[0]> = {}): { exporter: MetricsExporter; bus: EventBus } {
  const bus = new EventBus((error) => {
    throw error;
  });
  const exporter = new MetricsExporter({ events: bus, pool: { size: 2, busy: 1 }, version: "9.9.9", processMetrics: false, ...extra });
  return { exporter, bus };
}

describe("the metrics exporter", () => {
  it("counts tokens once per message id when the CLI repeats a message's usage (captured 2.1.332 stream)", async () => {
    const lines = readFileSync(FIXTURE, "utf8").split("\n");
    // Independently of the reducer: each message's usage once (the largest of its repeats), and the naive sum over every event.
    const perId = new Map<string, number>();
    let naive = 0;
    let repeated = 0;
    for (const line of lines) {
      if (!line.trim()) continue;
      const e = JSON.parse(line) as { type: string; message?: { id: string; usage?: { output_tokens?: number } } };
      if (e.type !== "assistant" || !e.message?.usage) continue;
      const out = e.message.usage.output_tokens ?? 0;
      if (perId.has(e.message.id)) repeated += 1;
      perId.set(e.message.id, Math.max(perId.get(e.message.id) ?? 0, out));
      naive += out;
    }
    expect(repeated).toBeGreaterThan(0);
    const once = [...perId.values()].reduce((a, b) => a + b, 0);

    const reducer = createSessionReducer();
    for (const line of lines) reducer.feedLine(line);
    const report = reducer.finish({ exitCode: 0, signal: null });
    const { exporter, bus } = exporterWith();
    bus.emit({ type: "session_usage", issue: "o/r#1", agent: "agent-1", at: AT, models: report.usageByModel ?? [] });
    bus.emit({
      type: "session_ended",
      issue: "o/r#1",
      agent: "agent-1",
      at: AT,
      outcome: report.outcome,
      turns: report.turns,
      costUsd: report.costUsd,
      durationMs: 1000,
    });
    expect(await sample(exporter, "harness_tokens_total", { type: "output" })).toBe(once);
    if (naive !== once) expect(await sample(exporter, "harness_tokens_total", { type: "output" })).toBeLessThan(naive);
    expect(Math.abs((await sample(exporter, "harness_cost_usd_total")) - report.costUsd)).toBeLessThan(1e-9);
    expect(await sample(exporter, "harness_sessions_total", { outcome: "success" })).toBe(1);
  });

  it("counts budget waits by scope, from budget_wait events, both scopes exported from the start", async () => {
    const { exporter, bus } = exporterWith();
    expect(await exporter.metrics()).toContain('harness_budget_waits_total{scope="installation"} 0');
    const wait = { type: "budget_wait", agent: "agent-1", at: AT, spentUsd: 5, capUsd: 5, until: "2026-12-03T00:00:00.000Z" } as const;
    bus.emit({ ...wait, issue: "o/r#1", scope: "repository" });
    bus.emit({ ...wait, issue: "o/r#2", scope: "repository" });
    bus.emit({ ...wait, issue: "o/q#3", scope: "installation" });
    expect(await sample(exporter, "harness_budget_waits_total", { scope: "repository" })).toBe(2);
    expect(await sample(exporter, "harness_budget_waits_total", { scope: "installation" })).toBe(1);
  });

  it("gauges come from the snapshot and the pool at scrape time; counters from events; claim results are a fixed set", async () => {
    const requests = new RequestStats();
    let budget = { waits: 0, drops: 0 };
    const interrupts = new InterruptRegistry();
    let clock = Date.parse(AT);
    const issue = (n: number, state: FleetIssue["state"], createdAt: string): FleetIssue => ({
      repository: "o/r",
      number: n,
      title: "t",
      url: "u",
      state,
      priority: n === 1 ? "high" : "none",
      createdAt,
      queuedAt: null,
      waiting: null,
      lease: null,
      pullRequest: null,
    });
    const snapshot = {
      ...emptyFleetSnapshot(AT),
      issues: [issue(1, "queued", "2026-12-02T11:00:00.000Z"), issue(2, "queued", "2026-12-02T11:30:00.000Z"), issue(3, "done", AT)],
    };
    const { exporter, bus } = exporterWith({
      requests,
      writeBudgets: { totals: () => budget },
      interrupts,
      now: () => new Date(clock),
      snapshot: () => snapshot,
      lastPass: () => ({ lastSuccessAt: AT }),
    });
    requests.record(200, { "x-ratelimit-remaining": "4999", "x-ratelimit-resource": "core" });
    requests.record(304, {});
    requests.record(undefined, undefined);
    budget = { waits: 2, drops: 3 };
    expect(await sample(exporter, "harness_issues", { state: "queued", priority: "high" })).toBe(1);
    expect(await sample(exporter, "harness_issues", { state: "queued" })).toBe(2);
    expect(await sample(exporter, "harness_issues", { state: "running" })).toBe(0);
    expect(await sample(exporter, "harness_queue_oldest_age_seconds")).toBe(3600);
    expect(await sample(exporter, "harness_agents", { state: "busy" })).toBe(1);
    expect(await sample(exporter, "harness_agents", { state: "idle" })).toBe(1);
    expect(await sample(exporter, "harness_agents_max")).toBe(2);
    expect(await sample(exporter, "harness_github_requests_total", { status_class: "2xx" })).toBe(1);
    expect(await sample(exporter, "harness_github_requests_total", { status_class: "error" })).toBe(1);
    expect(await sample(exporter, "harness_github_rate_limit_remaining", { resource: "core" })).toBe(4999);
    expect(await sample(exporter, "harness_write_budget_waits_total")).toBe(2);
    expect(await sample(exporter, "harness_write_budget_drops_total")).toBe(3);
    // A second scrape counts only what happened since.
    requests.record(201, {});
    expect(await sample(exporter, "harness_github_requests_total", { status_class: "2xx" })).toBe(2);
    expect(await sample(exporter, "harness_write_budget_drops_total")).toBe(3);
    expect(await sample(exporter, "harness_reconcile_last_success_timestamp_seconds")).toBe(Date.parse(AT) / 1000);

    bus.emit({ type: "claimed", issue: "o/r#1", agent: "a", at: AT, epoch: 1, attempt: 1, sessionId: "s", mode: "new", queuedAt: "2026-12-02T11:58:00.000Z" });
    bus.emit({ type: "claimed", issue: "o/r#2", agent: "a", at: AT, epoch: 1, attempt: 1, sessionId: "s", mode: "new" });
    bus.emit({ type: "not_claimed", issue: "o/r#4", agent: "a", at: AT, reason: "held on this host by agent-2 (pid 7)" });
    bus.emit({ type: "not_claimed", issue: "o/r#5", agent: "a", at: AT, reason: "the issue is not labeled harness:queued" });
    bus.emit({ type: "not_claimed", issue: "o/r#6", agent: "a", at: AT, reason: "something new" });
    expect(await sample(exporter, "harness_claims_total", { result: "claimed" })).toBe(2);
    expect(await sample(exporter, "harness_claims_total", { result: "held" })).toBe(1);
    expect(await sample(exporter, "harness_claims_total", { result: "not_queued" })).toBe(1);
    expect(await sample(exporter, "harness_claims_total", { result: "other" })).toBe(1);
    // Claim wait: 120 s from the label event; 1800 s from the opening of #2 (first attempt, no label time).
    expect(await sample(exporter, "harness_claim_wait_seconds_sum")).toBe(120 + 1800);

    bus.emit({ type: "lease_renewal", issue: "o/r#1", agent: "a", at: AT, result: "renewed" });
    bus.emit({ type: "lease_renewal", issue: "o/r#1", agent: "a", at: AT, result: "lost" });
    bus.emit({ type: "reclaimed", issue: "o/r#7", agent: "a", at: AT, reason: "lease_expired", action: "failed", attempt: 3 });
    expect(await sample(exporter, "harness_lease_renewals_total", { result: "renewed" })).toBe(1);
    expect(await sample(exporter, "harness_lease_renewals_total", { result: "lost" })).toBe(1);
    expect(await sample(exporter, "harness_reclaims_total", { reason: "lease_expired", action: "failed" })).toBe(1);

    // Interrupt latency: from the in-process interrupt to the session's end.
    interrupts.register("o/r#1", () => undefined);
    interrupts.interrupt("o/r#1");
    clock += 2_500;
    bus.emit({
      type: "session_ended",
      issue: "o/r#1",
      agent: "a",
      at: new Date(clock).toISOString(),
      outcome: "interrupted",
      turns: 2,
      costUsd: 0,
      durationMs: 5000,
    });
    expect(await sample(exporter, "harness_interrupt_latency_seconds_sum")).toBe(2.5);
    expect(await sample(exporter, "harness_session_turns_total")).toBe(2);

    exporter.notified("slack", "sent");
    expect(await sample(exporter, "harness_notifications_total", { channel: "slack", result: "sent" })).toBe(1);
    expect(await sample(exporter, "harness_build_info", { version: "9.9.9" })).toBe(1);

    exporter.close();
    bus.emit({ type: "session_started", issue: "o/r#1", agent: "a", at: AT, sessionId: "s", resume: false });
    expect(await sample(exporter, "harness_sessions_started_total")).toBe(0);
  });
});
