import { budgetWaitLine } from "../../core/daily-budget.js";
import { fleetStates, type FleetIssue, type FleetSnapshot, type FleetState } from "../../core/fleet.js";
import type { LifecycleEvent } from "../../core/lifecycle-events.js";
import { issueCount, type TrendRecord } from "../../core/trend-rollup.js";
import type { PoolStatus, RecentEvent, StatusCounters, StatusRow, StatusView } from "./status-view.js";

const RECENT_EVENTS = 50;
const DAY_MS = 24 * 60 * 60 * 1000;

/** What this process saw of one issue through its own agents' events. */
interface LiveIssue {
  state: FleetState;
  agent: string;
  at: string;
  attempt: number | null;
  startedAt: string | null;
  turns: number | null;
  costUsd: number | null;
  lastToolCall: string | null;
  heartbeatAt: string | null;
  pullRequest: number | null;
}

export interface StatusModelOptions {
  snapshot: () => FleetSnapshot;
  pool?: () => PoolStatus;
  host: string;
  /** The web root of issue links for issues only the events name: `https://github.com` by default. */
  webUrl?: string;
  now?: () => Date;
  /**
   * What the host's trend store (src/runtime/trend-store.ts) recorded before this
   * process started: its `issue_done` and `session_ended` records of the last 24 h
   * count in the counters, so a restart does not reset them.
   */
  history?: readonly TrendRecord[];
  /** When the trend store began counting (ISO; its oldest kept record's minute or day): where the counters' window may start. */
  historySince?: string;
}

const rank: Record<FleetState, number> = { running: 0, claimed: 1, queued: 2, interrupted: 3, "needs-review": 4, failed: 5, done: 6 };

/** The state an `issue_done` ends in: its label's harness state if it names one, else from the outcome. */
function finalState(label: string, outcome: string): FleetState {
  const suffix = label.split(":").pop() ?? "";
  const named = fleetStates.find((s) => s === suffix);
  if (named) return named;
  if (outcome === "success") return "done";
  if (outcome === "interrupted") return "interrupted";
  return "failed";
}

/** The event as a line of "Recent events"; null for the routine ones (usage, renewals) that would crowd it out. */
function describe(event: LifecycleEvent): string | null {
  switch (event.type) {
    case "session_usage":
      return null;
    case "lease_renewal":
      return event.result === "renewed" ? null : `lease renewal: ${event.result}`;
    case "reclaimed":
      return `lease taken back (${event.reason.replace(/_/g, " ")}, attempt ${event.attempt}): ${event.action === "requeued" ? "queued again" : "failed"}`;
    case "claimed":
      return `claimed (attempt ${event.attempt}, ${event.mode})`;
    case "not_claimed":
      return `not claimed: ${event.reason}`;
    case "worktree_ready":
      return `worktree ready from ${event.startPoint}${event.warm === undefined ? "" : event.warm ? " (warm: reused)" : " (cold)"}`;
    case "session_started":
      return event.resume ? "session resumed" : "session started";
    case "progress":
      return `turn ${event.turns}, $${event.costUsd.toFixed(4)}${event.lastToolCall ? `, ${event.lastToolCall}` : ""}`;
    case "session_ended":
      return `session ended: ${event.outcome} after ${event.turns} turns, $${event.costUsd.toFixed(4)}`;
    case "published":
      return `published: ${event.label}${event.pullRequest !== null ? `, PR #${event.pullRequest}` : ""}`;
    case "interrupted":
      return event.byShutdown ? "interrupted by shutdown" : "interrupted";
    case "failed":
      return `failed: ${event.code} ${event.message}`;
    case "fenced":
      return "fenced: the lease was taken back";
    case "released":
      return `lease released (${event.outcome})`;
    case "requeued":
      return `queued again (${event.reason})`;
    case "budget_wait":
      return budgetWaitLine(event);
    case "issue_done":
      return `done: ${event.outcome}${event.label ? `, ${event.label}` : ""}`;
    case "host_started":
      return `host started with ${event.agents.length} agent(s)`;
  }
}

/** `owner/repo#N` → its parts, or null. */
function parseKey(key: string): { repository: string; number: number } | null {
  const match = /^([^#\s]+\/[^#\s]+)#(\d+)$/.exec(key);
  return match?.[1] && match[2] ? { repository: match[1], number: Number(match[2]) } : null;
}

/** An Actions run id as the Action writes it into the lease owner: `RUNID-ATTEMPT`. */
function runPath(runId: string): string | null {
  const match = /^(\d+)-(\d+)$/.exec(runId);
  return match?.[1] && match[2] ? `actions/runs/${match[1]}/attempts/${match[2]}` : null;
}

/**
 * The status page's read model: the last fleet snapshot overlaid with what
 * this process's own agents did since (the lifecycle events), the pool, 24 h
 * counters and the last 50 events. The counters start from the trend store's
 * records of the last 24 h (`history`), then count the events this process sees;
 * the events list is this process's own.
 */
export class StatusModel {
  private readonly options: StatusModelOptions;
  private readonly now: () => Date;
  private readonly live = new Map<string, LiveIssue>();
  private readonly recent: RecentEvent[] = [];
  private readonly finished: { at: number; kind: "done" | "failed" | "interrupted" }[] = [];
  private readonly spend: { at: number; usd: number }[] = [];
  private readonly startedAt: number;

  constructor(options: StatusModelOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
    this.startedAt = this.now().getTime();
    const dayAgo = this.startedAt - DAY_MS;
    const seen = new Set<string>();
    const history = [...(options.history ?? [])].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    for (const record of history) {
      const at = Date.parse(record.at);
      if (!(at >= dayAgo && at <= this.startedAt) || seen.has(record.key)) continue;
      seen.add(record.key);
      if (record.type === "issue_done") this.finished.push({ at, kind: issueCount(record.outcome) });
      else if (record.type === "session_ended") this.spend.push({ at, usd: record.costUsd });
    }
    // The window reaches back to when the store began counting (at most 24 h).
    const historySince = options.historySince === undefined ? Number.NaN : Date.parse(options.historySince);
    if (!Number.isNaN(historySince)) this.startedAt = Math.min(this.startedAt, historySince);
  }

  /** Takes one lifecycle event of this process's runtime. */
  apply(event: LifecycleEvent): void {
    const text = describe(event);
    if (text !== null) {
      this.recent.unshift({
        at: event.at,
        type: event.type,
        issue: event.type === "host_started" ? event.host : event.issue,
        agent: event.type === "host_started" ? null : event.agent,
        text,
      });
      if (this.recent.length > RECENT_EVENTS) this.recent.length = RECENT_EVENTS;
    }
    // Usage changes no row; a reclaim is another host's lease, shown by the fleet snapshot.
    if (event.type === "host_started" || event.type === "not_claimed" || event.type === "session_usage" || event.type === "reclaimed") return;
    if (event.type === "lease_renewal" && !this.live.has(event.issue)) return;
    const at = Date.parse(event.at);
    const before = this.live.get(event.issue);
    const base: LiveIssue = before ?? {
      state: "claimed",
      agent: event.agent,
      at: event.at,
      attempt: null,
      startedAt: null,
      turns: null,
      costUsd: null,
      lastToolCall: null,
      heartbeatAt: null,
      pullRequest: null,
    };
    const next: LiveIssue = { ...base, agent: event.agent, at: event.at };
    switch (event.type) {
      case "claimed":
        Object.assign(next, { state: "claimed", attempt: event.attempt, startedAt: event.at, heartbeatAt: event.at, turns: 0, costUsd: 0, lastToolCall: null });
        break;
      case "session_started":
        Object.assign(next, { state: "running", heartbeatAt: event.at });
        break;
      case "progress":
        Object.assign(next, { state: "running", turns: event.turns, costUsd: event.costUsd, lastToolCall: event.lastToolCall, heartbeatAt: event.at });
        break;
      case "session_ended":
        Object.assign(next, { turns: event.turns, costUsd: event.costUsd });
        this.spend.push({ at, usd: event.costUsd });
        break;
      case "published":
        Object.assign(next, { pullRequest: event.pullRequest ?? next.pullRequest, state: finalState(event.label, event.outcome) });
        break;
      case "interrupted":
        next.state = "interrupted";
        break;
      case "failed":
        next.state = "failed";
        break;
      case "requeued":
        next.state = "queued";
        break;
      case "lease_renewal":
        if (event.result === "renewed") next.heartbeatAt = event.at;
        break;
      case "issue_done": {
        next.state = finalState(event.label, event.outcome);
        next.pullRequest = event.pullRequest ?? next.pullRequest;
        this.finished.push({ at, kind: issueCount(event.outcome) });
        break;
      }
      default:
        break;
    }
    this.live.set(event.issue, next);
  }

  counters(): StatusCounters {
    const now = this.now().getTime();
    const since = Math.max(now - DAY_MS, this.startedAt);
    while (this.finished[0] && this.finished[0].at < now - DAY_MS) this.finished.shift();
    while (this.spend[0] && this.spend[0].at < now - DAY_MS) this.spend.shift();
    const count = (kind: string): number => this.finished.filter((f) => f.kind === kind).length;
    const done = count("done");
    const failed = count("failed");
    return {
      done,
      failed,
      interrupted: count("interrupted"),
      successRate: done + failed === 0 ? null : done / (done + failed),
      spendUsd: this.spend.reduce((sum, s) => sum + s.usd, 0),
      since: new Date(since).toISOString(),
    };
  }

  view(): StatusView {
    // Issues this process finished more than 24 h ago leave the page (the snapshot still shows open ones).
    const dayAgo = this.now().getTime() - DAY_MS;
    for (const [key, live] of this.live) {
      if (live.state !== "claimed" && live.state !== "running" && Date.parse(live.at) < dayAgo) this.live.delete(key);
    }
    const snapshot = this.options.snapshot();
    const webUrl = (this.options.webUrl ?? "https://github.com").replace(/\/+$/, "");
    const rows = new Map<string, StatusRow>();
    for (const issue of snapshot.issues) {
      const key = `${issue.repository}#${issue.number}`;
      rows.set(key, this.snapshotRow(key, issue));
    }
    for (const [key, live] of this.live) {
      const parts = parseKey(key);
      if (!parts) continue;
      const known = rows.get(key);
      const row: StatusRow = known ?? {
        key,
        repository: parts.repository,
        number: parts.number,
        title: null,
        state: live.state,
        waiting: null,
        agent: null,
        host: null,
        attempt: null,
        startedAt: null,
        turns: null,
        costUsd: null,
        lastToolCall: null,
        heartbeatAt: null,
        leaseUntil: null,
        issueUrl: `${webUrl}/${parts.repository}/issues/${parts.number}`,
        pullRequest: null,
        pullRequestUrl: null,
        runUrl: null,
        live: true,
      };
      // The snapshot is newer than the last event: it knows better (another host, a person's label).
      const snapshotNewer = known !== undefined && Date.parse(snapshot.takenAt) > Date.parse(live.at);
      const pullRequest = row.pullRequest ?? live.pullRequest;
      rows.set(key, {
        ...row,
        state: snapshotNewer ? row.state : live.state,
        waiting: snapshotNewer ? row.waiting : null,
        agent: snapshotNewer && row.agent ? row.agent : live.agent,
        host: snapshotNewer && row.host ? row.host : this.options.host,
        attempt: live.attempt ?? row.attempt,
        startedAt: live.startedAt,
        turns: live.turns,
        costUsd: live.costUsd,
        lastToolCall: live.lastToolCall,
        heartbeatAt: live.heartbeatAt,
        pullRequest,
        pullRequestUrl: pullRequest === null ? null : row.issueUrl.replace(/\/issues\/\d+$/, `/pull/${pullRequest}`),
        live: true,
      });
    }
    const sorted = [...rows.values()].sort((a, b) => rank[a.state] - rank[b.state] || a.key.localeCompare(b.key, "en", { numeric: true }));
    return {
      at: this.now().toISOString(),
      snapshotAt: snapshot.takenAt,
      rows: sorted,
      pool: this.options.pool ? this.options.pool() : null,
      counters: this.counters(),
      events: [...this.recent],
      errors: snapshot.repositories.flatMap((r) => (r.error === null ? [] : [{ repository: r.repository, error: r.error }])),
    };
  }

  private snapshotRow(key: string, issue: FleetIssue): StatusRow {
    const lease = issue.lease;
    const held = lease !== null && lease.state === "claimed";
    const run = held ? runPath(lease.owner.runId) : null;
    return {
      key,
      repository: issue.repository,
      number: issue.number,
      title: issue.title,
      state: issue.state,
      waiting: issue.waiting,
      agent: held ? lease.owner.agent : null,
      host: held ? lease.owner.host : null,
      attempt: lease ? lease.attempt : null,
      startedAt: null,
      turns: null,
      costUsd: null,
      lastToolCall: null,
      heartbeatAt: null,
      leaseUntil: held ? lease.leaseUntil : null,
      issueUrl: issue.url,
      pullRequest: issue.pullRequest,
      pullRequestUrl: issue.pullRequest === null ? null : issue.url.replace(/\/issues\/\d+$/, `/pull/${issue.pullRequest}`),
      runUrl: run ? issue.url.replace(/\/issues\/\d+$/, `/${run}`) : null,
      live: false,
    };
  }
}
