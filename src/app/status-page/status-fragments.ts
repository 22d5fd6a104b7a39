import type { FleetState } from "../../core/fleet.js";
import { escapeHtml } from "./escape-html.js";
import type { PoolStatus, RecentEvent, StatusCounters, StatusRow, StatusView } from "./status-view.js";

/** The icon beside each state's name: the name is always written out, so colour and icon only repeat it. */
const icons: Record<FleetState, string> = {
  queued: "◷",
  claimed: "◆",
  running: "▶",
  interrupted: "⏸",
  failed: "✖",
  "needs-review": "⚑",
  done: "✔",
};

/** "1h 02m", "3m 05s", "12s" */
function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/** `HH:MM:SS UTC` in a `<time>` element. */
function time(iso: string): string {
  const date = new Date(iso);
  const text = Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(11, 19)} UTC`;
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(text)}</time>`;
}

const dash = '<span aria-label="unknown">—</span>';

function usd(value: number): string {
  return `$${value.toFixed(4)}`;
}

/** An age that the page's script keeps counting (`data-since`), from the view's time. */
function age(since: string, at: string, ticking: boolean): string {
  const text = duration(Date.parse(at) - Date.parse(since));
  return ticking ? `<span data-since="${escapeHtml(since)}">${text}</span>` : text;
}

function row(r: StatusRow, at: string): string {
  const active = r.state === "claimed" || r.state === "running";
  const cells = [
    `<th scope="row"><a href="${escapeHtml(r.issueUrl)}">${escapeHtml(r.key)}</a>${r.title !== null ? `<span class="title">${escapeHtml(r.title)}</span>` : ""}</th>`,
    `<td><span class="state state-${r.state}"><span aria-hidden="true">${icons[r.state]}</span> ${r.state}</span>${r.waiting ? `<span class="note">${escapeHtml(r.waiting)}</span>` : ""}</td>`,
    `<td>${r.agent !== null ? `${escapeHtml(r.agent)}${r.host !== null ? ` <span class="note">@ ${escapeHtml(r.host)}</span>` : ""}` : dash}</td>`,
    `<td class="num">${r.attempt ?? dash}</td>`,
    `<td>${r.startedAt !== null ? time(r.startedAt) : dash}</td>`,
    `<td class="num">${r.startedAt !== null ? age(r.startedAt, at, active) : dash}</td>`,
    `<td class="num">${r.turns ?? dash}${r.lastToolCall ? `<span class="note">${escapeHtml(r.lastToolCall)}</span>` : ""}</td>`,
    `<td class="num">${r.costUsd !== null ? usd(r.costUsd) : dash}</td>`,
    `<td class="num">${r.heartbeatAt !== null ? `${age(r.heartbeatAt, at, active)} ago` : r.leaseUntil !== null ? `<span class="note">lease until</span> ${time(r.leaseUntil)}` : dash}</td>`,
    `<td><a href="${escapeHtml(r.issueUrl)}">issue</a>${r.pullRequestUrl !== null ? ` <a href="${escapeHtml(r.pullRequestUrl)}">PR #${r.pullRequest ?? ""}</a>` : ""}${r.runUrl !== null ? ` <a href="${escapeHtml(r.runUrl)}">run</a>` : ""}</td>`,
  ];
  return `<tr data-key="${escapeHtml(r.key)}" data-state="${r.state}">${cells.join("")}</tr>`;
}

function pool(p: PoolStatus | null): string {
  if (p === null) return "<p>No agent pool in this process.</p>";
  return `<dl class="figures"><div><dt>busy</dt><dd>${p.busy}</dd></div><div><dt>idle</dt><dd>${p.idle}</dd></div><div><dt>max</dt><dd>${p.max}</dd></div><div><dt>waiting for an agent</dt><dd>${p.waiting}</dd></div></dl>`;
}

function counters(c: StatusCounters): string {
  const rate = c.successRate === null ? "—" : `${(c.successRate * 100).toFixed(1)}%`;
  return (
    `<dl class="figures"><div><dt>done</dt><dd>${c.done}</dd></div><div><dt>failed</dt><dd>${c.failed}</dd></div>` +
    `<div><dt>interrupted</dt><dd>${c.interrupted}</dd></div><div><dt>success rate</dt><dd>${rate}</dd></div><div><dt>spend</dt><dd>${usd(c.spendUsd)}</dd></div></dl>` +
    `<p class="note">Counted from the events this process saw since ${time(c.since)} (a restart starts them at 0).</p>`
  );
}

function event(e: RecentEvent): string {
  return `<li>${time(e.at)} <strong>${escapeHtml(e.issue)}</strong>${e.agent !== null ? ` ${escapeHtml(e.agent)}` : ""}: ${escapeHtml(e.text)}</li>`;
}

function errors(list: StatusView["errors"]): string {
  if (list.length === 0) return "";
  return `<h2>Could not read</h2><ul>${list.map((e) => `<li><strong>${escapeHtml(e.repository)}</strong>: ${escapeHtml(e.error)}</li>`).join("")}</ul><p>The rows of these repositories are from their last good read.</p>`;
}

/**
 * The pieces of the status page, each HTML with every piece of text escaped:
 * the page renders them, and `/status/events` sends them in its deltas so the
 * page's script only puts them in place.
 */
export const statusFragments = { row, pool, counters, event, errors, duration };
