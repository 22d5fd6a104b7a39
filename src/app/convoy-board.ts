import type { RefreshResult } from "../runtime/convoy.js";

/** One convoy as the status page shows it: where it is, how far it got. */
export interface ConvoyBoardEntry {
  /** `owner/repo#N` */
  key: string;
  title: string;
  url: string;
  landed: number;
  total: number;
  /** `open`, or `closed` once it landed. */
  state: "open" | "closed";
}

/**
 * The convoys this app refreshed last (an item event, `/convoy`, the reconciler's tick), for
 * the status page's Convoys section: kept in memory from the refreshes, so showing them costs
 * no request. A convoy nobody refreshed since this process started is not on it.
 */
export class ConvoyBoard {
  private readonly entries = new Map<string, ConvoyBoardEntry>();

  record(key: string, result: RefreshResult, state: "open" | "closed"): void {
    this.entries.set(key.toLowerCase(), { key, title: result.title, url: result.url, landed: result.status.landed, total: result.status.total, state });
  }

  /** Open convoys first, then by key. */
  list(): ConvoyBoardEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.state === b.state ? a.key.localeCompare(b.key) : a.state === "open" ? -1 : 1));
  }
}
