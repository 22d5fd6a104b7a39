import { describe, expect, it } from "vitest";
import { checkCitation, decideFreshness, describeFreshness, fileLines, hashLines, resolveClaim } from "../../src/core/citation-check.js";
import type { KnowledgeCitation } from "../../src/core/knowledge-types.js";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const FILE = ["line 1", "line 2", "export function cached() {", "  return 42;", "}", "line 6"].join("\n") + "\n";

function cite(startLine: number, endLine: number, text = FILE, path = "src/x.ts"): KnowledgeCitation {
  return { path, startLine, endLine, commit: COMMIT, sha256: hashLines(fileLines(text).slice(startLine - 1, endLine)) };
}

describe("fileLines and hashLines", () => {
  it("counts a final newline as the end of the last line, and hashes lines joined with \\n", () => {
    expect(fileLines("a\nb\n")).toEqual(["a", "b"]);
    expect(fileLines("a\nb")).toEqual(["a", "b"]);
    expect(fileLines("")).toEqual([]);
    // `printf "a\nb" | sha256sum`
    expect(hashLines(["a", "b"])).toBe("7e18f737311b2dc3b2f269dd78396b0351f14fb66efa879f768cb23181883c78");
    expect(hashLines(["a", "b"])).not.toBe(hashLines(["a", "b", ""]));
  });
});

describe("resolveClaim", () => {
  const claim = { path: "src/x.ts", startLine: 3, endLine: 5, commit: "0123456", sha256: null };
  it("computes the sha256 of the cited lines at the commit, with the full commit id", () => {
    expect(resolveClaim(claim, { commit: COMMIT, text: FILE })).toEqual(cite(3, 5));
  });
  it("is invalid without the commit or file, past the file's end, or with a sha256 that does not match", () => {
    expect(resolveClaim(claim, { error: "commit 0123456 is not in the repository" })).toEqual({ invalid: "commit 0123456 is not in the repository" });
    expect(resolveClaim({ ...claim, endLine: 7 }, { commit: COMMIT, text: FILE })).toMatchObject({ invalid: expect.stringContaining("has 6 lines") });
    expect(resolveClaim({ ...claim, sha256: "0".repeat(64) }, { commit: COMMIT, text: FILE })).toMatchObject({ invalid: expect.stringContaining("sha256") });
    expect(resolveClaim({ ...claim, sha256: cite(3, 5).sha256 }, { commit: COMMIT, text: FILE })).toEqual(cite(3, 5));
  });
});

describe("checkCitation", () => {
  it("is current when the same lines hash the same at the head", () => {
    expect(checkCitation(cite(3, 5), { path: "src/x.ts", text: FILE })).toMatchObject({
      status: "current",
      moved: false,
      at: { path: "src/x.ts", startLine: 3, endLine: 5 },
    });
  });

  it("finds the block at a new position when lines were added above it", () => {
    const shifted = "new 1\nnew 2\n" + FILE;
    expect(checkCitation(cite(3, 5), { path: "src/x.ts", text: shifted })).toMatchObject({ status: "current", moved: true, at: { startLine: 5, endLine: 7 } });
  });

  it("finds the block in the file it was renamed to", () => {
    expect(checkCitation(cite(3, 5), { path: "src/renamed.ts", text: FILE })).toMatchObject({
      status: "current",
      moved: true,
      at: { path: "src/renamed.ts", startLine: 3 },
    });
  });

  it("takes the copy nearest the old position when the block occurs twice", () => {
    const twice = ["x", "x", "A", "B", "x", "x", "x", "x", "A", "B"].join("\n");
    const citation = { ...cite(3, 4, twice), startLine: 8, endLine: 9 };
    expect(checkCitation(citation, { path: "src/x.ts", text: "y\n" + twice })).toMatchObject({ status: "current", at: { startLine: 10, endLine: 11 } });
  });

  it("is stale when a cited line changed, and when the file is gone", () => {
    const edited = FILE.replace("return 42;", "return 43;");
    const changed = checkCitation(cite(3, 5), { path: "src/x.ts", text: edited });
    expect(changed).toMatchObject({ status: "stale", reason: "changed" });
    expect(changed.status === "stale" && changed.why).toContain("src/x.ts:3-5");
    expect(checkCitation(cite(3, 5), { path: null, text: null })).toMatchObject({ status: "stale", reason: "deleted" });
    // Lines outside the cited range may change freely.
    expect(checkCitation(cite(3, 5), { path: "src/x.ts", text: FILE.replace("line 6", "changed") })).toMatchObject({ status: "current", moved: false });
  });
});

describe("decideFreshness", () => {
  const current = checkCitation(cite(3, 5), { path: "src/x.ts", text: FILE });
  const stale = checkCitation(cite(1, 2), { path: "src/x.ts", text: "other\n" });
  it("is invalid before stale before current", () => {
    expect(decideFreshness({ id: "d" }, [current, stale], ["citation 3: commit abc is not in the repository"]).status).toBe("invalid");
    const s = decideFreshness({ id: "d" }, [current, stale]);
    expect(s.status).toBe("stale");
    expect(s.status === "stale" && s.stale.map((v) => v.citation.startLine)).toEqual([1]);
    expect(describeFreshness(s)).toMatch(/^possibly stale: /);
    expect(decideFreshness({ id: "d" }, [current]).status).toBe("current");
    expect(decideFreshness({ id: "d" }, [])).toEqual({ id: "d", status: "current", citations: [] });
  });
});
