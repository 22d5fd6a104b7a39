import os from "node:os";
import { formatCost, formatDuration } from "../core/render-comments.js";
import { trendRollup, type TrendDay, type TrendRollup } from "../core/trend-rollup.js";
import { StateDir } from "../runtime/state-dir.js";
import { TrendStore } from "../runtime/trend-store.js";
import { parseCommandArgs, usageError } from "./args.js";
import { reportSpec } from "./commands.js";

const DAY_MS = 86_400_000;

/**
 * `--since Nd` (the last N UTC days, today included) or `--since Nh` (the last
 * N hours); anything else is EHARNESS_USAGE.
 */
export function sinceOf(value: string, now: Date): Date {
  const m = /^([1-9]\d{0,4})([dh])$/.exec(value);
  if (m === null) throw usageError(reportSpec, `--since takes a number of days or hours like 7d or 12h, not "${value}".`);
  const n = Number(m[1]);
  if (m[2] === "h") return new Date(now.getTime() - n * 3_600_000);
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return new Date(today - (n - 1) * DAY_MS);
}

/** `harness report --json`: the rollup and the window it covers (keys documented in docs/monitoring.md). */
export interface ReportJson extends TrendRollup {
  since: string;
  until: string;
  stateDir: string;
}

const pct = (r: number | null): string => (r === null ? "-" : `${Math.round(r * 100)}%`);
const cost = (c: number | null): string => (c === null ? "-" : formatCost(c));
const secs = (s: number | null): string => (s === null ? "-" : formatDuration(s * 1000));

/** The daily table: one row a day and a total, columns aligned. */
export function renderReportTable(rollup: TrendRollup): string[] {
  const header = ["date", "sessions", "done", "failed", "success", "cost", "cost/success", "p50", "p95"];
  const cells = (label: string, d: Omit<TrendDay, "date">): string[] => [
    label,
    String(d.sessions),
    String(d.done),
    String(d.failed),
    pct(d.successRate),
    cost(d.costUsd),
    cost(d.costPerSuccessUsd),
    secs(d.p50Seconds),
    secs(d.p95Seconds),
  ];
  const rows = [header, ...rollup.days.map((d) => cells(d.date, d)), cells("total", rollup.total)];
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  "));
}

function aligned(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

/** Spend per day, repository and outcome: one row each, then the window's total per repository and outcome. */
export function renderSpendTable(rollup: TrendRollup): string[] {
  const header = ["date", "repository", "outcome", "sessions", "cost"];
  const rows = [
    ...rollup.days.flatMap((d) => d.spend.map((l) => [d.date, l.repository, l.outcome, String(l.sessions), formatCost(l.costUsd)])),
    ...rollup.total.spend.map((l) => ["total", l.repository, l.outcome, String(l.sessions), formatCost(l.costUsd)]),
  ];
  return rows.length === 0 ? [] : aligned([header, ...rows]);
}

/**
 * `harness report [--since 7d] [--json] [--state-dir DIR]`: the trends this host
 * recorded (src/runtime/trend-store.ts), one row a UTC day. Reads only: it
 * creates nothing, not even the state directory.
 */
export async function reportCommand(args: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, now: () => Date = () => new Date()): Promise<number> {
  const { values } = parseCommandArgs(reportSpec, args);
  const at = now();
  const since = sinceOf(values.since ?? "7d", at);
  const state = new StateDir(values["state-dir"] ?? env.HARNESS_STATE_DIR ?? `${os.homedir()}/.claude-harness`);
  const rollup = trendRollup(await new TrendStore(state, { now: () => at }).days(since));
  if (values.json === true) {
    const json: ReportJson = { since: since.toISOString(), until: at.toISOString(), stateDir: state.root, ...rollup };
    out(JSON.stringify(json, null, 2));
    return 0;
  }
  if (rollup.days.length === 0) {
    out(`No trends recorded since ${since.toISOString()} in ${state.root}/trends (harness app and harness worker record them).`);
    return 0;
  }
  for (const line of renderReportTable(rollup)) out(line);
  const spend = renderSpendTable(rollup);
  if (spend.length > 0) {
    out("");
    out("spend by repository and outcome:");
    for (const line of spend) out(line);
  }
  return 0;
}
