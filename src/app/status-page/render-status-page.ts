import { escapeHtml } from "./escape-html.js";
import { statusFragments } from "./status-fragments.js";
import { statusPageAssets } from "./status-page-assets.js";
import type { StatusView } from "./status-view.js";

export interface StatusPageOptions {
  /** Rendered HTML for the Trends section (the trends' SVG charts); "no trend data yet" without it. */
  trends?: string | null;
  /** Rendered HTML for the Convoys section (`convoysSection`); the section is left out without it. */
  convoys?: string | null;
}

/** The table's columns, in order (`<th scope="col">`). */
export const STATUS_COLUMNS = ["Issue", "State", "Agent @ host", "Attempt", "Started", "Elapsed", "Turns", "Cost", "Last heartbeat", "Links"];

/**
 * `/status` as served: complete without JavaScript (the table, the pool, the
 * counters, the events as of `view.at`); its inline script then follows
 * `/status/events`. Every piece of text from GitHub or the events is escaped.
 */
export function renderStatusPage(view: StatusView, options: StatusPageOptions = {}): string {
  const f = statusFragments;
  const head = STATUS_COLUMNS.map((c) => `<th scope="col">${c}</th>`).join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>claude-harness status</title>
<style>${statusPageAssets.css}</style>
</head>
<body data-at="${escapeHtml(view.at)}">
<header>
<h1>claude-harness status</h1>
<p>As of ${escapeHtml(view.at.slice(0, 19).replace("T", " "))} UTC; fleet snapshot from ${escapeHtml(view.snapshotAt.slice(0, 19).replace("T", " "))} UTC.
<span id="conn">Live updates: <noscript>off (JavaScript is off: reload for the latest).</noscript>starting…</span></p>
</header>
<main>
<div id="errors" role="alert">${f.errors(view.errors)}</div>
<table>
<caption>Issues with a harness label, and what this app's agents are doing</caption>
<thead><tr>${head}</tr></thead>
<tbody id="rows">${view.rows.map((r) => f.row(r, view.at)).join("")}</tbody>
</table>
<p id="empty"${view.rows.length > 0 ? " hidden" : ""}>No issues with a harness label yet.</p>
<section aria-labelledby="pool-h"><h2 id="pool-h">Agent pool</h2><div id="pool">${f.pool(view.pool)}</div></section>
<section aria-labelledby="counters-h"><h2 id="counters-h">Last 24 hours</h2><div id="counters">${f.counters(view.counters)}</div></section>
${options.convoys ? `<section aria-labelledby="convoys-h"><h2 id="convoys-h">Convoys</h2><div id="convoys">${options.convoys}</div></section>\n` : ""}<!-- slot: trends (the trends' SVG charts, given as rendered HTML) -->
<section aria-labelledby="trends-h"><h2 id="trends-h">Trends</h2><div id="trends">${options.trends ?? "<p>No trend data yet.</p>"}</div></section>
<section aria-labelledby="events-h"><h2 id="events-h">Recent events</h2><ol id="events" tabindex="0" aria-label="the last 50 events, newest first">${view.events.map(f.event).join("")}</ol></section>
<div id="announce" class="sr-only" role="status" aria-live="polite"></div>
</main>
<script>${statusPageAssets.js}</script>
</body>
</html>
`;
}
