/**
 * Trends without Prometheus, the pure part: which lifecycle events count
 * (src/core/lifecycle-events.ts), the record kept of each in the state
 * directory's per-minute files, and how a day's records roll up into the row
 * that `harness report` prints and the status page charts. No I/O, no clock.
 *
 * - Sessions: `session_ended` (outcome, cost, duration).
 * - Issues: `issue_done`; done when its outcome is `success`, failed for any other
 *   outcome but `interrupted` (an interrupted issue is queued again, not finished).
 * - Claims: `claimed`.
 *
 * Idempotent: each record has a key (event type, issue, agent, session id when the
 * event has one, time), and a day counts each key once.
 */
import type { LifecycleEvent } from "./lifecycle-events.js";

/** One counted event, as a line of a per-minute file (trends/minutes/DAY/HHMM.jsonl). */
export type TrendRecord =
  /** `repository`: `owner/repo` (absent in records written before it was kept). */
  | { key: string; at: string; type: "session_ended"; outcome: string; costUsd: number; durationMs: number; turns: number; repository?: string }
  | { key: string; at: string; type: "issue_done"; outcome: string }
  | { key: string; at: string; type: "claimed" };

/** What a day adds up to (trends/days/DAY.json), from which its report row is computed. */
export interface DayRollup {
  /** The UTC date, YYYY-MM-DD. */
  date: string;
  claims: number;
  sessions: number;
  /** Sessions by outcome (src/core/session-report.ts). */
  outcomes: Record<string, number>;
  done: number;
  failed: number;
  costUsd: number;
  /** Session durations in seconds, ascending (at most MAX_DURATION_SAMPLES, evenly thinned). */
  sessionSeconds: number[];
  /** Sessions and dollars by repository (`owner/repo`; `unknown` for older records), then by session outcome. Absent in day files written before it was kept. */
  spend?: SpendTable;
}

/** One line of spend: a repository's sessions of one outcome. */
export interface SpendLine {
  repository: string;
  outcome: string;
  sessions: number;
  costUsd: number;
}

/** One day of `harness report` (also its JSON, `days[]`; keys documented in docs/monitoring.md). */
export interface TrendDay {
  date: string;
  sessions: number;
  done: number;
  failed: number;
  /** done / (done + failed), 0..1; null when no issue finished. */
  successRate: number | null;
  costUsd: number;
  /** costUsd / done; null when nothing was done. */
  costPerSuccessUsd: number | null;
  /** Median and 95th percentile of the session durations, seconds; null without sessions. */
  p50Seconds: number | null;
  p95Seconds: number | null;
  claims: number;
  outcomes: Record<string, number>;
  /** Spend by repository and outcome, sorted by repository then outcome (only what the day files kept it for). */
  spend: SpendLine[];
}

/** What `renderTrendCharts` draws and `harness report --json` prints: the days, oldest first, and their total. */
export interface TrendRollup {
  days: TrendDay[];
  total: Omit<TrendDay, "date">;
}

export const MAX_DURATION_SAMPLES = 10_000;

/** The record of a lifecycle event, or null for the events trends do not count. */
export function trendRecordOf(event: LifecycleEvent): TrendRecord | null {
  if (event.type !== "session_ended" && event.type !== "issue_done" && event.type !== "claimed") return null;
  const at = new Date(event.at);
  if (Number.isNaN(at.getTime())) return null;
  const iso = at.toISOString();
  const session = event.type === "claimed" ? event.sessionId : "";
  const key = [event.type, event.issue, event.agent, session, iso].join("|");
  switch (event.type) {
    case "session_ended":
      return {
        key,
        at: iso,
        type: "session_ended",
        outcome: event.outcome,
        costUsd: event.costUsd,
        durationMs: event.durationMs,
        turns: event.turns,
        repository: repositoryOf(event.issue),
      };
    case "issue_done":
      return { key, at: iso, type: "issue_done", outcome: event.outcome };
    case "claimed":
      return { key, at: iso, type: "claimed" };
  }
}

/** `owner/repo` of an event's `owner/repo#N`. */
function repositoryOf(issue: string): string {
  const hash = issue.lastIndexOf("#");
  return hash > 0 ? issue.slice(0, hash) : issue;
}

export type SpendTable = Record<string, Record<string, { sessions: number; costUsd: number }>>;

function addSpend(table: SpendTable, repository: string, outcome: string, sessions: number, costUsd: number): void {
  const byOutcome = (table[repository] ??= {});
  const cell = (byOutcome[outcome] ??= { sessions: 0, costUsd: 0 });
  cell.sessions += sessions;
  cell.costUsd += costUsd;
}

function spendLines(table: SpendTable): SpendLine[] {
  return Object.entries(table)
    .flatMap(([repository, byOutcome]) => Object.entries(byOutcome).map(([outcome, c]) => ({ repository, outcome, sessions: c.sessions, costUsd: c.costUsd })))
    .sort((a, b) => (a.repository === b.repository ? (a.outcome < b.outcome ? -1 : 1) : a.repository < b.repository ? -1 : 1));
}

/** The UTC day (YYYY-MM-DD) and minute (HHMM) of an ISO time. */
export function minuteOf(iso: string): { day: string; minute: string } {
  return { day: iso.slice(0, 10), minute: `${iso.slice(11, 13)}${iso.slice(14, 16)}` };
}

function thin(sorted: number[]): number[] {
  if (sorted.length <= MAX_DURATION_SAMPLES) return sorted;
  const step = sorted.length / MAX_DURATION_SAMPLES;
  return Array.from({ length: MAX_DURATION_SAMPLES }, (_, i) => sorted[Math.floor(i * step)] ?? 0);
}

/** How a finished issue counts: done when its outcome is `success`, interrupted (queued again, not finished: also `waiting`, held back by the daily budget), failed otherwise. */
export function issueCount(outcome: string): "done" | "failed" | "interrupted" {
  return outcome === "success" ? "done" : outcome === "interrupted" || outcome === "waiting" ? "interrupted" : "failed";
}

/** A day's records (any order, duplicates counted once) as one rollup. */
export function rollupDay(date: string, records: Iterable<TrendRecord>): DayRollup {
  const seen = new Set<string>();
  const day: DayRollup = { date, claims: 0, sessions: 0, outcomes: {}, done: 0, failed: 0, costUsd: 0, sessionSeconds: [], spend: {} };
  for (const r of records) {
    if (seen.has(r.key)) continue;
    seen.add(r.key);
    if (r.type === "claimed") day.claims += 1;
    else if (r.type === "issue_done") {
      const counted = issueCount(r.outcome);
      if (counted === "done") day.done += 1;
      else if (counted === "failed") day.failed += 1;
    } else {
      day.sessions += 1;
      day.outcomes[r.outcome] = (day.outcomes[r.outcome] ?? 0) + 1;
      day.costUsd += r.costUsd;
      day.sessionSeconds.push(r.durationMs / 1000);
      addSpend((day.spend ??= {}), r.repository ?? "unknown", r.outcome, 1, r.costUsd);
    }
  }
  day.sessionSeconds = thin(day.sessionSeconds.sort((a, b) => a - b));
  return day;
}

/** The nearest-rank percentile (0 < q ≤ 1) of ascending samples; null when there are none. */
export function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? null;
}

function row(day: Omit<DayRollup, "date">): Omit<TrendDay, "date"> {
  const finished = day.done + day.failed;
  return {
    sessions: day.sessions,
    done: day.done,
    failed: day.failed,
    successRate: finished === 0 ? null : day.done / finished,
    costUsd: day.costUsd,
    costPerSuccessUsd: day.done === 0 ? null : day.costUsd / day.done,
    p50Seconds: percentile(day.sessionSeconds, 0.5),
    p95Seconds: percentile(day.sessionSeconds, 0.95),
    claims: day.claims,
    outcomes: day.outcomes,
    spend: spendLines(day.spend ?? {}),
  };
}

/** The report of some days (any order): one row a day, oldest first, and the total over them. */
export function trendRollup(days: readonly DayRollup[]): TrendRollup {
  const sorted = [...days].sort((a, b) => a.date.localeCompare(b.date));
  const all: Omit<DayRollup, "date"> = { claims: 0, sessions: 0, outcomes: {}, done: 0, failed: 0, costUsd: 0, sessionSeconds: [], spend: {} };
  for (const d of sorted) {
    all.claims += d.claims;
    all.sessions += d.sessions;
    all.done += d.done;
    all.failed += d.failed;
    all.costUsd += d.costUsd;
    for (const [k, v] of Object.entries(d.outcomes)) all.outcomes[k] = (all.outcomes[k] ?? 0) + v;
    for (const line of spendLines(d.spend ?? {})) addSpend((all.spend ??= {}), line.repository, line.outcome, line.sessions, line.costUsd);
    all.sessionSeconds.push(...d.sessionSeconds);
  }
  all.sessionSeconds.sort((a, b) => a - b);
  return { days: sorted.map((d) => ({ date: d.date, ...row(d) })), total: row(all) };
}
