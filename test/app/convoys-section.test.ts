import { describe, expect, it } from "vitest";
import { convoysSection } from "../../src/app/status-page/convoys-section.js";
import { renderStatusPage } from "../../src/app/status-page/render-status-page.js";

const view = {
  at: "2026-12-03T12:00:00Z",
  snapshotAt: "2026-12-03T12:00:00Z",
  rows: [],
  pool: null,
  counters: { done: 0, failed: 0, interrupted: 0, successRate: null, spendUsd: 0, since: "2026-12-03T00:00:00Z" },
  events: [],
  errors: [],
};

describe("the status page's Convoys section", () => {
  it("lists each convoy with how many items landed, open ones first as given, every text escaped", () => {
    const html = convoysSection([
      { key: "acme/w#3", title: "<b>ship</b> & go", url: "https://github.com/acme/w/issues/3?a=1&b=2", landed: 1, total: 2, state: "open" },
      { key: "acme/w#9", title: "done one", url: "https://github.com/acme/w/issues/9", landed: 2, total: 2, state: "closed" },
    ]);
    expect(html).toBe(
      '<ul><li><a href="https://github.com/acme/w/issues/3?a=1&amp;b=2">acme/w#3</a> &lt;b&gt;ship&lt;/b&gt; &amp; go: 1/2 landed</li><li><a href="https://github.com/acme/w/issues/9">acme/w#9</a> done one: 2/2 landed (closed)</li></ul>',
    );
    expect(convoysSection([])).toBe("<p>No convoys yet.</p>");
  });

  it("is on the page only when the app keeps a board", () => {
    expect(renderStatusPage(view)).not.toContain("convoys-h");
    expect(renderStatusPage(view, { convoys: "<p>No convoys yet.</p>" })).toContain(
      '<section aria-labelledby="convoys-h"><h2 id="convoys-h">Convoys</h2><div id="convoys"><p>No convoys yet.</p></div></section>',
    );
  });
});
