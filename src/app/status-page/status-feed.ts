import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { statusFragments } from "./status-fragments.js";
import type { StatusRow, StatusView } from "./status-view.js";

/** One message of `/status/events`: the page's dynamic parts as escaped HTML, with the rows that changed. */
export interface StatusMessage {
  at: string;
  /** The rows added or changed since the previous message (all of them in a snapshot). */
  rows: { key: string; state: string; html: string }[];
  /** Keys of rows gone since the previous message. */
  removed: string[];
  /** Every row's key, in the table's order. */
  order: string[];
  pool: string;
  counters: string;
  errors: string;
  /** Events new since the previous message (every recent one in a snapshot), newest first. */
  events: string[];
  /** What the live region says: the state changes, or "". */
  announce: string;
}

export interface StatusFeedOptions {
  view: () => StatusView;
  /** Deltas kept for a reconnect's `Last-Event-ID` (default 1000); an older id gets a fresh snapshot. */
  ringSize?: number;
  /** The heartbeat comment's period (default 15 s). */
  heartbeatMs?: number;
  /** Runs `fn` every `ms`; returns the function that stops it (a test seam for the heartbeat). */
  every?: (fn: () => void, ms: number) => () => void;
  /** The reconnect delay the stream asks browsers for (`retry:`), default 1000 ms. */
  retryMs?: number;
}

const defaultEvery = (fn: () => void, ms: number): (() => void) => {
  const timer = setInterval(fn, ms);
  timer.unref();
  return () => clearInterval(timer);
};

/**
 * The Server-Sent Events of `/status/events`. A client gets an `event:
 * snapshot` first, then an `event: delta` for every change, each with an `id:`
 * (`BOOT.SEQ`: BOOT is new with every process, so an id of an earlier one is
 * never mistaken for ours). A reconnect with `Last-Event-ID` (or `?since=`)
 * gets every delta after that id from a bounded ring, or a fresh snapshot when
 * the id is unknown or older than the ring. `: ping` every 15 s keeps proxies
 * from closing an idle stream.
 */
export class StatusFeed {
  readonly boot = randomBytes(4).toString("hex");
  private readonly options: StatusFeedOptions;
  private readonly ring: { seq: number; message: StatusMessage }[] = [];
  private readonly clients = new Set<ServerResponse>();
  private seq = 0;
  private rows = new Map<string, string>();
  private states = new Map<string, string>();
  /** What the last delta said beside the rows (repositories in error, the pool, the counters), as sent. */
  private sideParts = "";
  private stopHeartbeat: (() => void) | null = null;

  constructor(options: StatusFeedOptions) {
    this.options = options;
  }

  get lastId(): string {
    return `${this.boot}.${this.seq}`;
  }

  /** How many clients are connected. */
  get connected(): number {
    return this.clients.size;
  }

  /**
   * Computes the view again and sends what changed as a delta (nothing when
   * nothing did). `newEvents`: how many events arrived since the last call.
   */
  update(newEvents = 0): StatusMessage | null {
    const view = this.options.view();
    const next = new Map(view.rows.map((r) => [r.key, JSON.stringify(r)]));
    const changed: StatusRow[] = view.rows.filter((r) => this.rows.get(r.key) !== next.get(r.key));
    const removed = [...this.rows.keys()].filter((k) => !next.has(k));
    const announce = changed.filter((r) => this.states.get(r.key) !== r.state).map((r) => `${r.key} ${r.state}`);
    this.rows = next;
    this.states = new Map(view.rows.map((r) => [r.key, r.state]));
    // A snapshot can change nothing but a repository's error, or the pool: that is news too.
    const f = statusFragments;
    const side = JSON.stringify([f.errors(view.errors), f.pool(view.pool), f.counters(view.counters)]);
    const sideChanged = side !== this.sideParts;
    this.sideParts = side;
    if (changed.length === 0 && removed.length === 0 && newEvents === 0 && !sideChanged) return null;
    const message = this.message(view, changed, removed, view.events.slice(0, Math.min(newEvents, view.events.length)), announce.join("; "));
    this.seq += 1;
    this.ring.push({ seq: this.seq, message });
    if (this.ring.length > (this.options.ringSize ?? 1000)) this.ring.shift();
    const frame = this.frame("delta", this.seq, message);
    for (const client of this.clients) client.write(frame);
    return message;
  }

  /** The full state as one message: what a new client gets first. */
  snapshot(): StatusMessage {
    const view = this.options.view();
    return this.message(view, view.rows, [], view.events, "");
  }

  /** Serves one `/status/events` request; `lastEventId` from the header or `?since=`. */
  connect(req: IncomingMessage, res: ServerResponse, lastEventId: string | null): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write(`retry: ${this.options.retryMs ?? 1000}\n\n`);
    const replay = this.replay(lastEventId);
    if (replay === null) res.write(this.frame("snapshot", this.seq, this.snapshot()));
    else for (const entry of replay) res.write(this.frame("delta", entry.seq, entry.message));
    this.clients.add(res);
    if (this.stopHeartbeat === null) {
      this.stopHeartbeat = (this.options.every ?? defaultEvery)(() => {
        for (const client of this.clients) client.write(": ping\n\n");
      }, this.options.heartbeatMs ?? 15_000);
    }
    const gone = (): void => {
      this.clients.delete(res);
      if (this.clients.size === 0 && this.stopHeartbeat !== null) {
        this.stopHeartbeat();
        this.stopHeartbeat = null;
      }
    };
    req.once("close", gone);
    res.once("close", gone);
  }

  /** Ends every stream (the server is going away). */
  close(): void {
    for (const client of this.clients) client.end();
    this.clients.clear();
    this.stopHeartbeat?.();
    this.stopHeartbeat = null;
  }

  /** The deltas after `id`, or null when only a snapshot will do. */
  private replay(id: string | null): { seq: number; message: StatusMessage }[] | null {
    if (id === null) return null;
    const match = /^([0-9a-f]+)\.(\d+)$/.exec(id.trim());
    if (!match || match[1] !== this.boot) return null;
    const seq = Number(match[2]);
    if (seq > this.seq) return null;
    if (seq === this.seq) return [];
    const first = this.ring[0];
    if (first === undefined || first.seq > seq + 1) return null;
    return this.ring.filter((entry) => entry.seq > seq);
  }

  private frame(event: "snapshot" | "delta", seq: number, message: StatusMessage): string {
    return `id: ${this.boot}.${seq}\nevent: ${event}\ndata: ${JSON.stringify(message)}\n\n`;
  }

  private message(view: StatusView, rows: StatusRow[], removed: string[], events: StatusView["events"], announce: string): StatusMessage {
    const f = statusFragments;
    return {
      at: view.at,
      rows: rows.map((r) => ({ key: r.key, state: r.state, html: f.row(r, view.at) })),
      removed,
      order: view.rows.map((r) => r.key),
      pool: f.pool(view.pool),
      counters: f.counters(view.counters),
      errors: f.errors(view.errors),
      events: events.map(f.event),
      announce,
    };
  }
}
