import { describe, expect, it } from "vitest";
import { textMatchHits } from "../../src/runtime/repository-knowledge.js";
import { configSchema, parseConfig } from "../../src/core/config.js";

const hits = [
  { id: "session:o/r#3/s/1", kind: "session" as const },
  { id: "doc:o/r:docs/knowledge/a.md", kind: "doc" as const },
  { id: "session:o/r#4/s/1", kind: "session" as const },
  { id: "doc:o/r:docs/research/b.md", kind: "doc" as const },
  { id: "doc:o/r:docs/knowledge/c.md", kind: "doc" as const },
];

describe("knowledge.textMatches", () => {
  it("is curated by default, and takes all or curated only", () => {
    expect(configSchema.parse({}).knowledge.textMatches).toBe("curated");
    expect(parseConfig({ knowledge: { textMatches: "all" } }).knowledge.textMatches).toBe("all");
    expect(() => parseConfig({ knowledge: { textMatches: "some" } })).toThrow(/knowledge\.textMatches/);
    expect(() => parseConfig({ knowledge: { other: 1 } })).toThrow(/EHARNESS_CONFIG|not a valid/);
  });

  it("curated: only curated documents come in as text matches, the ones already carried left out", () => {
    const carried = [{ id: "doc:o/r:docs/knowledge/a.md" }];
    expect(textMatchHits(hits, { carried, textMatches: "curated", limit: 5 }).map((h) => h.id)).toEqual([
      "doc:o/r:docs/research/b.md",
      "doc:o/r:docs/knowledge/c.md",
    ]);
    expect(textMatchHits(hits, { carried: [], textMatches: "curated", limit: 1 }).map((h) => h.id)).toEqual(["doc:o/r:docs/knowledge/a.md"]);
  });

  it("all: session records come in too, in the index's order", () => {
    expect(textMatchHits(hits, { carried: [], textMatches: "all", limit: 3 }).map((h) => h.id)).toEqual([
      "session:o/r#3/s/1",
      "doc:o/r:docs/knowledge/a.md",
      "session:o/r#4/s/1",
    ]);
  });
});
