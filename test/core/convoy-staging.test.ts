import { describe, expect, it } from "vitest";
import { gateLabeler } from "../../src/core/actor-gate.js";
import {
  CONVOY_STAGED_MARKER,
  parseStagingRecords,
  pruneStagingRecords,
  renderStagingRecords,
  stagingOf,
  stagingRecord,
} from "../../src/core/convoy-staging.js";

const item = (number: number, repo = "widgets") => ({ owner: "Acme", repo, number });

describe("convoy staging records", () => {
  it("round-trip through the status comment's hidden lines, keyed like the queue (lower-cased)", () => {
    const records = [stagingRecord("ada", "2026-12-03T10:00:00Z", [item(12), item(4, "api")])];
    const body = `### Convoy\n\n${renderStagingRecords(records)}`;
    expect(body).toContain(`${CONVOY_STAGED_MARKER}{"by":"ada","at":"2026-12-03T10:00:00Z","items":["acme/widgets#12","acme/api#4"]} -->`);
    expect(parseStagingRecords(body)).toEqual([{ by: "ada", at: "2026-12-03T10:00:00Z", items: ["acme/widgets#12", "acme/api#4"] }]);
  });

  it("ignore malformed lines: a bad login, time or item, broken JSON, a line not at the start", () => {
    const lines = [
      `${CONVOY_STAGED_MARKER}{"by":"ada bob","at":"2026-12-03T10:00:00Z","items":["acme/widgets#1"]} -->`,
      `${CONVOY_STAGED_MARKER}{"by":"ada","at":"yesterday","items":["acme/widgets#1"]} -->`,
      `${CONVOY_STAGED_MARKER}{"by":"ada","at":"2026-12-03T10:00:00Z","items":["#1"]} -->`,
      `${CONVOY_STAGED_MARKER}{"by":"ada", -->`,
      ` ${CONVOY_STAGED_MARKER}{"by":"ada","at":"2026-12-03T10:00:00Z","items":["acme/widgets#1"]} -->`,
    ];
    expect(parseStagingRecords(lines.join("\n"))).toEqual([]);
  });

  it("name the newest staging of an item, and drop items no longer in the convoy", () => {
    const records = [stagingRecord("ada", "2026-12-03T10:00:00Z", [item(1), item(2)]), stagingRecord("bob", "2026-12-03T11:00:00Z", [item(2)])];
    expect(stagingOf(records, item(1))).toEqual({ by: "ada", at: "2026-12-03T10:00:00Z" });
    expect(stagingOf(records, item(2))).toEqual({ by: "bob", at: "2026-12-03T11:00:00Z" });
    expect(stagingOf(records, item(3))).toBeNull();
    expect(pruneStagingRecords(records, new Set(["acme/widgets#1"]))).toEqual([{ by: "ada", at: "2026-12-03T10:00:00Z", items: ["acme/widgets#1"] }]);
  });
});

describe("the actor gate and a convoy staging", () => {
  const base = { permission: null, allowBots: [], claimedBefore: false, queuedLabel: "harness:queued", ownLogin: "harness[bot]" };
  const writer = { permission: "write", role_name: "write" };

  it("accepts the harness's own bot's label for the writer a staging names", () => {
    expect(gateLabeler({ ...base, labeler: { login: "harness[bot]", type: "Bot" }, staged: { by: "ada", permission: writer } })).toEqual({
      allowed: true,
      by: "ada",
    });
  });

  it("refuses another bot's label even with a staging, the own bot's without one, and a writer who lost write", () => {
    const evil = gateLabeler({ ...base, labeler: { login: "evil[bot]", type: "Bot" }, staged: { by: "ada", permission: writer } });
    expect(evil).toMatchObject({ allowed: false, remove: true });
    expect(gateLabeler({ ...base, labeler: { login: "harness[bot]", type: "Bot" }, staged: null })).toMatchObject({ allowed: false, remove: true });
    expect(gateLabeler({ ...base, ownLogin: null, labeler: { login: "harness[bot]", type: "Bot" }, staged: { by: "ada", permission: writer } })).toMatchObject({
      allowed: false,
    });
    const lost = gateLabeler({
      ...base,
      labeler: { login: "harness[bot]", type: "Bot" },
      staged: { by: "ada", permission: { permission: "read", role_name: "triage" } },
    });
    expect(lost).toMatchObject({ allowed: false, remove: true });
    expect(lost.allowed ? "" : lost.reason).toContain("for @ada, who staged it into a convoy but no longer has write");
  });
});
