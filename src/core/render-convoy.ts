import type { LeaseRecord } from "./lease.js";
import { formatRef, type IssueRef } from "./queue.js";

/**
 * The convoy's one status comment (docs/convoys.md), pure: each item's state decided from
 * facts the caller read, rendered as a body that depends on nothing but those facts (no "5 min
 * ago"), so an unchanged convoy renders the same body and costs no write.
 */

/** The status comment starts with this line: how the harness finds its own comment again. */
export const CONVOY_STATUS_MARKER = "<!-- harness:convoy-status -->";

/** What the status of one item is decided from. */
export interface ConvoyItemView {
  ref: IssueRef;
  title: string;
  state: string;
  labels: readonly string[];
  /** Its lease head (null: never claimed). */
  lease: LeaseRecord | null;
  /** Its open blockers, as the queue reads them. */
  openBlockers: readonly IssueRef[];
  /** The agent's pull request (branch `harness/issue-N`), if one was opened. */
  pull: { number: number; merged: boolean; state: string } | null;
  /** When the queue label was last applied (ISO), if known: the start of a possible strand. */
  queuedAt: string | null;
}

export type ConvoyItemStatus =
  | { kind: "landed"; pull: number | null }
  | { kind: "closed" }
  | { kind: "running"; host: string; agent: string; attempt: number }
  | { kind: "blocked"; by: IssueRef[] }
  | { kind: "failed"; outcome: string | null }
  | { kind: "interrupted" }
  | { kind: "review"; pull: number }
  | { kind: "stranded"; since: string }
  | { kind: "queued" }
  | { kind: "idle" };

export interface ConvoyStatusOptions {
  labels: { queued: string; running: string; failed: string; interrupted: string; done: string };
  /** An item queued this long with no claim is stranded (`convoy.strandedMinutes`). */
  strandedMinutes: number;
  now: Date;
}

const has = (labels: readonly string[], name: string): boolean => labels.some((l) => l.toLowerCase() === name.toLowerCase());

/**
 * One item's state, first match wins: closed (landed when its pull request merged), failed,
 * interrupted, running (a claimed lease, unless the attempt's end is labeled already: host,
 * agent, attempt), blocked (an open blocker),
 * stranded (queued with no claim for longer than `strandedMinutes` since the queue label was
 * applied), queued, a pull request waiting for review (done), idle (none of these).
 */
export function convoyItemStatus(item: ConvoyItemView, options: ConvoyStatusOptions): ConvoyItemStatus {
  if (item.state !== "open") return item.pull?.merged ? { kind: "landed", pull: item.pull.number } : { kind: "closed" };
  // The publisher labels an attempt's end just before it releases the lease: a terminal label wins over a claim.
  if (has(item.labels, options.labels.failed)) return { kind: "failed", outcome: item.lease?.outcome ?? null };
  if (has(item.labels, options.labels.interrupted)) return { kind: "interrupted" };
  const ended = has(item.labels, options.labels.done);
  if (item.lease?.state === "claimed" && !ended)
    return { kind: "running", host: item.lease.owner.host, agent: item.lease.owner.agent, attempt: item.lease.attempt };
  if (item.openBlockers.length > 0) return { kind: "blocked", by: [...item.openBlockers] };
  if (has(item.labels, options.labels.queued)) {
    const since = item.queuedAt === null ? NaN : Date.parse(item.queuedAt);
    if (!Number.isNaN(since) && options.now.getTime() - since > options.strandedMinutes * 60_000) return { kind: "stranded", since: item.queuedAt as string };
    return { kind: "queued" };
  }
  if (item.pull && item.pull.state === "open") return { kind: "review", pull: item.pull.number };
  return { kind: "idle" };
}

const isDone = (s: ConvoyItemStatus): boolean => s.kind === "landed" || s.kind === "closed";

function describe(status: ConvoyItemStatus, here: { owner: string; repo: string }, strandedMinutes: number): string {
  switch (status.kind) {
    case "landed":
      return status.pull === null ? "landed" : `landed: pull request #${status.pull} merged`;
    case "closed":
      return "closed";
    case "running":
      return `running on ${status.host} (${status.agent}, attempt ${status.attempt})`;
    case "blocked":
      return `blocked by ${status.by.map((r) => formatRef(r, here)).join(", ")}`;
    case "failed":
      return status.outcome ? `failed (${status.outcome}): see its last comment; \`/retry\` there` : "failed: see its last comment; `/retry` there";
    case "interrupted":
      return "interrupted: `/retry` on it continues";
    case "review":
      return `pull request #${status.pull} open, waiting for review`;
    case "stranded":
      return `stranded: queued since ${status.since} and no agent has claimed it in ${strandedMinutes} min (is an agent running for this repository?)`;
    case "queued":
      return "queued";
    case "idle":
      return "not queued";
  }
}

export interface ConvoyStatus {
  total: number;
  landed: number;
  items: { ref: IssueRef; title: string; status: ConvoyItemStatus }[];
}

/** Every item's state, in the convoy's order. */
export function convoyStatus(items: readonly ConvoyItemView[], options: ConvoyStatusOptions): ConvoyStatus {
  const rows = items.map((i) => ({ ref: i.ref, title: i.title, status: convoyItemStatus(i, options) }));
  return { total: rows.length, landed: rows.filter((r) => isDone(r.status)).length, items: rows };
}

/** The one status comment: `2/4 landed`, then a line per item. */
export function renderConvoyStatus(status: ConvoyStatus, here: { owner: string; repo: string }, strandedMinutes: number): string {
  const lines = [CONVOY_STATUS_MARKER, `### Convoy: ${status.landed}/${status.total} landed`, ""];
  if (status.total === 0) lines.push("No items yet: add some with `/convoy #12 #13` on this issue.");
  for (const row of status.items) {
    const box = isDone(row.status) ? "[x]" : "[ ]";
    // The title is the item author's text: shown as code, so nothing in it renders or mentions anyone.
    const title = row.title.replace(/`/g, "'").replace(/\s+/g, " ").slice(0, 80);
    lines.push(`- ${box} ${formatRef(row.ref, here)} \`${title}\`: ${describe(row.status, here, strandedMinutes)}`);
  }
  lines.push("", "_One comment, edited in place by the harness when an item changes. The convoy closes when every item is closed._");
  return lines.join("\n");
}

/** What the convoy issue itself should do now: close once every item is closed, reopen when an item is open again. */
export function convoyTransition(convoyState: string, status: ConvoyStatus): "close" | "reopen" | null {
  const allDone = status.total > 0 && status.landed === status.total;
  if (convoyState === "open" && allDone) return "close";
  if (convoyState !== "open" && !allDone && status.total > 0) return "reopen";
  return null;
}
