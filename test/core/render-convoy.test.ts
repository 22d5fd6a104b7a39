import { describe, expect, it } from "vitest";
import type { LeaseRecord } from "../../src/core/lease.js";
import { CONVOY_STATUS_MARKER, convoyStatus, convoyTransition, renderConvoyStatus, type ConvoyItemView } from "../../src/core/render-convoy.js";

const HOME = { owner: "acme", repo: "widgets" };
const LABELS = { queued: "harness:queued", running: "harness:running", failed: "harness:failed", interrupted: "harness:interrupted", done: "harness:done" };
const NOW = new Date("2026-12-03T12:00:00Z");
const options = { labels: LABELS, strandedMinutes: 60, now: NOW };

const lease = (over: Partial<LeaseRecord>): LeaseRecord => ({
  issue: 1,
  state: "claimed",
  owner: { agent: "agent-1", host: "host-a", runId: "r" },
  epoch: 1,
  attempt: 2,
  leaseUntil: "2026-12-03T12:10:00Z",
  notBefore: null,
  sessionId: null,
  outcome: null,
  retry: null,
  ...over,
});

const view = (number: number, over: Partial<ConvoyItemView> = {}): ConvoyItemView => ({
  ref: { ...HOME, number },
  title: `item ${number}`,
  state: "open",
  labels: [],
  lease: null,
  openBlockers: [],
  pull: null,
  queuedAt: null,
  ...over,
});

describe("the convoy status comment", () => {
  it("says how many landed, then one line per item: merged PR, running (host, attempt), blocked by #N, failed, stranded, queued", () => {
    const items = [
      view(1, { state: "closed", pull: { number: 7, merged: true, state: "closed" } }),
      view(2, { labels: ["harness:running"], lease: lease({}) }),
      view(3, { labels: ["harness:queued"], openBlockers: [{ ...HOME, number: 2 }] }),
      view(4, { labels: ["harness:failed"], lease: lease({ state: "released", outcome: "max_turns" }) }),
      view(5, { labels: ["harness:queued"], queuedAt: "2026-12-03T10:00:00Z" }),
      view(6, { labels: ["harness:queued"], queuedAt: "2026-12-03T11:30:00Z" }),
      view(7, { ref: { owner: "acme", repo: "api", number: 4 }, state: "closed" }),
    ];
    const body = renderConvoyStatus(convoyStatus(items, options), HOME, 60);
    expect(body.split("\n")).toEqual([
      CONVOY_STATUS_MARKER,
      "### Convoy: 2/7 landed",
      "",
      "- [x] #1 `item 1`: landed: pull request #7 merged",
      "- [ ] #2 `item 2`: running on host-a (agent-1, attempt 2)",
      "- [ ] #3 `item 3`: blocked by #2",
      "- [ ] #4 `item 4`: failed (max_turns): see its last comment; `/retry` there",
      "- [ ] #5 `item 5`: stranded: queued since 2026-12-03T10:00:00Z and no agent has claimed it in 60 min (is an agent running for this repository?)",
      "- [ ] #6 `item 6`: queued",
      "- [x] acme/api#4 `item 7`: closed",
      "",
      "_One comment, edited in place by the harness when an item changes. The convoy closes when every item is closed._",
    ]);
  });

  it("renders the same body for the same facts at a later time (no write on an unchanged convoy), until an item strands", () => {
    const items = [view(1, { labels: ["harness:queued"], queuedAt: "2026-12-03T11:30:00Z" })];
    const at = (iso: string): string => renderConvoyStatus(convoyStatus(items, { ...options, now: new Date(iso) }), HOME, 60);
    expect(at("2026-12-03T11:40:00Z")).toBe(at("2026-12-03T12:29:00Z"));
    expect(at("2026-12-03T12:31:00Z")).not.toBe(at("2026-12-03T12:29:00Z"));
  });

  it("closes once every item is closed, reopens when an item is open again, never closes an empty convoy", () => {
    const closed = convoyStatus([view(1, { state: "closed" }), view(2, { state: "closed" })], options);
    const partly = convoyStatus([view(1, { state: "closed" }), view(2)], options);
    expect(convoyTransition("open", closed)).toBe("close");
    expect(convoyTransition("closed", closed)).toBe(null);
    expect(convoyTransition("closed", partly)).toBe("reopen");
    expect(convoyTransition("open", partly)).toBe(null);
    expect(convoyTransition("open", convoyStatus([], options))).toBe(null);
  });

  it("shows a title as code, so its text mentions nobody and renders nothing", () => {
    const body = renderConvoyStatus(convoyStatus([view(1, { title: "@everyone `rm` <b>x</b>" })], options), HOME, 60);
    expect(body).toContain("- [ ] #1 `@everyone 'rm' <b>x</b>`: not queued");
  });
});
