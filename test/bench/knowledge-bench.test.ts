import { describe, expect, it } from "vitest";
import { generateSnapshot, runKnowledgeBench } from "../../bench/knowledge.js";
import { score } from "../../bench/_knowledge-relevance.js";
import { MiniKnowledgeIndex } from "../../src/core/knowledge-index.js";

/** The knowledge bench's generator and its report, at a size that takes no time (the figures themselves are not asserted). */
describe("bench/knowledge.ts", () => {
  it("generates the same documents on every run, of the documented shape", () => {
    const a = generateSnapshot(60);
    const b = generateSnapshot(60);
    expect(a.snapshot).toEqual(b.snapshot);
    expect(a.snapshot.documents).toHaveLength(60);
    expect(new Set(a.snapshot.documents.map((d) => d.id)).size).toBe(60);
    expect(a.snapshot.documents.filter((d) => d.kind === "session")).toHaveLength(20);
    expect(new Set(a.snapshot.documents.map((d) => d.repository))).toEqual(new Set(["octo/app", "octo/web", "acme/tools"]));
    // Its words are found: the index answers a document's own rare title word with that document among the hits.
    const index = MiniKnowledgeIndex.build(a.snapshot);
    const target = a.snapshot.documents[7];
    const word = (target?.title.split(" ") ?? []).sort((x, y) => y.length - x.length)[0] ?? "";
    expect(index.search(word, { limit: 100 }).map((h) => h.id)).toContain(target?.id);
  });

  it("reports every size with the documented keys", async () => {
    const result = await runKnowledgeBench(["--sizes", "30,60", "--reps", "1", "--queries", "5"]);
    expect(result).toMatchObject({ bench: "knowledge", reps: 1, queries: 5 });
    expect(result.sizes.map((s) => s.documents)).toEqual([30, 60]);
    for (const size of result.sizes) {
      expect(Object.keys(size).sort()).toEqual(
        [
          "cacheBytes",
          "coldCpuMs",
          "coldMs",
          "coldSpreadMs",
          "documents",
          "loadMs",
          "loadSpreadMs",
          "queryP50Ms",
          "queryP95Ms",
          "queryP95SpreadMs",
          "syncMs",
        ].sort(),
      );
      expect(size.cacheBytes).toBeGreaterThan(0);
    }
    // Relevance over this repository's docs: both rankings scored on every labelled query.
    expect(result.relevance.queries).toBeGreaterThanOrEqual(30);
    expect(result.relevance.documents).toBeGreaterThan(10);
    for (const key of ["indexTop3", "indexMrr", "grepTop3", "grepMrr"] as const) expect(result.relevance[key]).toBeGreaterThan(0);
    // The held-out set, scored apart from the tuning set.
    expect(result.relevance.heldOutQueries).toBeGreaterThanOrEqual(20);
    for (const key of ["heldOutTop3", "heldOutMrr", "heldOutGrepTop3", "heldOutGrepMrr"] as const) expect(result.relevance[key]).toBeGreaterThan(0);
  });

  it("scores a query labelled with no section only when nothing comes back", () => {
    const queries = [
      { query: "nothing here", expect: [] },
      { query: "nothing here either", expect: [] },
      { query: "the lease", expect: ["a.md#lease"] },
    ];
    const result = score(queries, [[], ["a.md#lease"], ["b.md", "a.md#lease"]]);
    expect(result.top3).toBe(2);
    expect(result.misses.map((m) => m.query)).toEqual(["nothing here either"]);
    expect(result.mrr).toBeCloseTo((1 + 0 + 1 / 2) / 3, 6);
  });
});
