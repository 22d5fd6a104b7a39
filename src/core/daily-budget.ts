/**
 * Money: whether a new session may start today, and with how many dollars.
 * Pure: the caller passes what was spent (every attempt's cost, from the
 * session records every host appends to `refs/harness/knowledge`), the caps
 * and the issue's labels.
 *
 * - A repository's daily cap (`budget.dailyUsd` in .github/harness.yml) and the
 *   installation's (the host setting HARNESS_DAILY_USD, summed over every
 *   repository the host works) count every attempt that ended on that UTC day,
 *   whatever its outcome. At a cap no new session starts: the issue stays
 *   queued until the next UTC day.
 * - A session's own limit (`--max-budget-usd`) is `maxBudgetUsd`, or the
 *   issue's `budget:N` label (N dollars, at most `budget.maxIssueUsd`), and never
 *   more than what is left of either daily cap, so one session cannot run far
 *   past the cap.
 * - Sessions in flight count too: a session that passes the gate reserves its
 *   `--max-budget-usd` on the repository's budget ledger (`refs/harness/budget/ledger`,
 *   src/runtime/budget-gate.ts) and the reservation counts while its lease is held; the
 *   attempt's record (its actual cost) replaces it when the session ends, and a dead agent's
 *   reservation stops counting when its lease lapses. A cap reached only because of
 *   reservations waits `RESERVED_RETRY_MS`, not until midnight: the sessions in flight end.
 */
import { HarnessError } from "./errors.js";
import type { Notification } from "./notification.js";
import { TRACKING_MARKER } from "./render-comments.js";

export interface SpendEntry {
  /** `owner/repo` */
  repository: string;
  /** When the attempt ended (ISO). */
  at: string;
  costUsd: number;
}

export interface BudgetInput {
  now: Date;
  /** `owner/repo` of the issue. */
  repository: string;
  /** Every attempt known, of every repository the installation cap covers. */
  spend: readonly SpendEntry[];
  /** Dollars per UTC day for this repository; null: no cap. */
  repositoryDailyUsd: number | null;
  /** Dollars per UTC day for every repository together; null: no cap. */
  installationDailyUsd: number | null;
  /** The configuration's per-session limit. */
  maxBudgetUsd: number;
  /** The highest per-session limit a `budget:N` label may set. */
  maxIssueUsd: number;
  /** The issue's labels. */
  labels: readonly string[];
  /** What sessions in flight reserved (their `--max-budget-usd`), of every repository the installation cap covers. */
  reserved?: readonly { repository: string; usd: number }[];
}

/** How long an issue waits when the cap is reached only by reservations of sessions in flight: 10 minutes. */
export const RESERVED_RETRY_MS = 10 * 60_000;

/** One reservation on a repository's budget ledger: a session in flight, known by its lease (issue, holder, epoch). */
export interface Reservation {
  issue: number;
  agent: string;
  host: string;
  epoch: number;
  usd: number;
  /** When it was made (ISO). */
  at: string;
}

/** The ledger commit's message: the open reservations as JSON. */
export function ledgerMessage(reservations: readonly Reservation[]): string {
  return `${JSON.stringify({ reservations: reservations.map((r) => ({ issue: r.issue, agent: r.agent, host: r.host, epoch: r.epoch, usd: r.usd, at: r.at })) })}\n`;
}

/** The reservations a ledger commit's message holds; entries that do not read as reservations are dropped (they reserve nothing). */
export function parseLedger(message: string): Reservation[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return [];
  }
  const list = (parsed as { reservations?: unknown } | null)?.reservations;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (r): r is Reservation =>
      typeof r === "object" &&
      r !== null &&
      Number.isInteger((r as Reservation).issue) &&
      typeof (r as Reservation).agent === "string" &&
      typeof (r as Reservation).host === "string" &&
      Number.isInteger((r as Reservation).epoch) &&
      typeof (r as Reservation).usd === "number" &&
      Number.isFinite((r as Reservation).usd) &&
      (r as Reservation).usd > 0 &&
      typeof (r as Reservation).at === "string",
  );
}

export type BudgetDecision =
  | {
      kind: "start";
      /** The session's `--max-budget-usd`. */
      sessionUsd: number;
      /** Where the session limit came from, for the log and the summary. */
      source: "config" | "label" | "repository cap" | "installation cap";
      /** A `budget:N` label over `maxIssueUsd`, lowered to it. */
      labelCapped: boolean;
    }
  | {
      kind: "wait";
      scope: "repository" | "installation";
      capUsd: number;
      /** What finished attempts spent today. */
      spentUsd: number;
      /** What sessions in flight reserved (counted against the cap with `spentUsd`). */
      reservedUsd: number;
      /** The next UTC midnight, when the day's spend starts from zero; sooner (RESERVED_RETRY_MS) when reservations fill the cap. */
      until: string;
    };

/** The UTC day (`YYYY-MM-DD`) an ISO time falls on; null when it is not a time. */
export function utcDay(at: string): string | null {
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString().slice(0, 10);
}

/** The start of the next UTC day after `now`, as ISO. */
export function nextUtcDay(now: Date): string {
  const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
  return next.toISOString();
}

/** Dollars spent on `day`, by one repository or (no repository) all of them. Negative or non-finite costs count as zero. */
export function spentOn(spend: readonly SpendEntry[], day: string, repository?: string): number {
  let total = 0;
  for (const entry of spend) {
    if (repository !== undefined && entry.repository !== repository) continue;
    if (utcDay(entry.at) !== day) continue;
    if (Number.isFinite(entry.costUsd) && entry.costUsd > 0) total += entry.costUsd;
  }
  return total;
}

const BUDGET_LABEL = /^budget:(\d+(?:\.\d+)?)$/;

/** The dollars a `budget:N` label asks for (the highest when there are several); null when there is none. */
export function labelBudget(labels: readonly string[]): number | null {
  let best: number | null = null;
  for (const label of labels) {
    const match = BUDGET_LABEL.exec(label.trim());
    if (!match?.[1]) continue;
    const usd = Number(match[1]);
    if (Number.isFinite(usd) && usd > 0 && (best === null || usd > best)) best = usd;
  }
  return best;
}

export function decideBudget(input: BudgetInput): BudgetDecision {
  const day = input.now.toISOString().slice(0, 10);
  const until = nextUtcDay(input.now);
  const reserved = (repository?: string): number =>
    (input.reserved ?? []).reduce(
      (sum, r) =>
        (repository !== undefined && r.repository.toLowerCase() !== repository.toLowerCase()) || !Number.isFinite(r.usd) || r.usd <= 0 ? sum : sum + r.usd,
      0,
    );
  const caps: { scope: "repository" | "installation"; capUsd: number; spentUsd: number; reservedUsd: number }[] = [];
  if (input.repositoryDailyUsd !== null) {
    caps.push({
      scope: "repository",
      capUsd: input.repositoryDailyUsd,
      spentUsd: spentOn(input.spend, day, input.repository),
      reservedUsd: reserved(input.repository),
    });
  }
  if (input.installationDailyUsd !== null) {
    caps.push({ scope: "installation", capUsd: input.installationDailyUsd, spentUsd: spentOn(input.spend, day), reservedUsd: reserved() });
  }
  // Finished spend at the cap waits for midnight; reservations end with their sessions, so a cap they fill is tried again soon.
  const waitUntil = (cap: (typeof caps)[number]): string =>
    cap.spentUsd >= cap.capUsd ? until : new Date(Math.min(Date.parse(until), input.now.getTime() + RESERVED_RETRY_MS)).toISOString();
  // The repository's cap is named first when both are reached: it is the one its maintainers set.
  for (const cap of caps) if (cap.spentUsd + cap.reservedUsd >= cap.capUsd) return { kind: "wait", ...cap, until: waitUntil(cap) };

  const asked = labelBudget(input.labels);
  const labelCapped = asked !== null && asked > input.maxIssueUsd;
  let sessionUsd = asked === null ? input.maxBudgetUsd : Math.min(asked, input.maxIssueUsd);
  let source: Extract<BudgetDecision, { kind: "start" }>["source"] = asked === null ? "config" : "label";
  let limiting: (typeof caps)[number] | null = null;
  for (const cap of caps) {
    const left = cap.capUsd - cap.spentUsd - cap.reservedUsd;
    if (left < sessionUsd) {
      sessionUsd = left;
      limiting = cap;
      source = cap.scope === "repository" ? "repository cap" : "installation cap";
    }
  }
  // Whole cents: the CLI's flag takes a decimal, and a remainder like 0.30000000000000004 reads badly.
  const cents = Math.floor(sessionUsd * 100) / 100;
  // Less than a cent left is a cap reached: a session with a zero budget would only fail.
  if (cents <= 0 && limiting !== null) return { kind: "wait", ...limiting, until: waitUntil(limiting) };
  return { kind: "start", sessionUsd: cents, source, labelCapped };
}

/** Dollars as the comment and the summary show them: whole cents. */
export function formatUsd(usd: number): string {
  return `$${(Math.round(usd * 100) / 100).toFixed(2)}`;
}

export type BudgetWait = Extract<BudgetDecision, { kind: "wait" }>;

/** The one line people read where a session did not start: "daily budget reached ($X of $Y, repository), waits until <UTC midnight>". */
export function budgetWaitLine(wait: Pick<BudgetWait, "scope" | "capUsd" | "spentUsd" | "until"> & { reservedUsd?: number }): string {
  const reservedUsd = wait.reservedUsd ?? 0;
  const used =
    reservedUsd > 0 ? `${formatUsd(wait.spentUsd + reservedUsd)} (${formatUsd(reservedUsd)} reserved by sessions in flight)` : formatUsd(wait.spentUsd);
  return `daily budget reached (${used} of ${formatUsd(wait.capUsd)}, ${wait.scope}), waits until ${wait.until}`;
}

/** The attempt's tracking comment when the daily budget held the session back: the issue stays queued. */
export function renderBudgetWaitComment(input: { issue: number; agent: string; wait: BudgetWait; labelQueued: string }): string {
  const who = input.wait.scope === "repository" ? "`budget.dailyUsd` in .github/harness.yml" : "the host setting HARNESS_DAILY_USD";
  return [
    TRACKING_MARKER,
    `### claude-harness · issue #${input.issue}`,
    "",
    `**⏸️ ${budgetWaitLine(input.wait)}** · agent \`${input.agent}\``,
    "",
    input.wait.spentUsd < input.wait.capUsd && input.wait.reservedUsd > 0
      ? `No session started and no attempt was used: the issue stays \`${input.labelQueued}\` and is tried again at ${input.wait.until}, when sessions in flight may have ended (their actual cost replaces what they reserved). The cap is ${who}.`
      : `No session started and no attempt was used: the issue stays \`${input.labelQueued}\` and is worked after the next UTC midnight. The cap is ${who}.`,
  ].join("\n");
}

/** The summary's line on where the session's `--max-budget-usd` came from; null when it is the configuration's own. */
export function sessionBudgetNote(decision: Extract<BudgetDecision, { kind: "start" }>, maxIssueUsd: number): string | null {
  const usd = formatUsd(decision.sessionUsd);
  switch (decision.source) {
    case "config":
      return null;
    case "label":
      return decision.labelCapped
        ? `Session budget ${usd}: from the issue's budget:N label, lowered to budget.maxIssueUsd (${formatUsd(maxIssueUsd)}).`
        : `Session budget ${usd}: from the issue's budget:N label.`;
    case "repository cap":
      return `Session budget ${usd}: what was left of the repository's daily budget (budget.dailyUsd).`;
    case "installation cap":
      return `Session budget ${usd}: what was left of the installation's daily budget (HARNESS_DAILY_USD).`;
  }
}

/** HARNESS_DAILY_USD: the installation's dollars per UTC day (null when unset or empty); anything but a positive number is EHARNESS_BUDGET_SETTING. */
export function parseDailyUsdSetting(value: string | undefined): number | null {
  if (value === undefined || value.trim() === "") return null;
  const usd = Number(value.trim());
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !Number.isFinite(usd) || usd <= 0 || usd > 1_000_000) {
    throw new HarnessError("EHARNESS_BUDGET_SETTING", {
      message: `HARNESS_DAILY_USD must be a positive number of dollars (at most 1000000), not "${value}".`,
      fix: "Set HARNESS_DAILY_USD to a number of dollars like 50 (decimals allowed), or unset it for no installation cap.",
    });
  }
  return usd;
}

/**
 * The `budget` notification of a repository held back by a daily cap: keyed (`sha`) by the
 * repository and the UTC day, so the outbox sends it once per repository per day however many
 * issues wait.
 */
export function budgetNotification(repository: string, wait: Pick<BudgetWait, "scope" | "capUsd" | "spentUsd" | "until">, now: Date): Notification {
  const day = now.toISOString().slice(0, 10);
  return {
    repository,
    issue: 0,
    title: `${budgetWaitLine(wait)} (UTC day ${day})`,
    url: "",
    event: "budget",
    sha: `budget-${repository.replace("/", "--")}-${day}`,
    attempt: 0,
    outcome: null,
    at: now.toISOString(),
  };
}
