/**
 * Staging records (docs/convoys.md, "App mode"): when the App stages items into a convoy for a
 * writer (`/convoy`, or the `harness:convoy` label put on by a writer, whose permission on each
 * item's repository staging checked), its status comment carries one hidden line per staging
 * naming the writer, when they asked and the items. The actor gate (src/core/actor-gate.ts)
 * accepts the App's own queue label on an item only when such a line, in a status comment the
 * App's own bot wrote, names the item and the writer still has write: so the App queues what a
 * writer asked for, and nothing else that carries its bot's name. Pure.
 */
import { refKey, type IssueRef } from "./queue.js";

export const CONVOY_STAGED_MARKER = "<!-- harness:convoy-staged ";

export interface StagingRecord {
  /** The writer the App staged the items for. */
  by: string;
  /** When the writer asked (ISO 8601): the approval time of the items' text. */
  at: string;
  /** The items, as `refKey` writes them (`owner/repo#N`, lower-cased). */
  items: string[];
}

const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const ITEM = /^[a-z0-9_.-]+\/[a-z0-9_.-]+#[1-9][0-9]*$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/;

/** The record of a staging by `by` at `at` of `items`. */
export function stagingRecord(by: string, at: string, items: readonly IssueRef[]): StagingRecord {
  return { by, at, items: items.map(refKey) };
}

/** The hidden lines of `records`, to append to the status comment's body (none: ""). */
export function renderStagingRecords(records: readonly StagingRecord[]): string {
  return records.map((r) => `${CONVOY_STAGED_MARKER}${JSON.stringify({ by: r.by, at: r.at, items: r.items })} -->`).join("\n");
}

/** The well-formed records in a status comment's body; anything else is ignored. */
export function parseStagingRecords(body: string): StagingRecord[] {
  const out: StagingRecord[] = [];
  for (const line of body.split("\n")) {
    if (!line.startsWith(CONVOY_STAGED_MARKER) || !line.endsWith(" -->")) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.slice(CONVOY_STAGED_MARKER.length, -" -->".length));
    } catch {
      continue;
    }
    const r = parsed as Partial<StagingRecord>;
    if (typeof r.by !== "string" || !LOGIN.test(r.by) || typeof r.at !== "string" || !ISO.test(r.at) || !Array.isArray(r.items)) continue;
    const items = r.items.filter((i): i is string => typeof i === "string" && ITEM.test(i));
    if (items.length > 0) out.push({ by: r.by, at: r.at, items });
  }
  return out;
}

/** Keeps only the items still in the convoy (`present`: refKeys); a record left with none is dropped. */
export function pruneStagingRecords(records: readonly StagingRecord[], present: ReadonlySet<string>): StagingRecord[] {
  return records.flatMap((r) => {
    const items = r.items.filter((i) => present.has(i));
    return items.length > 0 ? [{ ...r, items }] : [];
  });
}

/** The newest staging of `item` (who asked, and when), or null when no record names it. */
export function stagingOf(records: readonly StagingRecord[], item: IssueRef): { by: string; at: string } | null {
  const key = refKey(item);
  let found: { by: string; at: string } | null = null;
  for (const r of records) if (r.items.includes(key) && (found === null || Date.parse(r.at) > Date.parse(found.at))) found = { by: r.by, at: r.at };
  return found;
}
