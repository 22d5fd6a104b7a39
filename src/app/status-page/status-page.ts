import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FleetSnapshot } from "../../core/fleet.js";
import type { LifecycleEvent } from "../../core/lifecycle-events.js";
import type { TrendRecord } from "../../core/trend-rollup.js";
import type { HttpRoute } from "../start-server.js";
import { guardRequest, STATUS_COOKIE } from "../http-guard.js";
import { renderStatusPage } from "./render-status-page.js";
import { StatusFeed } from "./status-feed.js";
import { statusPageAssets } from "./status-page-assets.js";
import { StatusModel } from "./status-model.js";
import type { PoolStatus } from "./status-view.js";
import type { ConvoyBoardEntry } from "../convoy-board.js";
import { convoysSection } from "./convoys-section.js";

export interface StatusPageOptions {
  /** The last fleet snapshot (the reconciler's); read on every view, never calling GitHub. */
  snapshot: () => FleetSnapshot;
  /** Called with a listener that the producer calls on every new snapshot; returns the unsubscribe function. */
  onSnapshot?: (listener: (snapshot: FleetSnapshot) => void) => () => void;
  /** The host runtime's event bus: the live facts of this process's agents. */
  events: { subscribe(listener: (event: LifecycleEvent) => void): () => void };
  /** The agent pool's figures, where the process has one. */
  pool?: () => PoolStatus;
  /** This host's name, for the rows of this process's agents. */
  host: string;
  /** HARNESS_METRICS_TOKEN; unset: loopback clients only. */
  token?: string | undefined;
  /** The Trends section's HTML (inline SVG charts); "no trend data yet" without it. */
  trends?: () => string | null;
  /** The convoys to show (src/app/convoy-board.ts), as of the page's render; no section without it. */
  convoys?: () => readonly ConvoyBoardEntry[];
  /** The trend store's records of the last 24 h and when it began counting (TrendStore.history): the counters start from them. */
  history?: { records: readonly TrendRecord[]; since: string | null };
  /** Web root for links of issues that only the events name (default https://github.com). */
  webUrl?: string;
  now?: () => Date;
  /** `: ping` period of the event stream (default 15 s) and its timer (a test seam). */
  heartbeatMs?: number;
  every?: (fn: () => void, ms: number) => () => void;
  /** Deltas kept for reconnects (default 1000). */
  ringSize?: number;
  /** The page's path; the stream is at PATH/events. Default `/status`. */
  path?: string;
}

export interface StatusPage {
  /** `/status` and `/status/events`, for `startServer`'s `routes`. */
  routes: HttpRoute[];
  model: StatusModel;
  feed: StatusFeed;
  /** Unsubscribes from the events and snapshots and ends every open stream. */
  close: () => void;
}

/**
 * The live status page (docs/status-page.md): `/status`, server-rendered and
 * complete without JavaScript, and `/status/events`, its Server-Sent Events.
 * Both behind `guardRequest` (a token, or loopback only).
 */
export function createStatusPage(options: StatusPageOptions): StatusPage {
  const hash = (text: string): string => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
  // Only the page's own inline script and style run: an escaping slip could not run an injected one.
  const csp = `default-src 'none'; style-src ${hash(statusPageAssets.css)}; script-src ${hash(statusPageAssets.js)}; connect-src 'self'; img-src 'self' data:`;
  const base = options.path ?? "/status";
  const model = new StatusModel({
    snapshot: options.snapshot,
    host: options.host,
    ...(options.pool ? { pool: options.pool } : {}),
    ...(options.webUrl ? { webUrl: options.webUrl } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.history ? { history: options.history.records, ...(options.history.since ? { historySince: options.history.since } : {}) } : {}),
  });
  const feed = new StatusFeed({
    view: () => model.view(),
    ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.ringSize !== undefined ? { ringSize: options.ringSize } : {}),
    ...(options.every ? { every: options.every } : {}),
  });
  const unsubscribe = [
    options.events.subscribe((event) => {
      model.apply(event);
      feed.update(1);
    }),
    ...(options.onSnapshot ? [options.onSnapshot(() => feed.update(0))] : []),
  ];
  const guard = (req: IncomingMessage, res: ServerResponse): boolean =>
    guardRequest(req, res, { token: options.token, cookieName: STATUS_COOKIE, cookiePath: base });
  const methodAllowed = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method === "GET" || req.method === "HEAD") return true;
    res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("method not allowed\n");
    return false;
  };
  const page: HttpRoute = {
    name: "status page",
    handle(req, res) {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (url.pathname !== base) return false;
      if (!methodAllowed(req, res) || !guard(req, res)) return true;
      const html = renderStatusPage(model.view(), {
        trends: options.trends ? options.trends() : null,
        convoys: options.convoys ? convoysSection(options.convoys()) : null,
      });
      res.writeHead(200, {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "content-security-policy": csp,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      });
      res.end(req.method === "HEAD" ? undefined : html);
      return true;
    },
  };
  const events: HttpRoute = {
    name: "status events",
    handle(req, res) {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (url.pathname !== `${base}/events`) return false;
      if (!methodAllowed(req, res) || !guard(req, res)) return true;
      const header = req.headers["last-event-id"];
      const lastEventId = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get("since");
      feed.connect(req, res, lastEventId ?? null);
      return true;
    },
  };
  return {
    routes: [page, events],
    model,
    feed,
    close: () => {
      for (const stop of unsubscribe) stop();
      feed.close();
    },
  };
}
