import type { ConvoyBoardEntry } from "../convoy-board.js";
import { escapeHtml } from "./escape-html.js";

/**
 * The status page's Convoys section (docs/convoys.md): one line per convoy, `2/4 landed`,
 * linked to its issue. Server-rendered with the page (a reload shows the latest); every text
 * from GitHub escaped.
 */
export function convoysSection(entries: readonly ConvoyBoardEntry[]): string {
  if (entries.length === 0) return "<p>No convoys yet.</p>";
  const items = entries.map(
    (e) =>
      `<li><a href="${escapeHtml(e.url)}">${escapeHtml(e.key)}</a> ${escapeHtml(e.title)}: ${e.landed}/${e.total} landed${e.state === "closed" ? " (closed)" : ""}</li>`,
  );
  return `<ul>${items.join("")}</ul>`;
}
