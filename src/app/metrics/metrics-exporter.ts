import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { fleetPriorities, fleetStates, type FleetSnapshot } from "../../core/fleet.js";
import type { EventOf, LifecycleEvent } from "../../core/lifecycle-events.js";
import type { SessionOutcome } from "../../core/session-report.js";
import { processRequestStats, statusClasses, type RequestStats } from "../../adapters/github-requests/request-stats.js";
import { processWriteBudgets } from "../../adapters/github-requests/process-write-budgets.js";

/** Buckets fit for minutes: 5 s to 2 h. */
export const MINUTE_BUCKETS = [5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200];

/** The claim results `harness_claims_total` counts: a fixed set, whatever the reason text says. */
export const claimResults = ["claimed", "held", "not_queued", "refused", "shutdown", "error", "other"] as const;
export type ClaimResult = (typeof claimResults)[number];

/** A `not_claimed` reason (free text for people) as one of claimResults. */
export function claimResultOf(reason: string): ClaimResult {
  const r = reason.toLowerCase();
  if (/held|already (?:exists|claimed)|is claimed|lease (?:moved|changed)|race/.test(r)) return "held";
  if (/not labeled|closed|pull request/.test(r)) return "not_queued";
  if (/shutting down/.test(r)) return "shutdown";
  if (/permission|refused|not allowed/.test(r)) return "refused";
  if (/error|failed|could not/.test(r)) return "error";
  return "other";
}

export interface MetricsSources {
  /** The lifecycle event bus of the host runtime (src/runtime/event-bus.ts). */
  events: { subscribe(listener: (event: LifecycleEvent) => void): () => void };
  /** The reconciler's last snapshot; the empty one until a reconciler is attached. */
  snapshot?: () => FleetSnapshot;
  /** The reconciler's last pass (`harness_reconcile_last_success_timestamp_seconds`). */
  lastPass?: () => { lastSuccessAt: string | null } | null;
  /** The agent pool: its size and how many agents work now. */
  pool: { readonly size: number; readonly busy: number };
  /** In-process interrupts (interrupt latency): called with the issue key of each. */
  interrupts?: { onInterrupt(listener: (key: string) => void): () => void };
  /** GitHub answers by status class and the rate limit left; the process's by default. */
  requests?: RequestStats;
  /** Write-budget waits and drops; the process's budgets by default. */
  writeBudgets?: { totals(): { waits: number; drops: number } };
  /** `harness_build_info`'s labels. */
  version: string;
  nodeVersion?: string;
  now?: () => Date;
  /** prom-client's default process metrics (default true). */
  processMetrics?: boolean;
}

/**
 * The Prometheus exporter of one app process (docs/metrics.md): its own
 * Registry (never prom-client's global one), gauges computed in `collect()` from
 * the fleet snapshot and the agent pool, so a scrape never calls GitHub;
 * counters and histograms fed by the lifecycle events. Labels are bounded:
 * never an issue, session, pull request, branch, user or repository.
 */
export class MetricsExporter {
  readonly registry = new Registry();
  private snapshotOf: () => FleetSnapshot | null;
  private lastPassOf: () => { lastSuccessAt: string | null } | null;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly interruptAt = new Map<string, number>();
  private readonly notifications: Counter<"channel" | "result">;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const now = sources.now ?? ((): Date => new Date());
    this.snapshotOf = sources.snapshot ?? (() => null);
    this.lastPassOf = sources.lastPass ?? (() => null);
    if (sources.processMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters, which promtool's lint refuses; nodejs_active_handles and the like say the same.
      for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"])
        this.registry.removeSingleMetric(name);
    }
    const requests = sources.requests ?? processRequestStats;
    const budgets = sources.writeBudgets ?? processWriteBudgets;

    new Gauge({
      name: "harness_build_info",
      help: "1, labeled with the harness and Node.js versions.",
      labelNames: ["version", "node_version"],
      registers,
    }).set({ version: sources.version, node_version: sources.nodeVersion ?? process.versions.node }, 1);
    const snapshot = (): FleetSnapshot | null => this.snapshotOf();
    new Gauge({
      name: "harness_issues",
      help: "Open issues by harness state and priority, as of the last reconcile pass.",
      labelNames: ["state", "priority"],
      registers,
      collect() {
        const counts = new Map<string, number>();
        for (const issue of snapshot()?.issues ?? []) counts.set(`${issue.state} ${issue.priority}`, (counts.get(`${issue.state} ${issue.priority}`) ?? 0) + 1);
        for (const state of fleetStates) for (const priority of fleetPriorities) this.set({ state, priority }, counts.get(`${state} ${priority}`) ?? 0);
      },
    });
    new Gauge({
      name: "harness_queue_oldest_age_seconds",
      help: "Age of the oldest queued issue (since it was queued, else since it was opened); 0 when nothing is queued.",
      registers,
      collect() {
        let oldest = Infinity;
        for (const issue of snapshot()?.issues ?? []) {
          if (issue.state !== "queued") continue;
          const t = Date.parse(issue.queuedAt ?? issue.createdAt);
          if (!Number.isNaN(t)) oldest = Math.min(oldest, t);
        }
        this.set(oldest === Infinity ? 0 : Math.max(0, (now().getTime() - oldest) / 1000));
      },
    });
    const lastPass = (): { lastSuccessAt: string | null } | null => this.lastPassOf();
    new Gauge({
      name: "harness_reconcile_last_success_timestamp_seconds",
      help: "When the last reconcile pass that reached GitHub ended (Unix seconds); 0 before the first.",
      registers,
      collect() {
        const at = lastPass()?.lastSuccessAt;
        this.set(at ? Date.parse(at) / 1000 : 0);
      },
    });
    const pool = sources.pool;
    new Gauge({
      name: "harness_agents",
      help: "The app's agents by state: busy (working an issue) or idle.",
      labelNames: ["state"],
      registers,
      collect() {
        this.set({ state: "busy" }, pool.busy);
        this.set({ state: "idle" }, Math.max(0, pool.size - pool.busy));
      },
    });
    new Gauge({
      name: "harness_agents_max",
      help: "The size of the app's agent pool.",
      registers,
      collect() {
        this.set(pool.size);
      },
    });
    const seenRequests: Record<string, number> = {};
    new Counter({
      name: "harness_github_requests_total",
      help: "GitHub API answers by status class (error: no answer).",
      labelNames: ["status_class"],
      registers,
      collect() {
        for (const cls of statusClasses) {
          const delta = requests.byClass[cls] - (seenRequests[cls] ?? 0);
          seenRequests[cls] = requests.byClass[cls];
          this.inc({ status_class: cls }, Math.max(0, delta));
        }
      },
    });
    new Gauge({
      name: "harness_github_rate_limit_remaining",
      help: "Requests left in GitHub's rate limit window by resource, from the last answer that said.",
      labelNames: ["resource"],
      registers,
      collect() {
        for (const [resource, remaining] of requests.rateLimitRemaining) this.set({ resource }, remaining);
      },
    });
    const seenBudget = { waits: 0, drops: 0 };
    new Counter({
      name: "harness_write_budget_waits_total",
      help: "Essential GitHub writes that waited for the write budget.",
      registers,
      collect() {
        const { waits } = budgets.totals();
        this.inc(Math.max(0, waits - seenBudget.waits));
        seenBudget.waits = waits;
      },
    });
    new Counter({
      name: "harness_write_budget_drops_total",
      help: "Cosmetic GitHub writes (progress edits) dropped by the write budget.",
      registers,
      collect() {
        const { drops } = budgets.totals();
        this.inc(Math.max(0, drops - seenBudget.drops));
        seenBudget.drops = drops;
      },
    });

    const claims = new Counter({ name: "harness_claims_total", help: "Claim attempts by result.", labelNames: ["result"], registers });
    for (const result of claimResults) claims.inc({ result }, 0);
    const claimWait = new Histogram({
      name: "harness_claim_wait_seconds",
      help: "From the queued label (else the issue's opening, on a first attempt) to the claim.",
      buckets: MINUTE_BUCKETS,
      registers,
    });
    const budgetWaits = new Counter({
      name: "harness_budget_waits_total",
      help: "Claimed issues held back by a daily dollar cap (no session started, queued again for the next UTC day), by the cap's scope.",
      labelNames: ["scope"],
      registers,
    });
    for (const scope of ["repository", "installation"]) budgetWaits.inc({ scope }, 0);
    const started = new Counter({ name: "harness_sessions_started_total", help: "Claude Code sessions started.", registers });
    const sessions = new Counter({ name: "harness_sessions_total", help: "Sessions ended, by outcome.", labelNames: ["outcome"], registers });
    const duration = new Histogram({
      name: "harness_session_duration_seconds",
      help: "Session duration by outcome.",
      labelNames: ["outcome"],
      buckets: MINUTE_BUCKETS,
      registers,
    });
    const turns = new Counter({ name: "harness_session_turns_total", help: "Model turns of ended sessions.", registers });
    const cost = new Counter({ name: "harness_cost_usd_total", help: "Cost of ended sessions in US dollars, by model.", labelNames: ["model"], registers });
    const tokens = new Counter({
      name: "harness_tokens_total",
      help: "Tokens of ended sessions by model and type, each message counted once.",
      labelNames: ["model", "type"],
      registers,
    });
    const renewals = new Counter({ name: "harness_lease_renewals_total", help: "Lease renewals by result.", labelNames: ["result"], registers });
    for (const result of ["renewed", "lost", "error"]) renewals.inc({ result }, 0);
    const reclaims = new Counter({ name: "harness_reclaims_total", help: "Leases taken back by the reclaimer.", labelNames: ["reason", "action"], registers });
    const interruptLatency = new Histogram({
      name: "harness_interrupt_latency_seconds",
      help: "From an in-process interrupt request to the session's end.",
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.notifications = new Counter({
      name: "harness_notifications_total",
      help: "Notifications by channel and result.",
      labelNames: ["channel", "result"],
      registers,
    });

    if (sources.interrupts) this.unsubscribe.push(sources.interrupts.onInterrupt((key) => this.interruptAt.set(key, now().getTime())));
    const onClaimed = (event: EventOf<"claimed">): void => {
      claims.inc({ result: "claimed" });
      const hash = event.issue.lastIndexOf("#");
      const repository = event.issue.slice(0, hash).toLowerCase();
      const number = Number(event.issue.slice(hash + 1));
      const issue = snapshot()?.issues.find((i) => i.number === number && i.repository.toLowerCase() === repository);
      const from = event.queuedAt ?? issue?.queuedAt ?? (event.attempt <= 1 ? issue?.createdAt : undefined);
      const t = from === undefined ? NaN : Date.parse(event.at) - Date.parse(from);
      if (Number.isFinite(t)) claimWait.observe(Math.max(0, t / 1000));
    };
    const onEnded = (event: EventOf<"session_ended">): void => {
      const outcome: SessionOutcome = event.outcome;
      sessions.inc({ outcome });
      duration.observe({ outcome }, event.durationMs / 1000);
      turns.inc(event.turns);
      const asked = this.interruptAt.get(event.issue);
      if (asked !== undefined) {
        this.interruptAt.delete(event.issue);
        interruptLatency.observe(Math.max(0, (Date.parse(event.at) - asked) / 1000));
      }
    };
    this.unsubscribe.push(
      sources.events.subscribe((event) => {
        switch (event.type) {
          case "claimed":
            return onClaimed(event);
          case "not_claimed":
            return void claims.inc({ result: claimResultOf(event.reason) });
          case "session_started":
            return void started.inc();
          case "session_ended":
            return onEnded(event);
          case "session_usage":
            for (const m of event.models) {
              cost.inc({ model: m.model }, m.costUsd);
              tokens.inc({ model: m.model, type: "input" }, m.inputTokens);
              tokens.inc({ model: m.model, type: "output" }, m.outputTokens);
              tokens.inc({ model: m.model, type: "cache_read" }, m.cacheReadTokens);
              tokens.inc({ model: m.model, type: "cache_creation" }, m.cacheCreationTokens);
            }
            return;
          case "lease_renewal":
            return void renewals.inc({ result: event.result });
          case "reclaimed":
            return void reclaims.inc({ reason: event.reason, action: event.action });
          case "budget_wait":
            return void budgetWaits.inc({ scope: event.scope });
          default:
            return;
        }
      }),
    );
  }

  /** Reads the fleet from this reconciler from now on (it starts after the server). */
  attach(reconciler: { snapshot(): FleetSnapshot; lastPass(): { lastSuccessAt: string | null } | null }): void {
    this.snapshotOf = () => reconciler.snapshot();
    this.lastPassOf = () => reconciler.lastPass();
  }

  /** A notification's result (the notifier reports here). */
  notified(channel: "slack" | "email", result: "sent" | "failed" | "dropped"): void {
    this.notifications.inc({ channel, result });
  }

  /** The exposition text of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops listening to the events. */
  close(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }
}
