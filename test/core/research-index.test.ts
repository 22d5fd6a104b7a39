import { describe, expect, it } from "vitest";
import { RESEARCH_INDEX_MARKER, renderResearchIndex, touchesResearch } from "../../src/core/research-index.js";

const files = [
  { path: "docs/research/zeta.md", text: "# Zeta findings\n\nBody.\n" },
  { path: "docs/research/alpha.md", text: "---\ntitle: Alpha, from the front matter\ncites: []\n---\n# Not this heading\n" },
  { path: "docs/research/nested/deep/notes.md", text: "Some text first\n\n## Second-level heading\n" },
  { path: "docs/research/no-heading.md", text: "just prose, no heading\n" },
];

describe("renderResearchIndex", () => {
  it("lists every Markdown file by path with its title and a relative link, and nothing else", () => {
    expect(renderResearchIndex(files)).toBe(
      [
        RESEARCH_INDEX_MARKER,
        "",
        "# Research index",
        "",
        "The research documents of this repository, sorted by path.",
        "",
        "- [Alpha, from the front matter](alpha.md) — `docs/research/alpha.md`",
        "- [Second-level heading](nested/deep/notes.md) — `docs/research/nested/deep/notes.md`",
        "- [no-heading](no-heading.md) — `docs/research/no-heading.md`",
        "- [Zeta findings](zeta.md) — `docs/research/zeta.md`",
        "",
      ].join("\n"),
    );
  });

  it("is byte-identical on a rerun and whatever the input order", () => {
    const first = renderResearchIndex(files);
    expect(renderResearchIndex(files)).toBe(first);
    expect(renderResearchIndex([...files].reverse())).toBe(first);
    expect(renderResearchIndex([files[2]!, files[0]!, files[3]!, files[1]!])).toBe(first);
    // No date, time or anything but the files' own text.
    expect(first).not.toMatch(/\d{4}-\d{2}-\d{2}/);
  });

  it("skips the index itself, files outside docs/research/ and files that are not Markdown", () => {
    const out = renderResearchIndex([
      { path: "docs/research/INDEX.md", text: "# Hand-written index\n" },
      { path: "docs/knowledge/other.md", text: "# Other\n" },
      { path: "docs/research/data.csv", text: "a,b\n" },
      { path: "docs/research/UPPER.MD", text: "# Upper case extension\n" },
    ]);
    expect(out).not.toContain("Hand-written");
    expect(out).not.toContain("Other");
    expect(out).not.toContain("data.csv");
    expect(out).toContain("- [Upper case extension](UPPER.MD) — `docs/research/UPPER.MD`");
  });

  it("says so when there is nothing to list", () => {
    expect(renderResearchIndex([])).toBe(`${RESEARCH_INDEX_MARKER}\n\n# Research index\n\nNo research documents yet.\n`);
  });

  it("keeps unicode titles as written and sorts by UTF-8 bytes, as git does", () => {
    const out = renderResearchIndex([
      { path: "docs/research/émigré.md", text: "# Über die Caches — 缓存 🚀\n" },
      { path: "docs/research/Zed.md", text: "# Zed\n" },
      { path: "docs/research/a.md", text: "# Ä first letter\n" },
      { path: "docs/research/日本.md", text: "# 日本語のタイトル\n" },
    ]);
    const lines = out.split("\n").filter((l) => l.startsWith("- "));
    expect(lines).toEqual([
      "- [Zed](Zed.md) — `docs/research/Zed.md`",
      "- [Ä first letter](a.md) — `docs/research/a.md`",
      "- [Über die Caches — 缓存 🚀](%C3%A9migr%C3%A9.md) — `docs/research/émigré.md`",
      "- [日本語のタイトル](%E6%97%A5%E6%9C%AC.md) — `docs/research/日本.md`",
    ]);
  });

  it("keeps odd names one link: spaces, brackets, parentheses, #, ?, backticks and Markdown in titles", () => {
    const out = renderResearchIndex([
      { path: "docs/research/a file (draft) [v2]#1?.md", text: "# [Link](http://x) *bold* `code` <b>html</b> | pipe\n" },
      { path: "docs/research/back`tick.md", text: "no heading" },
    ]);
    const lines = out.split("\n").filter((l) => l.startsWith("- "));
    expect(lines[0]).toBe(
      "- [\\[Link\\](http://x) \\*bold\\* \\`code\\` \\<b\\>html\\</b\\> \\| pipe](a%20file%20%28draft%29%20%5Bv2%5D%231%3F.md) — `docs/research/a file (draft) [v2]#1?.md`",
    );
    expect(lines[1]).toBe("- [back\\`tick](back%60tick.md) — ``docs/research/back`tick.md``");
  });

  it("reads titles past code fences and setext headings; control characters never reach the output", () => {
    const out = renderResearchIndex([
      { path: "docs/research/fenced.md", text: "```\n# not a heading\n```\n\nReal title\n==========\n" },
      { path: "docs/research/ctl\u0007.md", text: "# bell\u0007 title\n" },
    ]);
    expect(out).toContain("- [Real title](fenced.md)");
    expect(out).not.toContain("\u0007");
    expect(out).toContain("- [bell  title](ctl%07.md)");
  });
});

describe("touchesResearch", () => {
  it("is any path under docs/research/, the index included", () => {
    expect(touchesResearch("docs/research/a.md")).toBe(true);
    expect(touchesResearch("docs/research/INDEX.md")).toBe(true);
    expect(touchesResearch("docs/research-notes.md")).toBe(false);
    expect(touchesResearch("docs/knowledge/a.md")).toBe(false);
  });
});
