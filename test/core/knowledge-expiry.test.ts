import { describe, expect, it } from "vitest";
import { flagUnusedDocuments, KNOWLEDGE_EXPIRY_DAYS } from "../../src/core/knowledge-expiry.js";

const NOW = new Date("2026-12-03T12:00:00.000Z");
const daysAgo = (days: number, extraMs = 0): string => new Date(NOW.getTime() - days * 86_400_000 - extraMs).toISOString();

describe("flagUnusedDocuments", () => {
  it("flags a document last used 28 days ago or more, with the reason, and not one used within 28 days", () => {
    const docs = [
      { id: "doc:o/r:docs/knowledge/old.md", at: daysAgo(100) },
      { id: "doc:o/r:docs/knowledge/recent.md", at: daysAgo(100) },
      { id: "doc:o/r:docs/knowledge/edge.md", at: daysAgo(100) },
    ];
    const lastUsed = new Map([
      ["doc:o/r:docs/knowledge/old.md", daysAgo(30)],
      ["doc:o/r:docs/knowledge/recent.md", daysAgo(27, 86_399_000)],
      ["doc:o/r:docs/knowledge/edge.md", daysAgo(28)],
    ]);
    const flagged = flagUnusedDocuments(docs, lastUsed, NOW);
    expect(flagged.map((f) => f.id)).toEqual(["doc:o/r:docs/knowledge/edge.md", "doc:o/r:docs/knowledge/old.md"]);
    expect(flagged[1]).toEqual({
      id: "doc:o/r:docs/knowledge/old.md",
      lastUsed: daysAgo(30),
      idleDays: 30,
      reason: `not used for 30 days (last used ${daysAgo(30)})`,
    });
    expect(KNOWLEDGE_EXPIRY_DAYS).toBe(28);
  });

  it("counts a never-used document from when it was written, and leaves one of unknown age alone", () => {
    const flagged = flagUnusedDocuments(
      [
        { id: "a", at: daysAgo(40) },
        { id: "b", at: daysAgo(3) },
        { id: "c", at: null },
      ],
      {},
      NOW,
    );
    expect(flagged).toEqual([{ id: "a", lastUsed: null, idleDays: 40, reason: `never used in the 40 days since it was written (${daysAgo(40)})` }]);
  });

  it("a change after the last use restarts the clock; an unparsable time counts as absent", () => {
    expect(flagUnusedDocuments([{ id: "a", at: daysAgo(2) }], { a: daysAgo(60) }, NOW)).toEqual([]);
    expect(flagUnusedDocuments([{ id: "a", at: daysAgo(29) }], { a: daysAgo(60) }, NOW)[0]?.reason).toContain("since it last changed");
    expect(flagUnusedDocuments([{ id: "a", at: daysAgo(29) }], { a: "not a time" }, NOW)[0]?.lastUsed).toBeNull();
  });

  it("takes another period, and lists each id once", () => {
    const docs = [
      { id: "a", at: daysAgo(8) },
      { id: "a", at: daysAgo(8) },
    ];
    expect(flagUnusedDocuments(docs, {}, NOW, 7)).toHaveLength(1);
    expect(flagUnusedDocuments(docs, {}, NOW)).toHaveLength(0);
  });
});
