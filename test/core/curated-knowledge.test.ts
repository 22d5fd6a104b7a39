import { describe, expect, it } from "vitest";
import { docNodeId, firstHeading, isCuratedPath, parseCuratedFile } from "../../src/core/curated-knowledge.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";

describe("isCuratedPath", () => {
  it("is a Markdown file under docs/research/ or docs/knowledge/, not the generated index", () => {
    expect(isCuratedPath("docs/research/a.md")).toBe(true);
    expect(isCuratedPath("docs/knowledge/deep/b.MD")).toBe(true);
    expect(isCuratedPath("docs/research/INDEX.md")).toBe(false);
    expect(isCuratedPath("docs/research/data.json")).toBe(false);
    expect(isCuratedPath("docs/other/a.md")).toBe(false);
    expect(isCuratedPath("src/docs/research/a.md")).toBe(false);
  });
});

describe("parseCuratedFile", () => {
  it("reads the title, the citations (range or one line) and supersedes from the front matter", () => {
    const file = parseCuratedFile(
      "docs/knowledge/cache.md",
      `---\ntitle: How the cache works\ncites:\n  - path: src/x.ts\n    lines: 10-20\n    commit: ${SHA}\n  - path: ./src/y.ts\n    lines: 7\n    commit: ABCDEF1\n    sha256: ${"A".repeat(64)}\nsupersedes:\n  - docs/knowledge/old-cache.md\n---\n# Heading\n\nBody.\n`,
    );
    expect(file.problems).toEqual([]);
    expect(file.title).toBe("How the cache works");
    expect(file.body).toBe("# Heading\n\nBody.\n");
    expect(file.citations).toEqual([
      { path: "src/x.ts", startLine: 10, endLine: 20, commit: SHA, sha256: null },
      { path: "src/y.ts", startLine: 7, endLine: 7, commit: "abcdef1", sha256: "a".repeat(64) },
    ]);
    expect(file.supersedes).toEqual(["docs/knowledge/old-cache.md"]);
  });

  it("reads commit ids that YAML would take for numbers as written", () => {
    const file = parseCuratedFile(
      "docs/research/x.md",
      "---\ntitle: 2026\ncites:\n  - {path: a.ts, lines: 1, commit: 1234567}\n  - {path: a.ts, lines: 2-3, commit: 1e10000, sha256: null}\n  - {path: a.ts, lines: 4, commit: 0123456}\n---\n",
    );
    expect(file.problems).toEqual([]);
    expect(file.title).toBe("2026");
    expect(file.citations.map((c) => c.commit)).toEqual(["1234567", "1e10000", "0123456"]);
    expect(file.citations[1]?.sha256).toBeNull();
  });

  it("without front matter: the first heading is the title and the whole text the body", () => {
    const file = parseCuratedFile("docs/research/x.md", "Intro\n\n## The title\n");
    expect(file).toMatchObject({ title: "The title", body: "Intro\n\n## The title\n", citations: [], problems: [] });
  });

  it("reports each citation that does not fit the format, and keeps the good ones", () => {
    const file = parseCuratedFile(
      "docs/research/x.md",
      [
        "---",
        "cites:",
        "  - path: ../outside.ts",
        "    lines: 1-2",
        `    commit: ${SHA}`,
        "  - path: src/a.ts",
        "    lines: 20-10",
        `    commit: ${SHA}`,
        "  - path: src/a.ts",
        "    lines: 1-2",
        "  - path: src/a.ts",
        "    lines: 1-2",
        `    commit: ${SHA}`,
        "    sha256: short",
        "  - just a string",
        "  - path: src/ok.ts",
        "    lines: 3-4",
        `    commit: ${SHA}`,
        "---",
        "text",
      ].join("\n"),
    );
    expect(file.citations).toEqual([{ path: "src/ok.ts", startLine: 3, endLine: 4, commit: SHA, sha256: null }]);
    expect(file.citationIndexes).toEqual([5]);
    expect(file.problems.map((p) => p.citation)).toEqual([0, 1, 2, 3, 4]);
    expect(file.problems[0]?.reason).toContain("relative path");
    expect(file.problems[1]?.reason).toContain("start ≤ end");
    expect(file.problems[2]?.reason).toContain("commit");
  });

  it("reports front matter that is not YAML, or not a mapping, or a cites that is not a list", () => {
    expect(parseCuratedFile("docs/research/x.md", "---\ncites: [unclosed\n---\n# T\n").problems[0]?.reason).toContain("not valid YAML");
    expect(parseCuratedFile("docs/research/x.md", "---\n- a\n---\n# T\n").problems[0]?.reason).toContain("mapping");
    expect(parseCuratedFile("docs/research/x.md", "---\ncites: src/x.ts\n---\n# T\n").problems[0]?.reason).toContain("list");
    // A thematic break later in the file is not front matter.
    expect(parseCuratedFile("docs/research/x.md", "# T\n\n---\n\nmore\n")).toMatchObject({ title: "T", problems: [] });
  });

  it("takes the file name as the title when there is no heading", () => {
    expect(parseCuratedFile("docs/research/open-questions.md", "prose only\n").title).toBe("open-questions");
  });
});

describe("firstHeading", () => {
  it("skips fenced code and takes ATX or setext headings", () => {
    expect(firstHeading("~~~\n# no\n~~~\n# yes #\n")).toBe("yes");
    expect(firstHeading("Title\n---\n")).toBe("Title");
    expect(firstHeading("- item\n---\n")).toBeNull();
    expect(firstHeading("#hashtag\n")).toBeNull();
  });
});

describe("node ids", () => {
  it("names a curated document doc:owner/repo:PATH", () => {
    expect(docNodeId("octo/demo", "docs/research/a.md")).toBe("doc:octo/demo:docs/research/a.md");
  });
});
